"""PostgreSQL for the sandbox and tests: a configured server, or an embedded one we start."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional
from urllib.parse import quote

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from glyms_b24_pipeline.glyms.install import install_sql
from glyms_b24_pipeline.glyms.sql_files import read_sql
from glyms_b24_pipeline.runs.instance import write_instance_yaml
from glyms_b24_pipeline.settings.errors import OperatorError


class EmbeddedPostgres:
    """A real PostgreSQL server (the ``pgserver`` wheel) living in ``data_dir``.

    It listens on a unix socket only, so it never clashes with a system server.
    """

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (cron, CI); harmless here
            warnings.simplefilter("ignore")
            try:
                import pgserver  # heavy import; only when an embedded server is really wanted
            except ImportError:
                raise OperatorError(
                    "the embedded PostgreSQL is not installed: pip install -e '.[sandbox]' "
                    "(or point GLYMS_B24_SANDBOX_PG_DSN / GLYMS_B24_TEST_PG_DSN at a server)"
                ) from None

            self._server = pgserver.get_server(str(self.data_dir), cleanup_mode="stop")
        self.socket_dir = str(self._server.get_uri()).split("host=")[-1].split("&")[0]

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.socket_dir}"

    def stop(self) -> None:
        self._server.cleanup()


TEST_PG_ENV = "GLYMS_B24_TEST_PG_DSN"


@contextmanager
def postgres_for_tests() -> Iterator[str]:
    """The admin DSN of $GLYMS_B24_TEST_PG_DSN when set, else of an embedded server started for the block.

    The embedded server's data lives in its own temporary folder, not under pytest's: pytest keeps
    only its last three base folders, so a second pytest run on the machine would delete the data
    of a server still in use here.
    """
    configured = os.environ.get(TEST_PG_ENV)
    if configured:
        yield configured
        return
    data_dir = Path(tempfile.mkdtemp(prefix="glyms-b24-pg-"))
    server = EmbeddedPostgres(data_dir)
    try:
        yield server.admin_dsn
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@contextmanager
def scratch_database(admin_dsn: str) -> Iterator[str]:
    """A new empty database, dropped when the block ends."""
    dsn = create_database(admin_dsn)
    try:
        yield dsn
    finally:
        drop_database(admin_dsn, database_name(dsn))


@contextmanager
def scratch_glyms_database(admin_dsn: str) -> Iterator[str]:
    """A new database with the sandbox Glyms schema and install-sql, dropped when the block ends."""
    with scratch_database(admin_dsn) as dsn:
        apply_glyms_schema(dsn)
        install_sql(dsn)
        yield dsn


def _with_dbname(dsn: str, dbname: str) -> str:
    params = psycopg2.extensions.parse_dsn(dsn)
    params["dbname"] = dbname
    return psycopg2.extensions.make_dsn(**params)


def _admin_execute(admin_dsn: str, statement: sql.Composable) -> None:
    conn = psycopg2.connect(admin_dsn)
    try:
        conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def create_database(admin_dsn: str, name: Optional[str] = None, template: Optional[str] = None) -> str:
    """Create a fresh database on the server of ``admin_dsn``; returns its DSN."""
    name = name or f"glyms_b24_{uuid.uuid4().hex[:12]}"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"unsafe database name {name!r}")
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
    _admin_execute(admin_dsn, statement)
    return _with_dbname(admin_dsn, name)


def drop_database(admin_dsn: str, name: str) -> None:
    _admin_execute(admin_dsn, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def sqlalchemy_url(dsn: str) -> str:
    """The SQLAlchemy URL of a libpq DSN (Dagster's storage), with the psycopg2 driver spelled out."""
    params = psycopg2.extensions.parse_dsn(dsn)
    user = quote(params.get("user") or "postgres", safe="")
    password = f":{quote(params['password'], safe='')}" if params.get("password") else ""
    host = params.get("host") or ""
    query = ""
    if host.startswith("/"):  # a unix socket directory
        host, query = "", f"?host={quote(params['host'], safe='/')}"
    port = f":{params['port']}" if params.get("port") and host else ""
    return f"postgresql+psycopg2://{user}{password}@{host}{port}/{params.get('dbname') or 'postgres'}{query}"


def database_name(dsn: str) -> str:
    return psycopg2.extensions.parse_dsn(dsn)["dbname"]


def apply_glyms_schema(dsn: str) -> None:
    """Create the sandbox copy of the Glyms objects the sync reads."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(read_sql("sandbox/glyms_schema.sql"))
    finally:
        conn.close()


# --- the sandbox's Dagster instance --------------------------------------------------------------

SANDBOX_DAGSTER_DB = "glyms_sandbox_dagster"


def prepare_sandbox_instance(admin_dsn: str, home: Path) -> Path:
    """The sandbox's DAGSTER_HOME: run history in a database beside the sandbox Glyms database."""
    conn = psycopg2.connect(admin_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (SANDBOX_DAGSTER_DB,))
            exists = cur.fetchone() is not None
    finally:
        conn.close()
    if exists:
        params = psycopg2.extensions.parse_dsn(admin_dsn)
        params["dbname"] = SANDBOX_DAGSTER_DB
        dsn = psycopg2.extensions.make_dsn(**params)
    else:
        dsn = create_database(admin_dsn, SANDBOX_DAGSTER_DB)
    write_instance_yaml(home, sqlalchemy_url(dsn),
                        comment="Sandbox Dagster instance: run history in the sandbox's PostgreSQL (written by glyms-b24 sandbox).")
    return home
