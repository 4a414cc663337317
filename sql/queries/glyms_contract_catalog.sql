-- The Glyms schema contract against this database's catalog (glyms_b24_pipeline/glyms/contract.py):
-- one row per column of each contract relation that exists (a relation without columns: one row,
-- column_name NULL), with the column's base type (a domain resolved to the type under it) and what
-- the connected role may do. Tables, views, materialised views and foreign tables all count.
-- %(objects)s: schema-qualified names, e.g. {lims.v_prestacion_max_version,public.cliente}.
SELECT n.nspname || '.' || c.relname AS object_name,
       a.attname::text AS column_name,
       bt.typname::text AS base_type,
       format_type(a.atttypid, a.atttypmod) AS type_shown,
       CASE WHEN a.attnum IS NULL THEN NULL ELSE has_column_privilege(c.oid, a.attnum, 'SELECT') END AS readable,
       has_table_privilege(c.oid, 'UPDATE') AS can_update
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND n.nspname || '.' || c.relname = ANY(%(objects)s::text[])
ORDER BY 1, a.attnum;
