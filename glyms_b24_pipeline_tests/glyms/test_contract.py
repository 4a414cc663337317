"""The Glyms schema contract: the queries read nothing else, each schema is judged against it, one line per violation."""

import re
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest

from glyms_b24_pipeline.glyms.contract import (
    CHANGE_LOG,
    RELATIONS,
    GlymsContractError,
    compare,
    read_violations,
    relation,
    require_contract,
)
from glyms_b24_pipeline.glyms.sql_files import sql_root
from glyms_b24_pipeline_tests.glyms.minimal_schema import create_minimal_glyms, role_with_manual_grants

GLYMS_OBJECT = re.compile(r"\b(lims|public|f_cliente)\.([a-z_][a-z0-9_]*)", re.IGNORECASE)
GLYMS_SCHEMAS = {"lims", "public", "f_cliente"}

# What a query may say besides contracted columns and the names it defines itself: SQL's own words,
# the functions and types our queries call, the project's own statuses and schema names.
SQL_WORDS = set("""
    select from where and or not null is as on join left lateral with order by group having limit offset
    desc asc nulls first last distinct case when then else end in any all exists true false between like
    update set returning delete insert into values for skip locked over partition filter using
    current_timestamp count min max sum coalesce nullif btrim unnest rank make_interval secs jsonb_to_recordset
    integer text boolean bigint double precision jsonb timestamptz numeric
""".split())
PROJECT_WORDS = {"glyms_b24"}


def _strip(sql_text: str) -> str:
    """The SQL without comments, string literals and parameter names (``%(name)s``)."""
    sql_text = re.sub(r"--[^\n]*", " ", sql_text)
    sql_text = re.sub(r"'(?:[^']|'')*'", " ", sql_text)
    return re.sub(r"%\(\w+\)s", " ", sql_text)


def _defined_names(sql_text: str) -> set[str]:
    """Names a query gives itself: CTEs, aliases after AS or after an object, a record's column list."""
    names = set(re.findall(r"\b(\w+)\s+AS\s*\(", sql_text, re.IGNORECASE))
    names |= set(re.findall(r"\bAS\s+(\w+)", sql_text, re.IGNORECASE))
    names |= set(re.findall(r"\b(?:FROM|JOIN|UPDATE)\s+[\w.]+\s+(?!ON\b|WHERE\b|SET\b|AS\b)(\w+)", sql_text, re.IGNORECASE))
    names |= set(re.findall(r"\)\s+(\w+)\s+ON\b", sql_text, re.IGNORECASE))
    for record in re.findall(r"\bAS\s+\w+\s*\(([^)]*)\)", sql_text, re.IGNORECASE):
        names |= {part.split()[0] for part in record.split(",") if part.strip()}
    return {name.lower() for name in names}


def glyms_queries() -> list[Path]:
    return sorted(path for path in (sql_root() / "queries").glob("*.sql")
                  if any(m.group(1).lower() in GLYMS_SCHEMAS for m in GLYMS_OBJECT.finditer(_strip(path.read_text()))))


def test_queries_name_only_contracted_columns_of_glyms():
    contracted = {column.name for r in RELATIONS for column in r.columns}
    objects = {r.name for r in RELATIONS}
    files = glyms_queries()
    assert len(files) >= 15  # the services, customers and change-log queries
    outside = {}
    for path in files:
        text = _strip(path.read_text(encoding="utf-8"))
        named = {f"{m.group(1)}.{m.group(2)}".lower() for m in GLYMS_OBJECT.finditer(text)}
        assert named <= objects, f"{path.name} reads Glyms objects outside the contract: {named - objects}"
        without_objects = GLYMS_OBJECT.sub(" ", text)
        words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", without_objects)}
        unknown = words - contracted - SQL_WORDS - PROJECT_WORDS - _defined_names(text)
        if unknown:
            outside[path.name] = sorted(unknown)
    assert outside == {}, f"names outside the Glyms schema contract: {outside}"


