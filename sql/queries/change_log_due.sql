-- What the pending-log sensor needs, read from the partial index of PENDING rows only (the
-- processed millions are never touched): due rows, the oldest due change, the newest due row.
SELECT count(*) AS due, min(change_timestamp) AS oldest, max(log_id) AS last_log_id
FROM f_cliente.sync_log_bitrix24
WHERE sync_status = 'PENDING'
  AND (next_attempt_at IS NULL OR next_attempt_at <= CURRENT_TIMESTAMP);
