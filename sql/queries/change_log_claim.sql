-- Claim the oldest due PENDING rows for this run. By status, never by an id watermark: rows
-- locked by a run claiming at the same moment are skipped, so two runs never take the same
-- row, and rows that arrive during a run stay PENDING for the next one.
WITH picked AS (
    SELECT log_id
    FROM f_cliente.sync_log_bitrix24
    WHERE sync_status = 'PENDING'
      AND (next_attempt_at IS NULL OR next_attempt_at <= CURRENT_TIMESTAMP)
    ORDER BY log_id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE f_cliente.sync_log_bitrix24 l
SET sync_status = 'CLAIMED', claimed_at = CURRENT_TIMESTAMP, claimed_by = %(run_id)s, dagster_run_id = %(run_id)s
FROM picked
WHERE l.log_id = picked.log_id
RETURNING l.log_id, l.id_cliente, l.operation_type, l.change_timestamp, l.attempts;
