-- Claims older than the lease belong to a run that died: their rows go back to PENDING.
UPDATE f_cliente.sync_log_bitrix24
SET sync_status = 'PENDING', claimed_at = NULL, claimed_by = NULL
WHERE sync_status = 'CLAIMED'
  AND claimed_at < CURRENT_TIMESTAMP - make_interval(secs => %(lease_seconds)s)
RETURNING log_id;
