-- Active Glyms services with the price in force for the contract configured for their work-order
-- type: valor_unico of the newest fecha_version for (contract, service code). Only columns of the
-- Glyms schema contract are read (glyms_b24_pipeline/glyms/contract.py).
--
-- Two versions of one (contract, code) on the same date: the higher valor_unico is in force (a
-- version without a value only when no version of that date has one). The rule reads nothing but
-- the versions' own values, never the order the server returns rows in or a row id, so the same
-- rows give the same price on every run and a price is never rewritten back and forth;
-- precio_valores_en_fecha counts the different values of that date (more than one: a warning).
-- Codes are compared as text, and a blank code looks up no price (it would match blank codes).
-- %(tipo_ot_ids)s and %(contract_ids)s are parallel arrays (services.contracts_by_tipo_ot).
WITH contract_by_tipo_ot AS (
    SELECT m.id_tipo_ot, m.id_contrato
    FROM unnest(%(tipo_ot_ids)s::integer[], %(contract_ids)s::integer[]) AS m(id_tipo_ot, id_contrato)
),
version_rank AS (
    SELECT cp.id_contrato, cp.codigo_presta::text AS codigo, cp.valor_unico, cp.fecha_version,
           rank() OVER (PARTITION BY cp.id_contrato, cp.codigo_presta::text
                        ORDER BY cp.fecha_version DESC NULLS LAST) AS recency
    FROM public.contrato_presta cp
    WHERE cp.id_contrato = ANY(%(contract_ids)s::integer[])
),
price AS (
    SELECT v.id_contrato, v.codigo, max(v.valor_unico) AS valor_unico, max(v.fecha_version) AS fecha_version,
           count(DISTINCT v.valor_unico) AS values_on_date
    FROM version_rank v
    WHERE v.recency = 1
    GROUP BY v.id_contrato, v.codigo
)
SELECT a.id_prestacion,
       a.codigo,
       a.descripcion,
       a.comentario,
       a.activa,
       a.id_tipo_ot,
       c.id_contrato,
       price.valor_unico AS precio,
       price.fecha_version AS precio_fecha_version,
       coalesce(price.values_on_date, 0) AS precio_valores_en_fecha
FROM lims.v_prestacion_max_version a
LEFT JOIN contract_by_tipo_ot c ON c.id_tipo_ot = a.id_tipo_ot
LEFT JOIN price ON price.id_contrato = c.id_contrato
               AND price.codigo = a.codigo::text
               AND btrim(a.codigo::text) <> ''
WHERE a.activa = 1
ORDER BY a.id_prestacion;
