-- One row per write attempted (or row skipped) by a sync run.
INSERT INTO glyms_b24.sync_audit (run_id, entity, glyms_key, bitrix_id, operation, outcome, error, detail)
VALUES (%(run_id)s, %(entity)s, %(glyms_key)s, %(bitrix_id)s, %(operation)s, %(outcome)s, %(error)s, %(detail)s::jsonb);
