-- The outcome of writes recorded as 'sent' (parallel arrays keyed by audit id).
UPDATE glyms_b24.sync_audit a
SET outcome = u.outcome,
    error = u.error,
    bitrix_id = COALESCE(u.bitrix_id, a.bitrix_id),
    settled_at = CURRENT_TIMESTAMP
FROM unnest(%(audit_id)s::bigint[], %(outcome)s::text[], %(error)s::text[], %(bitrix_id)s::text[])
     AS u(audit_id, outcome, error, bitrix_id)
WHERE a.audit_id = u.audit_id;
