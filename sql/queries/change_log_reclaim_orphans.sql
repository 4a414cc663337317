-- Claims are only taken by the portal's writer, so while this run holds the writer lock every
-- claim of another run belongs to a run that died: its rows go back to PENDING at once.
UPDATE f_cliente.sync_log_bitrix24
SET sync_status = 'PENDING', claimed_at = NULL, claimed_by = NULL
WHERE sync_status = 'CLAIMED' AND claimed_by IS DISTINCT FROM %(run_id)s
RETURNING log_id;
