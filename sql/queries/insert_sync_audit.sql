-- Audit rows of one run, in the order given (parallel arrays; audit ids come back ascending
-- in that same order). A write is recorded as 'sent' before it goes out and settled after.
INSERT INTO glyms_b24.sync_audit (run_id, entity, glyms_key, bitrix_id, operation, outcome, error, detail)
SELECT %(run_id)s, r.entity, r.glyms_key, r.bitrix_id, r.operation, r.outcome, r.error, r.detail::jsonb
FROM unnest(%(entity)s::text[], %(glyms_key)s::text[], %(bitrix_id)s::text[], %(operation)s::text[],
            %(outcome)s::text[], %(error)s::text[], %(detail)s::text[])
     WITH ORDINALITY AS r(entity, glyms_key, bitrix_id, operation, outcome, error, detail, n)
ORDER BY r.n
RETURNING audit_id;