def test_the_grep_catches_an_invented_column(tmp_path):
    text = _strip((sql_root() / "queries" / "active_services.sql").read_text())
    invented = text.replace("ORDER BY cp.fecha_version DESC", "ORDER BY cp.fecha_version DESC, cp.id_contrato_presta DESC")
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", GLYMS_OBJECT.sub(" ", invented))}
    contracted = {column.name for r in RELATIONS for column in r.columns}
    assert "id_contrato_presta" in words - contracted - SQL_WORDS - _defined_names(invented)


def test_every_glyms_query_runs_on_a_database_of_the_contract_alone(glyms_dsn):
    """A query naming anything the contract lacks fails here, in CI, not at the lab."""
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        for path in glyms_queries():
            text = path.read_text(encoding="utf-8")
            params = {name: None for name in re.findall(r"%\((\w+)\)s", text)}
            cur.execute("EXPLAIN " + text.rstrip().rstrip(";"), params)
    conn.close()


def test_the_minimal_schema_holds_the_contract_and_nothing_more(glyms_dsn):
    assert read_violations(_connect(glyms_dsn)) == []
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT table_schema || '.' || table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema IN ('lims', 'public', 'f_cliente')")
        columns = {}
        for table, column in cur.fetchall():
            columns.setdefault(table, set()).add(column)
    conn.close()
    assert columns == {r.name: set(r.column_names) for r in RELATIONS}


def test_the_sandbox_schema_satisfies_the_contract(sandbox_glyms_dsn):
    assert read_violations(_connect(sandbox_glyms_dsn)) == []
    require_contract(sandbox_glyms_dsn)


def _connect(dsn):
    return psycopg2.connect(dsn)


# --- the comparison, on catalog rows -----------------------------------------------------------------


def _rows(name, types, readable=True, can_update=True):
    return [{"object_name": name, "column_name": column, "base_type": base, "type_shown": base,
             "readable": readable, "can_update": can_update} for column, base in types.items()]


def _all_rows(**changes):
    rows = []
    for r in RELATIONS:
        types = {c.name: sorted(c.family.accepted)[0] for c in r.columns}
        types.update(changes.get(r.name, {}))
        rows += _rows(r.name, {k: v for k, v in types.items() if v is not None})
    return rows


FUNCTIONS = ["f_cliente.fn_log_btrix24_cliente_changes"]


def test_a_database_that_holds_the_contract_has_no_violation():
    assert compare(_all_rows(), FUNCTIONS) == []


def test_each_missing_object_column_or_type_is_one_clause():
    rows = [r for r in _all_rows(**{"public.contrato_presta": {"fecha_version": None, "valor_unico": "money"},
                                    "f_cliente.sync_log_bitrix24": {"attempts": None}})
            if r["object_name"] != "lims.v_prestacion_max_version"]
    texts = [v.text for v in compare(rows, [])]
    assert texts == [
        "lims.v_prestacion_max_version is missing: is GLYMS_PG_DSN pointing at the Glyms database?",
        "public.contrato_presta.valor_unico is money; the sync reads it as numeric, an integer type, real or double precision",
        "public.contrato_presta has no column fecha_version",
        "f_cliente.sync_log_bitrix24 has no column attempts: run glyms-b24 install-sql",
        "f_cliente.fn_log_btrix24_cliente_changes() is missing: run glyms-b24 install-sql",
    ]


def test_widths_text_kinds_and_codes_as_numbers_are_accepted():
    rows = _all_rows(**{"lims.v_prestacion_max_version": {"activa": "int2", "id_prestacion": "int8", "codigo": "int4",
                                                          "descripcion": "bpchar"},
                        "public.contrato_presta": {"valor_unico": "float8", "fecha_version": "timestamptz"}})
    assert compare(rows, FUNCTIONS) == []


def test_a_boolean_activa_or_a_dated_change_log_is_named_with_its_type():
    rows = _all_rows(**{"lims.v_prestacion_max_version": {"activa": "bool"},
                        "f_cliente.sync_log_bitrix24": {"change_timestamp": "date"}})
    assert [v.text for v in compare(rows, FUNCTIONS)] == [
        "lims.v_prestacion_max_version.activa is bool; the sync reads it as smallint, integer or bigint",
        "f_cliente.sync_log_bitrix24.change_timestamp is date; the sync reads it as timestamp or timestamptz",
    ]


