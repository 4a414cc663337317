"""Shared fixtures: a real PostgreSQL per test session, a fresh database per test."""

from __future__ import annotations

import os
import uuid

import pytest

from glyms_b24_pipeline.glyms.install import install_sql
from glyms_b24_pipeline.sandbox.postgres import (
    EmbeddedPostgres,
    apply_glyms_schema,
    create_database,
    database_name,
    drop_database,
    sqlalchemy_url,
)

TEST_PG_ENV = "GLYMS_B24_TEST_PG_DSN"


@pytest.fixture(scope="session")
def pg_admin_dsn(tmp_path_factory):
    """DSN of a PostgreSQL server where tests may create databases.

    The server of $GLYMS_B24_TEST_PG_DSN when set; otherwise an embedded server started
    for this session, so the suite runs where no PostgreSQL is installed.
    """
    configured = os.environ.get(TEST_PG_ENV)
    if configured:
        yield configured
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("embedded-pg"))
    try:
        yield server.admin_dsn
    finally:
        server.stop()


@pytest.fixture(scope="session")
def glyms_template(pg_admin_dsn):
    """A template database holding the sandbox Glyms schema plus install-sql."""
    name = f"glyms_b24_tmpl_{uuid.uuid4().hex[:8]}"
    dsn = create_database(pg_admin_dsn, name)
    apply_glyms_schema(dsn)
    install_sql(dsn)
    yield name
    drop_database(pg_admin_dsn, name)


@pytest.fixture
def empty_database_dsn(pg_admin_dsn):
    """A fresh, empty database (no Glyms objects)."""
    dsn = create_database(pg_admin_dsn)
    yield dsn
    drop_database(pg_admin_dsn, database_name(dsn))


@pytest.fixture
def glyms_dsn(pg_admin_dsn, glyms_template):
    """A fresh Glyms database (sandbox schema + install-sql, no rows) for one test."""
    dsn = create_database(pg_admin_dsn, template=glyms_template)
    yield dsn
    drop_database(pg_admin_dsn, database_name(dsn))


@pytest.fixture
def dagster_home(tmp_path, empty_database_dsn):
    """A DAGSTER_HOME whose run storage is PostgreSQL (several processes use it at once), initialised once."""
    import dagster as dg

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        f"storage:\n  postgres:\n    postgres_url: \"{sqlalchemy_url(empty_database_dsn)}\"\ntelemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)):
        pass
    return home


@pytest.fixture
def cli_env(glyms_dsn, emulator, dagster_home):
    """Environment for `glyms-b24` subprocesses: the test database, a webhook of the emulator, that instance."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("B24_", "GLYMS_", "DAGSTER_"))}
    env.update(GLYMS_PG_DSN=glyms_dsn, B24_WEBHOOK_URL=emulator.add_webhook(user_id=1), DAGSTER_HOME=str(dagster_home))
    return env


@pytest.fixture
def portal(emulator):
    """The emulator set up as the lab's portal: the user fields and directory items the mappings name."""
    from glyms_b24_pipeline.config import Settings
    from glyms_b24_pipeline.sandbox.portal import prepare_lab_portal

    prepare_lab_portal(emulator, Settings())
    return emulator
