-- glyms-b24 audit: the newest audit rows matching the operator's filters (a NULL filter is off).
SELECT audit_id, recorded_at, settled_at, run_id, entity, glyms_key, bitrix_id, operation, outcome, error
FROM glyms_b24.sync_audit
WHERE (%(since)s::timestamptz IS NULL OR recorded_at >= %(since)s::timestamptz)
  AND (%(outcome)s::text IS NULL OR outcome = %(outcome)s::text)
  AND (%(glyms_key)s::text IS NULL OR glyms_key = %(glyms_key)s::text)
  AND (%(entity)s::text IS NULL OR entity = %(entity)s::text)
  AND (%(run_id)s::text IS NULL OR run_id = %(run_id)s::text)
ORDER BY recorded_at DESC, audit_id DESC
LIMIT %(limit)s;
