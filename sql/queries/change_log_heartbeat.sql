-- A run still working renews its claims, so the lease only ever returns rows of a run that died.
UPDATE f_cliente.sync_log_bitrix24
SET claimed_at = CURRENT_TIMESTAMP
WHERE sync_status = 'CLAIMED' AND claimed_by = %(run_id)s;
