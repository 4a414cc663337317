"""No secret ever leaves: both syncs run with ``--debug`` as the operator runs them (CLI subprocesses),
in OAuth mode with an expired access token (so tokens rotate mid-run) and then in webhook mode, with a
database password in GLYMS_PG_DSN, and then on the failure paths (a webhook the portal refuses, the
database unreachable); then every place a secret could end up is searched for every one of them:
stdout, stderr, Dagster's event log (every record, the materialisation metadata included), the runs'
config and tags, Dagster's run storage (every table of its database), the files under DAGSTER_HOME
(captured compute logs), and the project's tables in Glyms (audit, change log, writer record).
Slow (about a minute: five CLI processes)."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import psycopg2
import psycopg2.extensions
import pytest
from dagster._serdes import serialize_value

from glyms_b24_pipeline.sandbox.glyms_seed import add_service_version, seed_glyms
from glyms_b24_pipeline.sandbox.portal import prepare_lab_portal
from glyms_b24_pipeline.sandbox.postgres import sqlalchemy_url
from glyms_b24_pipeline.settings.model import Settings
from glyms_b24_pipeline_tests.cli.conftest import clean_env

CLI = [sys.executable, "-m", "glyms_b24_pipeline.cli"]
CLIENT_ID = "local.leak.test"
# the project's own tables in Glyms that may hold text from a run (oauth_token holds the tokens by design)
GLYMS_TABLES = ("glyms_b24.sync_audit", "glyms_b24.portal_writer", "f_cliente.sync_log_bitrix24")


@pytest.fixture
def password_dsn(pg_admin_dsn, glyms_dsn):
    """GLYMS_PG_DSN with a password: a role of its own on the test database, dropped afterwards."""
    role, password = f"gb24_leak_{secrets.token_hex(4)}", f"pw-{secrets.token_hex(12)}"
    database = psycopg2.extensions.parse_dsn(glyms_dsn)["dbname"]
    with psycopg2.connect(pg_admin_dsn) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE ROLE "{role}" LOGIN PASSWORD %s', (password,))
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        for schema in ("public", "lims", "f_cliente", "glyms_b24"):
            cur.execute(f'GRANT USAGE ON SCHEMA {schema} TO "{role}"')
            cur.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA {schema} TO "{role}"')
            cur.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA {schema} TO "{role}"')
            cur.execute(f'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO "{role}"')
    params = psycopg2.extensions.parse_dsn(glyms_dsn)
    params.update(user=role, password=password)
    yield psycopg2.extensions.make_dsn(**params), password
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute(f'DROP OWNED BY "{role}"')  # its grants in this database
    with psycopg2.connect(pg_admin_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s AND datname = %s",
                    (role, database))
        cur.execute(f'DROP ROLE "{role}"')


@pytest.fixture
def debug_home(tmp_path, empty_database_dsn):
    """A DAGSTER_HOME as production's (run storage in PostgreSQL) whose event log also takes our own
    loggers at DEBUG: the most any log line could carry into the history."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        f"storage:\n  postgres:\n    postgres_url: \"{sqlalchemy_url(empty_database_dsn)}\"\n"
        "python_logs:\n  python_log_level: DEBUG\n  managed_python_loggers:\n    - glyms_b24_pipeline\n"
        "telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)):
        pass
    return home, empty_database_dsn


def _tokens(dsn):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT access_token, refresh_token, generation FROM glyms_b24.oauth_token WHERE client_id = %s",
                    (CLIENT_ID,))
        return cur.fetchone()


