-- Work-order types of the customers: each needs a COMPANY_TYPE in companies.company_type_by_tipo_ot.
-- Every customer counts: the change log can name any of them.
SELECT c.id_tipo_ot AS value, count(*) AS rows
FROM public.cliente c
WHERE c.id_tipo_ot IS NOT NULL
GROUP BY c.id_tipo_ot
ORDER BY c.id_tipo_ot;
