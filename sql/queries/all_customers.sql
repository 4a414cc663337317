-- Every Glyms customer, for the reconciliation (streamed in id order).
SELECT id_cliente, codigo, razon_social, nombre_fantasia, direccion, telefono, mail, observaciones,
       id_tipo_ot, id_cliente_tipo
FROM public.cliente
ORDER BY id_cliente;