def _table_text(dsn, tables=None):
    """Every row of ``tables`` (default: every table of the database's public schema) as text."""
    chunks = []
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        if tables is None:
            cur.execute("SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM "
                        "information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
            tables = [row[0] for row in cur.fetchall()]
        for table in tables:
            cur.execute(f"SELECT t::text FROM {table} t")
            chunks += [f"{table}: {row[0]}" for row in cur.fetchall()]
    return "\n".join(chunks)


def _run_history(home):
    """Each run's event log records (every event, metadata included), config and tags, serialized."""
    chunks = []
    materialized = 0
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 4
        for run in runs:
            chunks.append(json.dumps({"config": run.run_config, "tags": run.tags}, default=str))
            records = instance.all_logs(run.run_id)
            materialized += sum(1 for r in records if r.dagster_event and r.dagster_event.is_step_materialization)
            chunks += [serialize_value(record) for record in records]
    assert materialized >= 16  # the metadata of both syncs' eight assets, twice
    return "\n".join(chunks)


def _files(home: Path):
    return "\n".join(f"{path}: {path.read_text(encoding='utf-8', errors='replace')}"
                     for path in sorted(home.rglob("*")) if path.is_file())


def _leaks(places, named_secrets):
    found = []
    for place, text in places.items():
        for name, value in named_secrets.items():
            for form in {value, quote(value, safe=""), json.dumps(value)[1:-1]}:
                at = text.find(form)
                if at >= 0:
                    found.append(f"{name} in {place}: ...{text[max(0, at - 80):at + len(form) + 20]!r}")
    return found


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the socket is closed


def _cli(*args, env):
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.slow
def test_no_secret_reaches_any_output_log_history_or_table(glyms_dsn, password_dsn, debug_home, emulator):
    dsn, db_password = password_dsn
    home, dagster_storage_dsn = debug_home
    client_secret = f"cs-{secrets.token_hex(16)}"
    emulator.register_app(CLIENT_ID, client_secret)
    prepare_lab_portal(emulator, Settings())
    seed_glyms(glyms_dsn, services=40, customers=15, seed=21)
    base = {"GLYMS_PG_DSN": dsn, "DAGSTER_HOME": str(home)}
    oauth = clean_env(**base, B24_PORTAL_URL=emulator.portal_url, B24_CLIENT_ID=CLIENT_ID,
                      B24_CLIENT_SECRET=client_secret, B24_OAUTH_URL=emulator.oauth_url)
    code = emulator.issue_authorization_code(CLIENT_ID)
    outputs = {}

    auth = _cli("auth", "--code", code, env=oauth)
    assert auth.returncode == 0, auth.stderr
    outputs.update({"auth stdout": auth.stdout, "auth stderr": auth.stderr})
    old_access, old_refresh, generation = _tokens(dsn)
    emulator.expire_access_tokens()  # the first request of the run gets expired_token: a refresh happens

    oauth_run = _cli("--debug", "sync", "--type", "all", env=oauth)
    assert oauth_run.returncode in (0, 1), oauth_run.stdout + oauth_run.stderr  # 1: the seed's dirty rows warn
    new_access, new_refresh, new_generation = _tokens(dsn)
    assert (new_generation, new_access != old_access, new_refresh != old_refresh) == (generation + 1, True, True)
    assert " DEBUG glyms_b24_pipeline." in oauth_run.stderr  # --debug really logged
    assert "renewing the OAuth tokens" in oauth_run.stderr
    outputs.update({"oauth sync stdout": oauth_run.stdout, "oauth sync stderr": oauth_run.stderr})

    webhook_code = f"wh{secrets.token_hex(12)}"
    webhook = clean_env(**base, B24_WEBHOOK_URL=emulator.add_webhook(user_id=1, code=webhook_code))
    add_service_version(glyms_dsn, 1, descripcion="Hemograma completo (webhook)")  # something to write
    webhook_run = _cli("--debug", "sync", "--type", "all", env=webhook)
    assert webhook_run.returncode in (0, 1), webhook_run.stdout + webhook_run.stderr
    assert "push de services: 1 servicios escritos" in webhook_run.stdout
    outputs.update({"webhook sync stdout": webhook_run.stdout, "webhook sync stderr": webhook_run.stderr})

    # the failure paths: an error message is where a URL or a DSN would most likely slip through
    revoked_code = f"wh{secrets.token_hex(12)}"  # a webhook the portal does not know (deleted by an admin)
    refused = _cli("--debug", "sync", "--type", "all",
                   env={**webhook, "B24_WEBHOOK_URL": f"{emulator.portal_url}/rest/1/{revoked_code}/"})
    assert refused.returncode == 2 and "revise B24_WEBHOOK_URL" in refused.stdout, refused.stdout
    unreachable = _closed_port()
    db_params = psycopg2.extensions.parse_dsn(dsn)
    db_params["port"] = str(unreachable)
    db_down = _cli("--debug", "sync", "--type", "all",
                   env={**webhook, "GLYMS_PG_DSN": psycopg2.extensions.make_dsn(**db_params)})
    assert db_down.returncode == 2 and "no se puede conectar a la base de Glyms" in db_down.stdout, db_down.stdout
    outputs.update({"refused-webhook stdout": refused.stdout, "refused-webhook stderr": refused.stderr,
                    "database-down stdout": db_down.stdout, "database-down stderr": db_down.stderr})

    places = {
        **outputs,
        "Dagster event log, run config and tags": _run_history(home),
        "Dagster run storage (every table)": _table_text(dagster_storage_dsn),
        "files under DAGSTER_HOME": _files(home),
        "Glyms project tables": _table_text(glyms_dsn, GLYMS_TABLES),
    }
    assert "ASSET_MATERIALIZATION" in places["Dagster run storage (every table)"]
    assert "batch of" in places["Dagster run storage (every table)"]  # our DEBUG lines reached the event log
    assert "create" in _table_text(glyms_dsn, ["glyms_b24.sync_audit"])  # the audit has rows to search
    named = {"client secret": client_secret, "old access token": old_access, "old refresh token": old_refresh,
             "new access token": new_access, "new refresh token": new_refresh, "webhook code": webhook_code,
             "database password": db_password, "authorization code": code, "refused webhook code": revoked_code}
    assert not _leaks(places, named), "\n".join(_leaks(places, named))
