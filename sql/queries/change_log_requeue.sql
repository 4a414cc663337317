-- Put rows in ERROR back to PENDING with a fresh count of attempts (glyms-b24 requeue).
-- %(log_ids)s / %(customer_ids)s narrow it (NULL = every row in ERROR); parked_only keeps
-- rows that failed permanently (invalid data) out unless asked. target_missing also takes the
-- TARGET_MISSING rows (the legacy script's lost updates: a company was missing when they came),
-- which the next companies sync then settles truthfully (a company written, or still missing).
UPDATE f_cliente.sync_log_bitrix24
SET sync_status = 'PENDING', attempts = 0, next_attempt_at = NULL, error_message = NULL,
    processed_timestamp = NULL
WHERE ((sync_status = 'ERROR' AND (NOT %(parked_only)s OR attempts >= %(max_attempts)s))
       OR (%(target_missing)s AND sync_status = 'TARGET_MISSING'))
  AND (%(log_ids)s::integer[] IS NULL OR log_id = ANY(%(log_ids)s::integer[]))
  AND (%(customer_ids)s::integer[] IS NULL OR id_cliente = ANY(%(customer_ids)s::integer[]))
RETURNING log_id, id_cliente;