def test_privileges_the_role_lacks_are_named_with_the_grant():
    rows = [dict(r, readable=r["column_name"] != "mail") if r["object_name"] == "public.cliente" else
            dict(r, can_update=False) if r["object_name"] == CHANGE_LOG.name else r for r in _all_rows()]
    assert [v.text for v in compare(rows, FUNCTIONS)] == [
        "the database role cannot read public.cliente (mail; GRANT SELECT ON public.cliente TO <role>)",
        "the database role cannot update f_cliente.sync_log_bitrix24 (GRANT UPDATE ON f_cliente.sync_log_bitrix24 TO <role>)",
    ]


# --- the database's catalog ----------------------------------------------------------------------


def test_a_view_a_domain_and_other_widths_pass_on_a_real_catalog(empty_database_dsn):
    create_minimal_glyms(empty_database_dsn, {"public.contrato_presta.valor_unico": "numeric(18,6)",
                                              "public.contrato_presta.fecha_version": "timestamp",
                                              "public.cliente.codigo": "bigint", "public.cliente.mail": "varchar(300)"})
    with psycopg2.connect(empty_database_dsn) as conn, conn.cursor() as cur:
        cur.execute("CREATE DOMAIN lims.flag AS smallint")
        cur.execute("ALTER TABLE lims.v_prestacion_max_version RENAME TO prestacion_base")
        cur.execute("ALTER TABLE lims.prestacion_base ALTER activa TYPE lims.flag")
        cur.execute("ALTER TABLE lims.prestacion_base ADD COLUMN version integer")  # an extra column is fine
        cur.execute("CREATE VIEW lims.v_prestacion_max_version AS SELECT * FROM lims.prestacion_base")
    conn.close()
    from glyms_b24_pipeline.glyms.install import install_sql

    install_sql(empty_database_dsn)
    assert read_violations(_connect(empty_database_dsn)) == []


def test_violations_come_from_the_catalog_in_one_line_with_where(glyms_dsn):
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE public.contrato_presta DROP COLUMN fecha_version")
        cur.execute("ALTER TABLE public.cliente ALTER id_tipo_ot TYPE text")
    conn.close()
    with pytest.raises(GlymsContractError) as info:
        require_contract(glyms_dsn)
    where = f"127.0.0.1:5432/{psycopg2.extensions.parse_dsn(glyms_dsn)['dbname']}"
    message = str(info.value)
    assert message.endswith(f"(Glyms schema contract; GLYMS_PG_DSN -> {where})") or "host=/" in glyms_dsn
    assert message.startswith("public.contrato_presta has no column fecha_version; "
                              "public.cliente.id_tipo_ot is text; the sync reads it as smallint, integer or bigint")
    assert "\n" not in message and info.value.exit_code == 2


# --- the grants the manual gives ---------------------------------------------------------------------


@pytest.fixture
def read_only_role(glyms_dsn):
    """A role with exactly the manual's GRANTs, on a database the contract holds."""
    with role_with_manual_grants(glyms_dsn) as dsn:
        yield dsn


def test_the_manuals_grants_give_a_role_what_the_contract_needs(read_only_role):
    assert read_violations(_connect(read_only_role)) == []


def test_a_role_without_them_is_told_which_grant_is_missing(read_only_role, glyms_dsn):
    role = psycopg2.extensions.parse_dsn(read_only_role)["user"]
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute(f'REVOKE SELECT ON public.contrato_presta FROM "{role}"')
    conn.close()
    texts = [v.text for v in read_violations(_connect(read_only_role))]
    assert texts == ["the database role cannot read public.contrato_presta (id_contrato, codigo_presta, valor_unico, "
                     "fecha_version; GRANT SELECT ON public.contrato_presta TO <role>)"]
    assert relation("public.contrato_presta").privileges == ("SELECT",)
