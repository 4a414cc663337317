-- Rows a run could not write (invalid data, duplicates, missing targets), recorded only when the
-- reason first appears or changes for that key: a row that stays invalid is not repeated every run.
WITH incoming AS (
    SELECT r.entity, r.glyms_key, r.bitrix_id, r.operation, r.error, r.n
    FROM unnest(%(entity)s::text[], %(glyms_key)s::text[], %(bitrix_id)s::text[], %(operation)s::text[],
                %(error)s::text[])
         WITH ORDINALITY AS r(entity, glyms_key, bitrix_id, operation, error, n)
),
latest AS (
    SELECT DISTINCT ON (a.entity, a.glyms_key) a.entity, a.glyms_key, a.operation, a.outcome, a.error
    FROM glyms_b24.sync_audit a
    JOIN incoming i ON a.entity = i.entity AND a.glyms_key = i.glyms_key
    ORDER BY a.entity, a.glyms_key, a.audit_id DESC
)
INSERT INTO glyms_b24.sync_audit (run_id, entity, glyms_key, bitrix_id, operation, outcome, error)
SELECT %(run_id)s, i.entity, i.glyms_key, i.bitrix_id, i.operation, 'skipped', i.error
FROM incoming i
LEFT JOIN latest l ON l.entity = i.entity AND l.glyms_key = i.glyms_key
WHERE l.entity IS NULL
   OR l.outcome <> 'skipped'
   OR l.operation IS DISTINCT FROM i.operation
   OR l.error IS DISTINCT FROM i.error
ORDER BY i.n
RETURNING audit_id;
