-- Active Glyms services with the price in force for the contract configured for their
-- work-order type: valor_unico of the newest fecha_version for (contract, service code),
-- the last entered (id_contrato_presta) when two versions share that date.
-- %(tipo_ot_ids)s and %(contract_ids)s are parallel arrays (services.contracts_by_tipo_ot).
WITH contract_by_tipo_ot AS (
    SELECT m.id_tipo_ot, m.id_contrato
    FROM unnest(%(tipo_ot_ids)s::integer[], %(contract_ids)s::integer[]) AS m(id_tipo_ot, id_contrato)
),
active AS (
    SELECT p.id_prestacion, p.codigo, p.descripcion, p.comentario, p.activa, p.id_tipo_ot
    FROM lims.v_prestacion_max_version p
    WHERE p.activa = 1
)
SELECT a.id_prestacion,
       a.codigo,
       a.descripcion,
       a.comentario,
       a.activa,
       a.id_tipo_ot,
       c.id_contrato,
       price.valor_unico AS precio,
       price.fecha_version AS precio_fecha_version
FROM active a
LEFT JOIN contract_by_tipo_ot c ON c.id_tipo_ot = a.id_tipo_ot
LEFT JOIN LATERAL (
    SELECT cp.valor_unico, cp.fecha_version
    FROM public.contrato_presta cp
    WHERE cp.id_contrato = c.id_contrato
      AND cp.codigo_presta = a.codigo
    -- two versions with the same date: the one entered last wins, the same one on every run
    -- (without the tie-break the price could flip between runs and be rewritten each time)
    ORDER BY cp.fecha_version DESC, cp.id_contrato_presta DESC
    LIMIT 1
) price ON TRUE
ORDER BY a.id_prestacion;
