-- The current rows of the customers a claim touches (a customer absent here was deleted).
SELECT id_cliente, codigo, razon_social, nombre_fantasia, direccion, telefono, mail, observaciones,
       id_tipo_ot, id_cliente_tipo
FROM public.cliente
WHERE id_cliente = ANY(%(ids)s::integer[])
ORDER BY id_cliente;
