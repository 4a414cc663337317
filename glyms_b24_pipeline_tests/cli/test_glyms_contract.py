"""The Glyms schema contract from the command line: a database of the contract alone syncs end to end;
a violation is one line, exit 2, and nothing is written, for install-sql --check, check-mappings and sync."""

import re

import psycopg2
import psycopg2.extensions
import pytest

from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline_tests.glyms.minimal_schema import role_with_manual_grants

VIOLATIONS = {
    "missing view": ("DROP TABLE lims.v_prestacion_max_version",
                     "falta lims.v_prestacion_max_version: ¿apunta GLYMS_PG_DSN a la base de Glyms?"),
    "missing column": ("ALTER TABLE public.contrato_presta DROP COLUMN fecha_version",
                       "public.contrato_presta no tiene la columna fecha_version"),
    "wrong type": ("ALTER TABLE lims.v_prestacion_max_version ALTER activa TYPE boolean USING activa::integer::boolean",
                   "lims.v_prestacion_max_version.activa es boolean; la sincronización la lee como smallint, integer o bigint"),
}
COMMANDS = {
    "install-sql --check": ["install-sql", "--check"],
    "check-mappings": ["check-mappings"],
    "sync": ["sync", "--type", "all"],
}


def _sql(dsn, statement):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(statement)
        rows = cur.fetchall() if cur.description else []
    conn.close()
    return rows


def _where(dsn):
    params = psycopg2.extensions.parse_dsn(dsn)
    return f"{params.get('host') or 'localhost'}:{params.get('port') or '5432'}/{params['dbname']}"


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("violation", VIOLATIONS)
def test_a_contract_violation_is_one_line_exit_2_and_nothing_written(violation, command, cli_env, portal, glyms_cli):
    dsn = cli_env["GLYMS_PG_DSN"]
    seed_glyms(dsn, services=20, customers=8, seed=17, dirty_share=0.0)
    statement, expected = VIOLATIONS[violation]
    _sql(dsn, statement)
    log_before = _sql(dsn, "SELECT log_id, sync_status, attempts FROM f_cliente.sync_log_bitrix24 ORDER BY log_id")

    done = glyms_cli(*COMMANDS[command], env=cli_env, timeout=240)

    assert done.returncode == 2, (done.stdout, done.stderr)
    # in the operator's language (Spanish by default), as every line of the command
    line = f"error: {expected} (contrato del esquema de Glyms; GLYMS_PG_DSN -> {_where(dsn)})"
    errors = [text.strip() for text in (done.stdout + done.stderr).splitlines() if "contrato del esquema" in text]
    assert errors == [line], done.stdout + done.stderr
    assert portal.services(iblock_id=24) == [] and portal.companies() == []
    assert _sql(dsn, "SELECT log_id, sync_status, attempts FROM f_cliente.sync_log_bitrix24 ORDER BY log_id") == log_before


@pytest.fixture
def sync_role_env(cli_env):
    """cli_env, its GLYMS_PG_DSN logging in as a role with only the manual's GRANTs."""
    with role_with_manual_grants(cli_env["GLYMS_PG_DSN"]) as dsn:
        yield {**cli_env, "GLYMS_PG_DSN": dsn}


def test_on_a_database_of_the_contract_alone_both_syncs_run_end_to_end(cli_env, sync_role_env, portal, glyms_cli):
    """`glyms-b24 sync --type all` on the minimal schema, as a role holding only the manual's grants."""
    dsn = cli_env["GLYMS_PG_DSN"]
    summary = seed_glyms(dsn, services=40, customers=15, seed=23, dirty_share=0.0)

    check = glyms_cli("install-sql", "--check", env=sync_role_env)
    assert check.returncode == 0, check.stdout + check.stderr
    done = glyms_cli("sync", "--type", "all", env=sync_role_env, timeout=300)

    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^Ejecución [0-9a-f-]+: OK$", done.stdout, re.MULTILINE), done.stdout
    services = portal.services(iblock_id=24)
    assert len(services) == summary.active_services
    assert {p["productId"] for p in portal.prices()} == {s["id"] for s in services}  # every one priced
    assert len(portal.companies()) == summary.customers == 15
    assert _sql(dsn, "SELECT DISTINCT sync_status FROM f_cliente.sync_log_bitrix24") == [("PROCESSED",)]

    again = glyms_cli("sync", "--type", "all", env=sync_role_env, timeout=300)
    assert again.returncode == 0 and "push de services: 0 servicios escritos" in again.stdout, again.stdout
