-- Rows this run claimed earlier and has not settled yet (a recomputed plan keeps them).
SELECT log_id, id_cliente, operation_type, change_timestamp, attempts
FROM f_cliente.sync_log_bitrix24
WHERE sync_status = 'CLAIMED' AND claimed_by = %(run_id)s
ORDER BY log_id;
