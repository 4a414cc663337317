-- Our own picture of Glyms for the sandbox and the benchmarks: versioned services under the view,
-- a contracts table, row ids. It holds more than a lab's database is known to have; the product
-- reads only what the Glyms schema contract names (glyms_b24_pipeline/glyms/contract.py), and the
-- default test suite runs on a database built from the contract alone, not on this one.
CREATE SCHEMA IF NOT EXISTS lims;
CREATE SCHEMA IF NOT EXISTS f_cliente;

-- Services are versioned: each edit of a "prestacion" adds a version row.
CREATE TABLE IF NOT EXISTS lims.prestacion (
    id_prestacion INTEGER NOT NULL,
    version INTEGER NOT NULL,
    codigo VARCHAR(30) NOT NULL,
    descripcion VARCHAR(500) NULL,
    comentario TEXT NULL,
    activa SMALLINT NOT NULL DEFAULT 1,
    id_tipo_ot INTEGER NULL,
    fecha_version TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id_prestacion, version)
);

CREATE OR REPLACE VIEW lims.v_prestacion_max_version AS
SELECT DISTINCT ON (p.id_prestacion)
       p.id_prestacion, p.version, p.codigo, p.descripcion, p.comentario, p.activa,
       p.id_tipo_ot, p.fecha_version
FROM lims.prestacion p
ORDER BY p.id_prestacion, p.version DESC;

CREATE TABLE IF NOT EXISTS public.contrato (
    id_contrato INTEGER PRIMARY KEY,
    nombre VARCHAR(200) NOT NULL,
    id_tipo_ot INTEGER NULL,
    contrato_base BOOLEAN NOT NULL DEFAULT FALSE
);

-- Price history: the price in force is the newest fecha_version per (contract, service code).
CREATE TABLE IF NOT EXISTS public.contrato_presta (
    id_contrato_presta SERIAL PRIMARY KEY,
    id_contrato INTEGER NOT NULL,
    codigo_presta VARCHAR(30) NOT NULL,
    valor_unico NUMERIC(14, 2) NULL,
    fecha_version TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_contrato_presta_lookup
    ON public.contrato_presta (id_contrato, codigo_presta, fecha_version DESC);

CREATE TABLE IF NOT EXISTS public.cliente (
    id_cliente SERIAL PRIMARY KEY,
    codigo VARCHAR(30) NULL,
    razon_social VARCHAR(500) NULL,
    nombre_fantasia VARCHAR(500) NULL,
    direccion VARCHAR(500) NULL,
    telefono VARCHAR(100) NULL,
    mail VARCHAR(300) NULL,
    observaciones TEXT NULL,
    id_tipo_ot INTEGER NULL,
    id_cliente_tipo INTEGER NULL
);
