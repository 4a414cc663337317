"""Shared fixtures: a real PostgreSQL per test session, a fresh database per test."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import psycopg2
import pytest

from glyms_b24_pipeline.glyms.install import install_sql
from glyms_b24_pipeline.sandbox.postgres import (
    apply_glyms_schema,
    create_database,
    database_name,
    drop_database,
    postgres_for_tests,
    sqlalchemy_url,
)
from glyms_b24_pipeline_tests.glyms.minimal_schema import create_minimal_glyms

REPO_ROOT = Path(__file__).resolve().parent.parent


def _drop(admin_dsn: str, name: str) -> None:
    """Drop a test database; retried because a test elsewhere on the shared server may end our session."""
    for attempt in range(3):
        try:
            drop_database(admin_dsn, name)
            return
        except psycopg2.OperationalError:
            if attempt == 2:
                raise
            time.sleep(1 + attempt)


@pytest.fixture(scope="session")
def pg_admin_dsn():
    """DSN of a PostgreSQL server where tests may create databases.

    The server of $GLYMS_B24_TEST_PG_DSN when set; otherwise an embedded server started
    for this session, so the suite runs where no PostgreSQL is installed.
    """
    with postgres_for_tests() as admin_dsn:
        yield admin_dsn


@pytest.fixture(scope="session")
def glyms_template(pg_admin_dsn):
    """A template database holding exactly the Glyms schema contract's objects plus install-sql."""
    name = f"glyms_b24_tmpl_{uuid.uuid4().hex[:8]}"
    dsn = create_database(pg_admin_dsn, name)
    create_minimal_glyms(dsn)
    install_sql(dsn)
    yield name
    _drop(pg_admin_dsn, name)


@pytest.fixture(scope="session")
def sandbox_glyms_template(pg_admin_dsn):
    """A template database holding the sandbox's richer Glyms schema plus install-sql."""
    name = f"glyms_b24_sbx_{uuid.uuid4().hex[:8]}"
    dsn = create_database(pg_admin_dsn, name)
    apply_glyms_schema(dsn)
    install_sql(dsn)
    yield name
    _drop(pg_admin_dsn, name)


@pytest.fixture
def empty_database_dsn(pg_admin_dsn):
    """A fresh, empty database (no Glyms objects)."""
    dsn = create_database(pg_admin_dsn)
    yield dsn
    _drop(pg_admin_dsn, database_name(dsn))


@pytest.fixture
def glyms_dsn(pg_admin_dsn, glyms_template):
    """A fresh Glyms database (the schema contract's objects + install-sql, no rows) for one test."""
    dsn = create_database(pg_admin_dsn, template=glyms_template)
    yield dsn
    _drop(pg_admin_dsn, database_name(dsn))


@pytest.fixture
def sandbox_glyms_dsn(pg_admin_dsn, sandbox_glyms_template):
    """A fresh Glyms database with the sandbox's schema (versioned services, extra columns) + install-sql."""
    dsn = create_database(pg_admin_dsn, template=sandbox_glyms_template)
    yield dsn
    _drop(pg_admin_dsn, database_name(dsn))


# --- Dagster instances -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dagster_storage_template(pg_admin_dsn):
    """A template database already holding Dagster's tables (a new instance's first use costs seconds)."""
    from glyms_b24_pipeline.runs.instance import open_instance, write_instance_yaml

    name = f"dagster_tmpl_{uuid.uuid4().hex[:8]}"
    dsn = create_database(pg_admin_dsn, name)
    home = Path(tempfile.mkdtemp(prefix="dagster-tmpl-"))
    write_instance_yaml(home, sqlalchemy_url(dsn))
    open_instance(home).dispose()
    yield name
    _drop(pg_admin_dsn, name)


@pytest.fixture
def dagster_pg_url(pg_admin_dsn, dagster_storage_template):
    """The SQLAlchemy URL of a fresh database holding Dagster's (empty) storage."""

    dsn = create_database(pg_admin_dsn, template=dagster_storage_template)
    yield sqlalchemy_url(dsn)
    _drop(pg_admin_dsn, database_name(dsn))


@pytest.fixture
def pg_dagster_home(tmp_path, dagster_pg_url, monkeypatch):
    """DAGSTER_HOME holding the repository's dagster.yaml, DAGSTER_PG_URL pointing at a fresh database."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_pg_url)
    return home


@pytest.fixture
def dagster_home(tmp_path, dagster_pg_url):
    """A DAGSTER_HOME for `glyms-b24` subprocesses started at once: the project's instance settings,
    PostgreSQL storage already initialised (no environment variable needed)."""
    from glyms_b24_pipeline.runs.instance import write_instance_yaml

    home = tmp_path / "dagster_home"
    write_instance_yaml(home, dagster_pg_url)
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
    from glyms_b24_pipeline.sandbox.portal import prepare_lab_portal
    from glyms_b24_pipeline.settings.model import Settings

    prepare_lab_portal(emulator, Settings())
    return emulator


@pytest.fixture
def sqlite_dagster_home(tmp_path, monkeypatch):
    """DAGSTER_HOME with the project's instance blocks and SQLite storage (for tests that ask for it)."""
    from glyms_b24_pipeline.runs.instance import write_instance_yaml

    home = tmp_path / "dagster_home"
    write_instance_yaml(home, None)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _command_line_language():
    """Each test starts with the command line's default language (Spanish); main() sets it per run, but
    a test that prints through the CLI's helpers without main() must not inherit the previous test's."""
    from glyms_b24_pipeline.cli.i18n import activate

    activate("es")
    yield
