-- glyms-b24 explain service KEY: the rows of active_services.sql (same price rule, same columns, plus
-- activa) of the service whose id_prestacion or codigo is KEY, active or not, and the active services
-- that share its codigo (the sync warns that they share a price). Only contracted columns are read.
-- %(tipo_ot_ids)s and %(contract_ids)s are parallel arrays (services.contracts_by_tipo_ot).
WITH asked AS (
    SELECT v.id_prestacion, v.codigo
    FROM lims.v_prestacion_max_version v
    WHERE v.id_prestacion::text = %(key)s OR btrim(v.codigo::text) = %(key)s
),
contract_by_tipo_ot AS (
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
WHERE a.id_prestacion IN (SELECT asked.id_prestacion FROM asked)
   OR (a.activa = 1 AND btrim(a.codigo::text) <> ''
       AND a.codigo::text IN (SELECT asked.codigo::text FROM asked))
ORDER BY a.id_prestacion;
