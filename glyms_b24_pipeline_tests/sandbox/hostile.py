"""A hostile corpus: Glyms rows as real LIMS data holds them, each with what the syncs must make of it.

Every row carries its expectation, so tests (and anyone reading) see per row whether it is
**stored** exactly, **cleaned** as documented (with the warning that says so, when there is one)
or **reported** (not written: an audit row ``skipped`` with the reason, and for customers a
change-log row in ``ERROR`` with it). No row may fail a run.

NUL (U+0000) is the one character missing: PostgreSQL's text types refuse it (SQLSTATE 22021,
"invalid byte sequence for encoding UTF8: 0x00"), so no Glyms row can hold it and the generator
never writes it (a seed with it would fail, not test anything). Every other C0 control
character, DEL and the C1 controls are in the corpus; the mapping strips NUL like them should a
value ever arrive with one (a pure test covers that).

Type ids are integer columns in Glyms (the services query joins them to integer arrays), so
"non-numeric" cannot exist there; the corpus covers what can: NULL, 0, negative, unmapped and
the largest integer. Text ids (" 1 ", "uno") are covered by the mapping's unit tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping, Optional

import psycopg2

from glyms_b24_pipeline.sandbox.glyms_seed import CONTRACT_BY_TIPO_OT, insert_contracts, insert_services

STORED, CLEANED, REPORTED = "stored", "cleaned", "reported"
#: the largest price NUMERIC(14,2) holds
MAX_PRICE = Decimal("999999999999.99")
#: the services' ids start here, far above any seeded or realistic id_prestacion
FIRST_HOSTILE_SERVICE_ID = 900_001
#: every C0 control character but NUL (PostgreSQL refuses it), then DEL and the C1 controls
CONTROL_CHARACTERS = "".join(chr(c) for c in range(1, 32) if chr(c) not in "\t\n\r") + "\x7f\x85\x9f"
LONG_TEXT = ("Observación de 10.000 caracteres: ñandú, acentos áéíóú, comillas ' \" y 🧪. " * 200)[:10_000]
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
PLACEHOLDERS = "$result[s1][service][id] $next[c1] $error[x] $total[y] $time[z]"
SQL_TEXT = "Lab O'Brien'); DROP TABLE public.cliente; -- %s %(x)s %% \\ \\\\ \" ` $$"


@dataclass(frozen=True)
class Expect:
    """What one hostile row must become.

    ``fields``: Bitrix24 field -> the value it must hold (stored / cleaned); ``None`` means "absent"
    (no price row, no WORK e-mail or phone). ``note``: a reported row's reason, or a warning a
    cleaned row must carry (a part of the text). ``portal_default`` names fields left out, so the
    portal's default applies (an unmapped COMPANY_TYPE).
    """

    outcome: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class HostileService:
    label: str
    descripcion: Optional[str]
    expect: Expect
    comentario: Optional[str] = "Comentario."
    codigo: Optional[str] = None  # None: H<id_prestacion>
    id_tipo_ot: Optional[int] = 1
    #: price rows of the service's contract: (valor_unico, fecha_version), in insertion order
    prices: tuple[tuple[Optional[Decimal], str], ...] = ((Decimal("1500.00"), "2024-01-01"),)


@dataclass(frozen=True)
class HostileCustomer:
    label: str
    razon_social: Optional[str]
    expect: Expect
    codigo: Optional[str] = None  # None: a code of its own
    nombre_fantasia: Optional[str] = "Fantasía"
    direccion: Optional[str] = "San Martín 123, Rosario"
    telefono: Optional[str] = None
    mail: Optional[str] = None
    observaciones: Optional[str] = None
    id_tipo_ot: Optional[int] = 1
    id_cliente_tipo: Optional[int] = 7


def _stored(**fields: Any) -> Expect:
    return Expect(STORED, fields)


def _cleaned(note: str = "", **fields: Any) -> Expect:
    return Expect(CLEANED, fields, note)


def _reported(reason: str) -> Expect:
    return Expect(REPORTED, {}, reason)


def hostile_services() -> list[HostileService]:
    """Services (``lims.prestacion``) that break naive syncs; each with its expected catalog fields."""
    name_255 = ("Ñandú análisis " * 20)[:254] + "Z"
    return [
        # names that cannot become a catalog service
        HostileService("name empty", "", _reported("descripcion (name) is blank")),
        HostileService("name whitespace", "  \t \u00a0 ", _reported("descripcion (name) is blank")),
        HostileService("name NULL", None, _reported("descripcion (name) is blank")),
        HostileService("name control characters only", CONTROL_CHARACTERS, _reported("descripcion (name) is blank")),
        HostileService("name zero-width only", ZERO_WIDTH, _reported("descripcion (name) is blank")),
        HostileService("name 500 characters", "Perfil " + "x" * 493, _reported("descripcion is 500 characters long")),
        # names and texts stored as they are
        HostileService("name exactly 255 characters", name_255, _stored(name=name_255)),
        HostileService("name padded", "  Hemograma completo \t", _cleaned(name="Hemograma completo")),
        HostileService("comentario 10,000 characters", "Informe extenso", _stored(detailText=LONG_TEXT),
                       comentario=LONG_TEXT),
        HostileService("emoji", "Hemograma 🧪🩸 urgente 👍🏽 👩‍🔬", _stored(name="Hemograma 🧪🩸 urgente 👍🏽 👩‍🔬")),
        HostileService("right-to-left", "تحليل الدم الكامل \u200fבדיקת דם", _stored(name="تحليل الدم الكامل \u200fבדיקת דם"),
                       comentario="ملاحظة: عينة مبردة"),
        HostileService("control characters inside", f"Glucemia{CONTROL_CHARACTERS} en ayunas",
                       _cleaned(name="Glucemia en ayunas", detailText="Línea 1\r\nLínea 2\tfin"),
                       comentario="Línea 1\r\nLínea 2\tfin\x0c\x1b"),
        HostileService("SQL metacharacters", SQL_TEXT, _stored(name=SQL_TEXT, detailText="C:\\temp\\new\\ %(x)s '"),
                       comentario="C:\\temp\\new\\ %(x)s '"),
        HostileService("batch placeholders", "$result[s1][service][id]", _stored(name="$result[s1][service][id]",
                                                                                 detailText=PLACEHOLDERS),
                       comentario=PLACEHOLDERS),
        HostileService("query-string injection", "A&fields[active]=N&fields[xmlId]=1",
                       _stored(name="A&fields[active]=N&fields[xmlId]=1")),
        HostileService("HTML", "<b>Hemo</b><script>alert(1)</script>&amp;",
                       _stored(name="<b>Hemo</b><script>alert(1)</script>&amp;")),
        HostileService("words that look empty", "None", _stored(name="None"), comentario="null"),
        # work-order types: integer columns; what an integer can hold
        HostileService("unmapped type", "Ensayo tipo 9", _cleaned("id_tipo_ot 9 has no section mapping",
                                                                  iblockSectionId=None, price=None), id_tipo_ot=9),
        HostileService("NULL type", "Ensayo sin tipo", _cleaned("id_tipo_ot None has no section mapping",
                                                                iblockSectionId=None, price=None), id_tipo_ot=None),
        HostileService("type zero", "Ensayo tipo 0", _cleaned("has no section mapping", iblockSectionId=None), id_tipo_ot=0),
        HostileService("negative type", "Ensayo tipo -1", _cleaned("has no section mapping", iblockSectionId=None),
                       id_tipo_ot=-1),
        HostileService("largest integer type", "Ensayo tipo max", _cleaned("has no section mapping", iblockSectionId=None),
                       id_tipo_ot=2_147_483_647),
        # prices
        HostileService("negative price", "Precio negativo", _reported("precio -150.00 is negative"),
                       prices=((Decimal("-150.00"), "2024-01-01"),)),
        HostileService("zero price", "Precio cero", _stored(price=Decimal("0.00")), prices=((Decimal("0"), "2024-01-01"),)),
        HostileService("NULL price", "Precio nulo", _cleaned("no price in Glyms", price=None),
                       prices=((Decimal("900.00"), "2023-01-01"), (None, "2024-01-01"))),
        HostileService("no price row", "Sin precio", _cleaned("no price in Glyms", price=None), prices=()),
        HostileService("largest price", "Precio máximo", _stored(price=MAX_PRICE), prices=((MAX_PRICE, "2024-01-01"),)),
        HostileService("one cent", "Precio un centavo", _stored(price=Decimal("0.01")),
                       prices=((Decimal("0.01"), "2024-01-01"),)),
        # two price versions with the same date: the higher is in force, every run, whatever the row order
        HostileService("price tie", "Precio empatado", _stored(price=Decimal("222.00")),
                       prices=((Decimal("111.00"), "2024-05-01"), (Decimal("222.00"), "2024-05-01"))),
        HostileService("price tie, higher first", "Precio empatado al revés", _stored(price=Decimal("222.00")),
                       prices=((Decimal("222.00"), "2024-05-01"), (Decimal("111.00"), "2024-05-01"))),
        # codes
        HostileService("duplicate code A", "Código repetido A", _stored(code="DUP-001", price=Decimal("777.00")),
                       codigo="DUP-001", prices=((Decimal("777.00"), "2024-01-01"),)),
        HostileService("duplicate code B", "Código repetido B", _stored(code="DUP-001", price=Decimal("777.00")),
                       codigo="DUP-001", prices=()),
        HostileService("code padded with emoji", "Código raro", _cleaned(code="C-😀 '1'"), codigo="  C-😀 '1'  "),
    ]


def hostile_customers() -> list[HostileCustomer]:
    """Customers (``public.cliente``) that break naive syncs; each with its expected company fields."""
    title_500 = ("Laboratorio de Análisis Clínicos Ñandú " * 13)[:500]
    return [
        # titles that cannot become a company
        HostileCustomer("title empty", "", _reported("razon_social (TITLE) is blank")),
        HostileCustomer("title whitespace", " \t\u00a0\n ", _reported("razon_social (TITLE) is blank")),
        HostileCustomer("title NULL", None, _reported("razon_social (TITLE) is blank")),
        HostileCustomer("title control characters only", CONTROL_CHARACTERS, _reported("razon_social (TITLE) is blank")),
        HostileCustomer("title zero-width only", ZERO_WIDTH, _reported("razon_social (TITLE) is blank")),
        # texts
        HostileCustomer("title 500 characters", title_500,
                        _cleaned("razon_social is 500 characters long; cut to 255", TITLE=title_500[:255].rstrip())),
        HostileCustomer("observaciones 10,000 characters", "Lab Texto Largo", _stored(COMMENTS=LONG_TEXT),
                        observaciones=LONG_TEXT),
        HostileCustomer("emoji", "Lab 🧪 Pérez 👩‍🔬", _stored(TITLE="Lab 🧪 Pérez 👩‍🔬"), nombre_fantasia="🧫"),
        HostileCustomer("right-to-left", "مختبر الشرق \u200fמעבדה", _stored(TITLE="مختبر الشرق \u200fמעבדה"),
                        direccion="شارع ١٢٣"),
        HostileCustomer("control characters inside", f"Lab{CONTROL_CHARACTERS} Sur",
                        _cleaned(TITLE="Lab Sur", ADDRESS="Calle 1\nPiso 2"), direccion="Calle 1\nPiso 2\x1b\x07"),
        HostileCustomer("SQL metacharacters", SQL_TEXT, _stored(TITLE=SQL_TEXT, ADDRESS="C:\\dir\\ %(x)s"),
                        direccion="C:\\dir\\ %(x)s", nombre_fantasia="%s"),
        HostileCustomer("batch placeholders", "$result[c1]", _stored(TITLE="$result[c1]", COMMENTS=PLACEHOLDERS),
                        observaciones=PLACEHOLDERS),
        HostileCustomer("query-string injection", "A&fields[TITLE]=B&fields[ORIGIN_ID]=1",
                        _stored(TITLE="A&fields[TITLE]=B&fields[ORIGIN_ID]=1")),
        # e-mails
        HostileCustomer("mail invalid", "Mail inválido", _cleaned("is not a valid e-mail address; left out", EMAIL=None),
                        mail="sin mail"),
        HostileCustomer("mail blank", "Mail en blanco", _stored(EMAIL=None), mail="   "),
        HostileCustomer("mail with a space", "Mail con espacio", _cleaned("is not a valid e-mail address", EMAIL=None),
                        mail="juan perez@gmail.com"),
        HostileCustomer("mail IDN domain", "Mail IDN", _cleaned(EMAIL="ventas@xn--and-6ma2c.com.ar"),
                        mail="ventas@ñandú.com.ar"),
        HostileCustomer("mail international local part", "Mail local UTF-8", _stored(EMAIL="josé@laboratorio.com.ar"),
                        mail="josé@laboratorio.com.ar"),
        HostileCustomer("mail international local part and IDN domain", "Mail todo UTF-8",
                        _cleaned(EMAIL="josé@xn--and-6ma2c.com.ar"), mail="josé@ñandú.com.ar"),
        HostileCustomer("mails separated by semicolon", "Dos mails ;",
                        _cleaned("holds several addresses", EMAIL="a@lab.com.ar"), mail="a@lab.com.ar; b@lab.com.ar"),
        HostileCustomer("mails separated by slash", "Dos mails /",
                        _cleaned("holds several addresses", EMAIL="a@lab.com.ar"), mail="a@lab.com.ar / b@lab.com.ar"),
        HostileCustomer("mails separated by spaces", "Dos mails espacio",
                        _cleaned("holds several addresses", EMAIL="a@lab.com.ar"), mail="a@lab.com.ar  b@lab.com.ar"),
        HostileCustomer("mail with display name", "Mail con nombre", _cleaned(EMAIL="compras@lab.com.ar"),
                        mail="Compras <compras@lab.com.ar>"),
        HostileCustomer("mail upper case", "Mail mayúsculas", _cleaned(EMAIL="info@labsur.com.ar"),
                        mail="INFO@LABSUR.COM.AR"),
        HostileCustomer("mail with quote and percent", "Mail raro", _stored(EMAIL="o'brien%s@lab.com.ar"),
                        mail="o'brien%s@lab.com.ar"),
        HostileCustomer("mail with placeholder", "Mail placeholder",
                        _cleaned("is not a valid e-mail address", EMAIL=None), mail="$result[x]@lab.com"),
        HostileCustomer("mail 300 characters", "Mail larguísimo",
                        _cleaned("is not a valid e-mail address", EMAIL=None), mail="a" * 288 + "@lab.com.ar"),
        # phones: every local Argentine spelling
        HostileCustomer("phone landline with 0", "Tel 1", _cleaned(PHONE="+543414567890"), telefono="0341 456-7890"),
        HostileCustomer("phone landline without 0", "Tel 2", _cleaned(PHONE="+543414567890"), telefono="341 4567890"),
        HostileCustomer("phone mobile with 0 and 15", "Tel 3", _cleaned(PHONE="+5493414567890"), telefono="0341 15 456-7890"),
        HostileCustomer("phone 2-digit area", "Tel 4", _cleaned(PHONE="+541145678901"), telefono="011 4567-8901"),
        HostileCustomer("phone 2-digit area mobile", "Tel 5", _cleaned(PHONE="+5491145678901"),
                        telefono="(011) 15-4567-8901"),
        HostileCustomer("phone 4-digit area", "Tel 6", _cleaned(PHONE="+542944421234"), telefono="02944 42-1234"),
        HostileCustomer("phone 4-digit area mobile without 0", "Tel 7", _cleaned(PHONE="+5493489420000"),
                        telefono="3489 15 420000"),
        HostileCustomer("phone international mobile", "Tel 8", _cleaned(PHONE="+5493414567890"),
                        telefono="+54 9 341 456 7890"),
        HostileCustomer("phone 00 prefix", "Tel 9", _cleaned(PHONE="+543414567890"), telefono="0054 341 4567890"),
        HostileCustomer("phone toll free", "Tel 10", _cleaned(PHONE="+548005551234"), telefono="0800-555-1234"),
        HostileCustomer("phone Arabic-Indic digits", "Tel 11", _cleaned(PHONE="+543414567890"),
                        telefono="۰۳۴۱ ۴۵۶۷۸۹۰"),
        HostileCustomer("phone with a label", "Tel 12", _cleaned(PHONE="+543414567890"), telefono="Tel: 0341 4567890"),
        HostileCustomer("phone with extension int.", "Tel 13", _cleaned(PHONE="+543414567890 ext. 123"),
                        telefono="0341 4567890 int. 123"),
        HostileCustomer("phone with extension ext", "Tel 14", _cleaned(PHONE="+543414567890 ext. 12"),
                        telefono="0341-4567890 ext 12"),
        HostileCustomer("phone with extension interno", "Tel 15",
                        _cleaned("is not a valid AR number; sent as typed", PHONE="0341 4567890 interno 45"),
                        telefono="0341 4567890 interno 45"),
        HostileCustomer("phone mobile without area", "Tel 16",
                        _cleaned("is not a valid AR number; sent as typed", PHONE="15-4567-8901"), telefono="15-4567-8901"),
        HostileCustomer("phone local number only", "Tel 17",
                        _cleaned("is not a valid AR number; sent as typed", PHONE="4567-8901"), telefono="4567-8901"),
        HostileCustomer("phone with letters", "Tel 18",
                        _cleaned("is not a valid AR number; sent as typed", PHONE="0341-LAB-TEST"), telefono="0341-LAB-TEST"),
        HostileCustomer("phone two numbers", "Tel 19",
                        _cleaned("sent as typed", PHONE="0341 4567890 / 0341 4567891"),
                        telefono="0341 4567890 / 0341 4567891"),
        HostileCustomer("phone without digits", "Tel 20", _cleaned("has no digits; left out", PHONE=None),
                        telefono="sin teléfono"),
        HostileCustomer("phone 100 characters", "Tel 21", _cleaned("sent as typed", PHONE="0341 " + "9" * 95),
                        telefono="0341 " + "9" * 95),
        # types: integer columns
        HostileCustomer("unmapped types", "Tipos sin mapeo",
                        _cleaned("has no COMPANY_TYPE mapping; left out"), id_tipo_ot=8, id_cliente_tipo=99),
        HostileCustomer("NULL types", "Tipos nulos", _stored(), id_tipo_ot=None, id_cliente_tipo=None),
        HostileCustomer("zero and negative types", "Tipos cero",
                        _cleaned("id_cliente_tipo -1 has no INDUSTRY mapping"), id_tipo_ot=0, id_cliente_tipo=-1),
        HostileCustomer("largest integer types", "Tipos enormes", _cleaned("has no COMPANY_TYPE mapping"),
                        id_tipo_ot=2_147_483_647, id_cliente_tipo=2_147_483_647),
        # codes shared by two customers: each is its own company
        HostileCustomer("duplicate code A", "Código repetido A", _stored(), codigo="DUP-1"),
        HostileCustomer("duplicate code B", "Código repetido B", _stored(), codigo="DUP-1"),
    ]


@dataclass
class HostileSeed:
    """Where the corpus landed: label -> id_prestacion / id_cliente, and the rows themselves."""

    services: dict[str, int] = field(default_factory=dict)
    customers: dict[str, int] = field(default_factory=dict)
    service_rows: dict[str, HostileService] = field(default_factory=dict)
    customer_rows: dict[str, HostileCustomer] = field(default_factory=dict)


def seed_hostile(dsn: str, *, first_service_id: int = FIRST_HOSTILE_SERVICE_ID, services: bool = True,
                 customers: bool = True) -> HostileSeed:
    """Insert the hostile corpus (services with their price rows, customers through the triggers)."""
    seed = HostileSeed()
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            insert_contracts(cur)
            for offset, service in enumerate(hostile_services() if services else []):
                id_prestacion = first_service_id + offset
                codigo = service.codigo if service.codigo is not None else f"H{id_prestacion}"
                insert_services(cur, [(id_prestacion, 1, codigo, service.descripcion, service.comentario, 1,
                                       service.id_tipo_ot, "2024-01-01")])
                contract = CONTRACT_BY_TIPO_OT.get(service.id_tipo_ot) if service.id_tipo_ot is not None else None
                for valor, fecha in service.prices if contract else ():
                    cur.execute("INSERT INTO public.contrato_presta (id_contrato, codigo_presta, valor_unico, "
                                "fecha_version) VALUES (%s, %s, %s, %s)", (contract, codigo, valor, fecha))
                seed.services[service.label] = id_prestacion
                seed.service_rows[service.label] = service
            for index, customer in enumerate(hostile_customers() if customers else []):
                cur.execute(
                    "INSERT INTO public.cliente (codigo, razon_social, nombre_fantasia, direccion, telefono, mail, "
                    "observaciones, id_tipo_ot, id_cliente_tipo) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "RETURNING id_cliente",
                    (customer.codigo if customer.codigo is not None else f"HX{index:04d}", customer.razon_social,
                     customer.nombre_fantasia, customer.direccion, customer.telefono, customer.mail,
                     customer.observaciones, customer.id_tipo_ot, customer.id_cliente_tipo))
                (id_cliente,) = cur.fetchone() or (None,)
                seed.customers[customer.label] = int(id_cliente)
                seed.customer_rows[customer.label] = customer
    finally:
        conn.close()
    return seed
