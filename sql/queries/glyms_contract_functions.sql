-- Which of the contract's functions exist, e.g. %(functions)s = {f_cliente.fn_log_btrix24_cliente_changes}.
SELECT DISTINCT n.nspname || '.' || p.proname AS name
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname || '.' || p.proname = ANY(%(functions)s::text[]);
