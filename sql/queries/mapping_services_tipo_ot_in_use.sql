-- Work-order types of the services the sync writes (active ones): each needs a catalog
-- section and a price contract in services.*_by_tipo_ot.
SELECT p.id_tipo_ot AS value, count(*) AS rows
FROM lims.v_prestacion_max_version p
WHERE p.activa = %(active)s
  AND p.id_tipo_ot IS NOT NULL
GROUP BY p.id_tipo_ot
ORDER BY p.id_tipo_ot;
