"""Seeded, realistic Glyms data for the sandbox, tests and benchmarks.

Spanish/Argentine laboratory services and customers, price history with several versions
per contract, and a share of dirty rows such as real LIMS data has.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Optional

import psycopg2
import psycopg2.extras

# Contracts priced in Bitrix24 (legacy: clínica 14, industria 259, veterinaria 371) plus a
# base contract whose prices must never leak into the sync.
CONTRACTS = [
    (1, "Contrato base", None, True),
    (14, "Clínica - particulares", 1, False),
    (259, "Industria - alimentos y aguas", 2, False),
    (371, "Veterinaria - pequeños y grandes animales", 3, False),
]
CONTRACT_BY_TIPO_OT = {1: 14, 2: 259, 3: 371}

_ANALYTES = {
    1: ["Hemograma completo", "Glucemia en ayunas", "Perfil lipídico", "Uremia", "Creatininemia",
        "Hepatograma", "TSH", "T4 libre", "Hemoglobina glicosilada", "Orina completa", "Urocultivo",
        "Coagulograma", "Ionograma", "Ferritina", "Vitamina D", "PSA total", "Beta-hCG cuantitativa",
        "Proteína C reactiva", "Eritrosedimentación", "Grupo y factor"],
    2: ["Recuento de aerobios mesófilos", "Coliformes totales", "Escherichia coli", "Salmonella spp.",
        "Listeria monocytogenes", "Análisis fisicoquímico de agua", "Arsénico en agua", "Nitratos",
        "Metales pesados", "Humedad", "Cenizas", "Proteínas (Kjeldahl)", "Aflatoxinas", "pH",
        "Dureza total", "Cloro residual", "Hongos y levaduras", "Staphylococcus aureus"],
    3: ["Hemograma veterinario", "Brucelosis (BPA)", "Leucosis bovina", "Parasitológico de materia fecal",
        "Perfil renal canino", "Perfil hepático felino", "Leptospirosis", "Tuberculina", "Mastitis - recuento celular",
        "Coproparasitológico equino", "Moquillo canino", "Parvovirus", "Antibiograma veterinario"],
}
_QUALIFIERS = ["", "", "", " - urgente", " - método automatizado", " (muestra única)", " - confirmatorio",
               " con recuento diferencial", " - panel ampliado", " (por duplicado)"]
_COMMENTS = [None, None, "Requiere ayuno de 8 horas.", "Muestra refrigerada a 4 °C.",
             "Resultado en 48 h hábiles.", "Enviar en frasco estéril.", "Incluye informe firmado por bioquímico.",
             "Método acreditado ISO 17025.", ""]

_COMPANY_KINDS = ["Laboratorio", "Clínica", "Sanatorio", "Frigorífico", "Veterinaria", "Establecimiento",
                  "Industrias Lácteas", "Cooperativa Agrícola", "Aguas", "Centro Médico", "Estancia", "Molinos"]
_SURNAMES = ["Pérez", "González", "Rodríguez", "Fernández", "López", "Martínez", "Gómez", "Díaz", "Sánchez",
             "Romero", "Sosa", "Álvarez", "Torres", "Ruiz", "Ramírez", "Flores", "Benítez", "Acosta", "Medina",
             "Herrera", "Suárez", "Aguirre", "Giménez", "Gutiérrez", "Pereyra", "Rojas", "Molina", "Castro"]
_PLACES = ["del Sur", "Pampeana", "del Litoral", "Rosario", "Córdoba", "Mendoza", "San Martín", "Patagonia",
           "Río Cuarto", "La Plata", "Tandil", "Rafaela", "Paraná", "Salta", "Neuquén"]
_SUFFIXES = ["S.A.", "S.R.L.", "S.A.S.", "y Cía.", "Hnos.", ""]
_STREETS = ["Av. Corrientes", "San Martín", "Belgrano", "Av. Pellegrini", "Mitre", "Sarmiento", "Rivadavia",
            "Bv. Oroño", "9 de Julio", "Av. Colón", "Urquiza", "Moreno"]
_CITIES = ["Rosario, Santa Fe", "Córdoba", "CABA", "Mendoza", "La Plata, Buenos Aires", "Paraná, Entre Ríos",
           "Rafaela, Santa Fe", "Tandil, Buenos Aires", "Neuquén"]
_MAIL_DOMAINS = ["gmail.com", "hotmail.com", "yahoo.com.ar", "fibertel.com.ar", "empresa.com.ar", "outlook.com"]
_INVALID_MAILS = ["sin mail", "info@", "contacto@empresa", "ventas@@lab.com", "   ", "", "juan perez@gmail.com",
                  "admin@empresa.com.ar; compras@empresa.com.ar"]
_NON_LATIN = ["Лаборатория Восток", "株式会社 東京ラボ", "Εργαστήριο Αθηνών", "مختبر الشرق", "Ensayo β-hCG — ★"]


@dataclass
class SeedSummary:
    services: int = 0
    active_services: int = 0
    price_rows: int = 0
    customers: int = 0
    dirty_services: list[int] = field(default_factory=list)
    dirty_customers: list[int] = field(default_factory=list)


def _service_rows(rng: random.Random, count: int, dirty_share: float, summary: SeedSummary, first_id: int):
    base_date = datetime(2023, 1, 1)
    for offset in range(count):
        id_prestacion = first_id + offset
        tipo_ot: Optional[int] = rng.choice([1, 1, 1, 2, 2, 3])
        codigo = f"{'CIV'[(tipo_ot or 1) - 1]}{id_prestacion:05d}"
        descripcion: Optional[str] = rng.choice(_ANALYTES[tipo_ot or 1]) + rng.choice(_QUALIFIERS)
        comentario = rng.choice(_COMMENTS)
        activa = 0 if rng.random() < 0.05 else 1
        if rng.random() < dirty_share:
            summary.dirty_services.append(id_prestacion)
            kind = rng.randrange(6)
            if kind == 0:
                descripcion = rng.choice(["", "   ", None])
            elif kind == 1:
                descripcion = f"  {descripcion}   "
            elif kind == 2:
                comentario = "Observación extensa: " + "muestra procesada según protocolo interno. " * 40
            elif kind == 3:
                descripcion = rng.choice(_NON_LATIN)
            elif kind == 4:
                tipo_ot = rng.choice([9, None])
            else:
                codigo = f"SINPRECIO{id_prestacion}"  # no price row will match this code
        versions = rng.choice([1, 1, 2, 3])
        for version in range(1, versions + 1):
            old = version < versions
            yield (
                id_prestacion,
                version,
                codigo,
                (descripcion + " (versión anterior)") if old and descripcion else descripcion,
                comentario,
                activa,
                tipo_ot,
                base_date + timedelta(days=30 * version + offset % 30),
            )
        summary.services += 1
        summary.active_services += activa


def _price_rows(rng: random.Random, services: list[tuple]):
    latest = {}
    for row in services:
        latest[row[0]] = row  # last version wins
    for _id_prestacion, _version, codigo, _d, _c, _a, tipo_ot, _f in latest.values():
        if codigo.startswith("SINPRECIO"):
            continue
        contract = CONTRACT_BY_TIPO_OT.get(tipo_ot)
        contracts = [1] + ([contract] if contract else [])
        for id_contrato in contracts:
            price = Decimal(rng.randrange(1500, 250_000)) / Decimal(10)
            when = datetime(2024, 1, 1) + timedelta(days=rng.randrange(0, 60))
            for _ in range(rng.choice([1, 2, 3, 4])):
                yield (id_contrato, codigo, price.quantize(Decimal("0.01")), when)
                price = price * Decimal(rng.choice(["1.05", "1.10", "1.25", "0.95"]))
                when += timedelta(days=rng.randrange(20, 120))


def _customer_rows(rng: random.Random, count: int, dirty_share: float, summary: SeedSummary):
    for index in range(count):
        surname = rng.choice(_SURNAMES)
        razon_social: Optional[str] = f"{rng.choice(_COMPANY_KINDS)} {surname} {rng.choice(_PLACES)} {rng.choice(_SUFFIXES)}".strip()
        nombre_fantasia = rng.choice([None, f"{surname} {rng.choice(_PLACES)}", f"Lab {surname}"])
        slug = surname.lower().translate(str.maketrans("áéíóúñ", "aeioun"))
        mail = rng.choice([f"contacto@{slug}.com.ar", f"{slug}.{index}@{rng.choice(_MAIL_DOMAINS)}", None])
        telefono = rng.choice([f"+54 341 {rng.randrange(4000000, 4999999)}", f"0351-{rng.randrange(4000000, 4999999)}", None])
        direccion = f"{rng.choice(_STREETS)} {rng.randrange(100, 4000)}, {rng.choice(_CITIES)}"
        observaciones = rng.choice([None, None, "Cliente de larga data.", "Pago a 30 días.", "BLOQUEADO por deuda",
                                    "Cuenta bloqueada temporalmente", ""])
        id_tipo_ot: Optional[int] = rng.choice([1, 1, 2, 3])
        id_cliente_tipo: Optional[int] = rng.choice([7, 9, 10, 11, 12, 20, 26, 30, 40])
        dirty = rng.random() < dirty_share
        if dirty:
            kind = rng.randrange(6)
            if kind == 0:
                mail = rng.choice(_INVALID_MAILS)
            elif kind == 1:
                razon_social = rng.choice(["", "   ", None])
            elif kind == 2:
                razon_social = f"   {razon_social}  "
                mail = f"  {mail or 'info@lab.com.ar'} "
            elif kind == 3:
                observaciones = "Historial: " + "visita comercial registrada sin novedades; " * 60
            elif kind == 4:
                razon_social = rng.choice(_NON_LATIN)
            else:
                id_tipo_ot, id_cliente_tipo = rng.choice([(8, 99), (None, None), (1, 55)])
        yield (f"C{index + 1:05d}", razon_social, nombre_fantasia, direccion, telefono, mail, observaciones,
               id_tipo_ot, id_cliente_tipo, dirty)


def seed_glyms(dsn: str, *, services: int = 300, customers: int = 100, seed: int = 42,
               dirty_share: float = 0.08, first_service_id: int = 1) -> SeedSummary:
    """Insert ``services`` services (with price history) and ``customers`` customers.

    The same ``seed`` always gives the same data. Customers are inserted through the
    triggers when they are installed, so they appear as PENDING change-log rows.
    """
    rng = random.Random(seed)
    summary = SeedSummary()
    service_rows = list(_service_rows(rng, services, dirty_share, summary, first_service_id))
    price_rows = list(_price_rows(rng, service_rows))
    customer_rows = list(_customer_rows(rng, customers, dirty_share, summary))
    summary.price_rows = len(price_rows)
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            insert_contracts(cur)
            insert_services(cur, service_rows)
            psycopg2.extras.execute_values(
                cur,
                "INSERT INTO public.contrato_presta (id_contrato, codigo_presta, valor_unico, fecha_version) VALUES %s",
                price_rows,
                page_size=1000,
            )
            if customer_rows:
                ids = psycopg2.extras.execute_values(
                    cur,
                    "INSERT INTO public.cliente (codigo, razon_social, nombre_fantasia, direccion, telefono, mail, "
                    "observaciones, id_tipo_ot, id_cliente_tipo) VALUES %s RETURNING id_cliente",
                    [row[:-1] for row in customer_rows],
                    page_size=1000,
                    fetch=True,
                )
                summary.customers = len(ids)
                summary.dirty_customers = [id_[0] for id_, row in zip(ids, customer_rows, strict=False) if row[-1]]
    finally:
        conn.close()
    return summary


# --- writing services into either picture of Glyms ------------------------------------------------
# The sandbox keeps services versioned (lims.prestacion under the view, as a LIMS would); a database
# built from the Glyms schema contract alone has lims.v_prestacion_max_version as a plain table. The
# seeds, the tests and the benchmarks write services through these functions, whichever it is.


def _has(cur: Any, relation: str) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (relation,))
    return bool((cur.fetchone() or (False,))[0])


def services_versioned(cur: Any) -> bool:
    """True in the sandbox's schema (versions in lims.prestacion), False where the view is a table."""
    return _has(cur, "lims.prestacion")


