-- Customer types in use: each needs an INDUSTRY in companies.industry_by_cliente_tipo.
SELECT c.id_cliente_tipo AS value, count(*) AS rows
FROM public.cliente c
WHERE c.id_cliente_tipo IS NOT NULL
GROUP BY c.id_cliente_tipo
ORDER BY c.id_cliente_tipo;
