-- Give back, unchanged and without counting an attempt, the rows this run claimed but did not settle.
UPDATE f_cliente.sync_log_bitrix24
SET sync_status = 'PENDING', claimed_at = NULL, claimed_by = NULL
WHERE sync_status = 'CLAIMED' AND claimed_by = %(run_id)s
RETURNING log_id;
