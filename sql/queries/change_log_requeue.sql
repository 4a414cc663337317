-- Put rows in ERROR back to PENDING with a fresh count of attempts (glyms-b24 requeue).
-- %(log_ids)s / %(customer_ids)s narrow it (NULL = every row in ERROR); parked_only keeps
-- rows that failed permanently (invalid data) out unless asked.
UPDATE f_cliente.sync_log_bitrix24
SET sync_status = 'PENDING', attempts = 0, next_attempt_at = NULL, error_message = NULL,
    processed_timestamp = NULL
WHERE sync_status = 'ERROR'
  AND (%(log_ids)s::integer[] IS NULL OR log_id = ANY(%(log_ids)s::integer[]))
  AND (%(customer_ids)s::integer[] IS NULL OR id_cliente = ANY(%(customer_ids)s::integer[]))
  AND (NOT %(parked_only)s OR attempts >= %(max_attempts)s)
RETURNING log_id, id_cliente;
