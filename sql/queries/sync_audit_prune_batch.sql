-- Retention: delete one batch of audit rows recorded before the cutoff, oldest first
-- (ix_sync_audit_recorded); the caller repeats until a batch comes back short.
WITH doomed AS (
    SELECT audit_id
    FROM glyms_b24.sync_audit
    WHERE recorded_at < %(cutoff)s
    ORDER BY recorded_at
    LIMIT %(batch)s
)
DELETE FROM glyms_b24.sync_audit a
USING doomed d
WHERE a.audit_id = d.audit_id;
