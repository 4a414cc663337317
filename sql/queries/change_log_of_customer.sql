-- glyms-b24 explain customer ID: the newest change-log rows of one customer, whatever their status.
SELECT log_id, operation_type, change_timestamp, sync_status, processed_timestamp, error_message, attempts,
       next_attempt_at, claimed_by, bitrix_company_id, dagster_run_id
FROM f_cliente.sync_log_bitrix24
WHERE id_cliente = %(id_cliente)s
ORDER BY log_id DESC
LIMIT %(limit)s;