def insert_contracts(cur: Any) -> None:
    """The sandbox's contracts table, where the schema has one (the sync never reads it)."""
    if _has(cur, "public.contrato"):
        psycopg2.extras.execute_values(
            cur, "INSERT INTO public.contrato (id_contrato, nombre, id_tipo_ot, contrato_base) VALUES %s "
                 "ON CONFLICT (id_contrato) DO NOTHING", CONTRACTS)


def insert_services(cur: Any, versions: list[tuple]) -> None:
    """Service versions ``(id_prestacion, version, codigo, descripcion, comentario, activa, id_tipo_ot,
    fecha_version)``: every one into lims.prestacion, or the newest of each into the view's table."""
    if services_versioned(cur):
        psycopg2.extras.execute_values(
            cur, "INSERT INTO lims.prestacion (id_prestacion, version, codigo, descripcion, comentario, activa, "
                 "id_tipo_ot, fecha_version) VALUES %s", versions, page_size=1000)
        return
    newest: dict[Any, tuple] = {}
    for row in versions:
        if row[0] not in newest or row[1] >= newest[row[0]][1]:
            newest[row[0]] = row
    psycopg2.extras.execute_values(
        cur, "INSERT INTO lims.v_prestacion_max_version (id_prestacion, codigo, descripcion, comentario, activa, "
             "id_tipo_ot) VALUES %s", [(r[0], r[2], r[3], r[4], r[5], r[6]) for r in newest.values()], page_size=1000)


