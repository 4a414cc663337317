-- Inventory of every object install-sql creates; one row per object with present = true/false.
WITH expected(kind, name) AS (
    VALUES
        ('schema', 'f_cliente'),
        ('schema', 'glyms_b24'),
        ('table', 'f_cliente.sync_log_bitrix24'),
        ('table', 'glyms_b24.oauth_token'),
        ('table', 'glyms_b24.sync_audit'),
        ('table', 'glyms_b24.portal_writer'),
        ('column', 'f_cliente.sync_log_bitrix24.attempts'),
        ('column', 'f_cliente.sync_log_bitrix24.claimed_at'),
        ('column', 'f_cliente.sync_log_bitrix24.claimed_by'),
        ('column', 'f_cliente.sync_log_bitrix24.next_attempt_at'),
        ('column', 'f_cliente.sync_log_bitrix24.bitrix_company_id'),
        ('column', 'f_cliente.sync_log_bitrix24.dagster_run_id'),
        ('column', 'glyms_b24.sync_audit.settled_at'),
        ('column', 'glyms_b24.portal_writer.bucket_level'),
        ('column', 'glyms_b24.portal_writer.bucket_at'),
        ('index', 'f_cliente.ix_sync_log_bitrix24_pending'),
        ('index', 'f_cliente.ix_sync_log_bitrix24_cliente'),
        ('index', 'f_cliente.ix_sync_log_bitrix24_claimed'),
        ('index', 'f_cliente.ix_sync_log_bitrix24_error'),
        ('function', 'f_cliente.fn_log_btrix24_cliente_changes'),
        ('trigger', 'public.cliente.trg_cliente_sync_b24_insert'),
        ('trigger', 'public.cliente.trg_cliente_sync_b24_update'),
        ('trigger', 'public.cliente.trg_cliente_sync_b24_delete')
)
SELECT e.kind, e.name,
       CASE e.kind
           WHEN 'schema' THEN EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = e.name)
           WHEN 'table' THEN to_regclass(e.name) IS NOT NULL
           WHEN 'index' THEN to_regclass(e.name) IS NOT NULL
           WHEN 'column' THEN EXISTS (
               SELECT 1 FROM information_schema.columns c
               WHERE c.table_schema || '.' || c.table_name || '.' || c.column_name = e.name)
           WHEN 'function' THEN EXISTS (
               SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname || '.' || p.proname = e.name)
           WHEN 'trigger' THEN EXISTS (
               SELECT 1 FROM pg_trigger t
               JOIN pg_class c ON c.oid = t.tgrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE NOT t.tgisinternal AND t.tgenabled <> 'D'
                 AND n.nspname || '.' || c.relname || '.' || t.tgname = e.name)
       END AS present
FROM expected e;