def delete_services(dsn: str) -> None:
    """Every service gone from Glyms (the wrong database, or a broken view, as the sync would see it)."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM lims.prestacion" if services_versioned(cur) else "DELETE FROM lims.v_prestacion_max_version")
    conn.close()


def add_service_version(dsn: str, id_prestacion: int, *, descripcion: Optional[str] = None,
                        comentario: Optional[str] = None, activa: Optional[int] = None,
                        id_tipo_ot: Optional[int] = None) -> None:
    """Edit a service the way Glyms does: a new version row copying the latest one (where the view is a
    table, its row is updated)."""
    params = {"id": id_prestacion, "descripcion": descripcion, "comentario": comentario, "activa": activa,
              "id_tipo_ot": id_tipo_ot}
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            if services_versioned(cur):
                cur.execute(
                    """
                    INSERT INTO lims.prestacion (id_prestacion, version, codigo, descripcion, comentario, activa,
                                                 id_tipo_ot, fecha_version)
                    SELECT id_prestacion, version + 1, codigo,
                           COALESCE(%(descripcion)s, descripcion), COALESCE(%(comentario)s, comentario),
                           COALESCE(%(activa)s, activa), COALESCE(%(id_tipo_ot)s, id_tipo_ot),
                           fecha_version + interval '1 day'
                    FROM lims.v_prestacion_max_version WHERE id_prestacion = %(id)s
                    """, params)
            else:
                cur.execute(
                    """
                    UPDATE lims.v_prestacion_max_version
                    SET descripcion = COALESCE(%(descripcion)s, descripcion), comentario = COALESCE(%(comentario)s, comentario),
                        activa = COALESCE(%(activa)s, activa), id_tipo_ot = COALESCE(%(id_tipo_ot)s, id_tipo_ot)
                    WHERE id_prestacion = %(id)s
                    """, params)
            if cur.rowcount != 1:
                raise KeyError(f"no service {id_prestacion}")
    finally:
        conn.close()


def add_price_version(dsn: str, codigo: str, id_contrato: int, valor_unico: Decimal, when: datetime) -> None:
    """A new price version for (contract, service code)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO public.contrato_presta (id_contrato, codigo_presta, valor_unico, fecha_version) "
                "VALUES (%s, %s, %s, %s)",
                (id_contrato, codigo, valor_unico, when),
            )
    finally:
        conn.close()

