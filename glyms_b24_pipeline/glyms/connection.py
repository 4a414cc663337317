"""Connections to the Glyms PostgreSQL with errors an operator can act on."""

from __future__ import annotations

import contextlib
import re
from typing import Any, Iterator, Mapping, Optional

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras

from glyms_b24_pipeline.glyms.rows import Row, column_index
from glyms_b24_pipeline.settings.errors import OperatorError

# Objects the pipeline relies on, with the remedy when one is missing.
_REMEDIES = {
    "f_cliente.sync_log_bitrix24": "run glyms-b24 install-sql",
    "glyms_b24.": "run glyms-b24 install-sql",
    "lims.v_prestacion_max_version": "is GLYMS_PG_DSN pointing at the Glyms database?",
    "public.contrato_presta": "is GLYMS_PG_DSN pointing at the Glyms database?",
    "public.cliente": "is GLYMS_PG_DSN pointing at the Glyms database?",
}


class GlymsDatabaseError(OperatorError):
    """The Glyms database could not be reached or lacks an object the sync needs."""


def describe_dsn(dsn: str) -> str:
    """``host:port/dbname`` of a DSN, without user or password (safe to print)."""
    try:
        params = psycopg2.extensions.parse_dsn(dsn)
    except psycopg2.ProgrammingError:
        return "<unparseable GLYMS_PG_DSN>"
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    return f"{host}:{port}/{params.get('dbname') or params.get('user') or '?'}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _missing_object_message(exc: psycopg2.Error) -> Optional[str]:
    match = re.search(r'relation "([^"]+)" does not exist', str(exc))
    if not match:
        match = re.search(r'schema "([^"]+)" does not exist', str(exc))
    if not match:
        return None
    name = match.group(1)
    remedy = next((hint for prefix, hint in _REMEDIES.items() if name.startswith(prefix) or prefix.startswith(name + ".")), None)
    return f"{name} is missing: {remedy or 'check the Glyms database schema'}"


#: libpq's reasons for a failed connection, said in the operator's terms (its own text is the fallback)
_CONNECT_REASONS = (
    (re.compile(r"Connection refused"), lambda m: "the server refuses connections: is PostgreSQL running on that port?"),
    (re.compile(r'could not translate host name "([^"]*)"'), lambda m: f"unknown host name {m.group(1)}"),
    (re.compile(r"timeout expired"), lambda m: "no answer in time: check the host, the port and the firewall"),
    (re.compile(r'database "([^"]*)" does not exist'), lambda m: f"the database {m.group(1)} does not exist"),
    (re.compile(r'role "([^"]*)" does not exist'), lambda m: f"the user {m.group(1)} does not exist"),
    (re.compile(r"No such file or directory"), lambda m: "no server at the local socket: give a host in GLYMS_PG_DSN"),
    (re.compile(r'(?:invalid \w+ value .* for connection option|invalid connection option) "([^"]*)"'),
     lambda m: f"GLYMS_PG_DSN is not a valid connection string (its {m.group(1)})"),
    (re.compile(r"invalid dsn|missing \"=\"|invalid URI"),
     lambda m: "GLYMS_PG_DSN is not a valid connection string (postgresql://user@host:port/database)"),
)


def _connect_reason(text: str) -> str:
    for pattern, said in _CONNECT_REASONS:
        match = pattern.search(text)
        if match:
            return said(match)
    return text


def translate_error(exc: psycopg2.Error, dsn: str) -> GlymsDatabaseError:
    """One-line operator message for a psycopg2 error (never includes the password)."""
    where = describe_dsn(dsn)
    if isinstance(exc, (psycopg2.errors.UndefinedTable, psycopg2.errors.InvalidSchemaName)):
        message = _missing_object_message(exc)
        if message:
            return GlymsDatabaseError(f"{message} (database {where})")
    if isinstance(exc, psycopg2.OperationalError) and getattr(exc, "pgcode", None) is None:
        reason = _first_line(exc)
        if "password authentication failed" in reason or "authentication" in reason:
            return GlymsDatabaseError(f"cannot log in to the Glyms database {where}: wrong user or password in GLYMS_PG_DSN")
        # the server's FATAL line (an unknown database or user) follows libpq's first one
        return GlymsDatabaseError(f"cannot connect to the Glyms database {where}: {_connect_reason(str(exc))}")
    return GlymsDatabaseError(f"Glyms database {where}: {_first_line(exc)}")


@contextlib.contextmanager
def connect(dsn: str, *, connect_timeout: int = 10, application_name: str = "glyms-b24") -> Iterator[psycopg2.extensions.connection]:
    """A connection that commits on success, rolls back on error, and always closes."""
    try:
        conn = psycopg2.connect(dsn, connect_timeout=connect_timeout, application_name=application_name)
    except psycopg2.Error as exc:
        raise translate_error(exc, dsn) from None
    try:
        with conn:
            yield conn
    except psycopg2.Error as exc:
        raise translate_error(exc, dsn) from None
    finally:
        conn.close()


def fetch_streamed(conn: psycopg2.extensions.connection, sql: str, params: Optional[Mapping[str, Any]],
                   fetch_rows: int) -> tuple[list[str], list[tuple]]:
    """The column names and rows (tuples) of a SELECT read through a server-side cursor ``fetch_rows``
    at a time, so the driver never holds the whole answer beside the rows built from it."""
    with conn.cursor(name="glyms_b24_streamed") as cur:
        cur.execute(sql, params)
        rows: list[tuple] = []
        while True:
            chunk = cur.fetchmany(fetch_rows)
            rows.extend(chunk)
            if len(chunk) < fetch_rows:
                return [column.name for column in cur.description or ()], rows


def fetch_records(conn: psycopg2.extensions.connection, sql: str,
                  params: Optional[Mapping[str, Any]] = None, *, stream: int = 0) -> list[Row]:
    """Rows of a query as compact :class:`Row` mappings (read by name like dicts, a fraction of their memory).

    ``stream``: a SELECT read through a server-side cursor that many rows at a time (:func:`fetch_streamed`)."""
    if stream:
        columns, values = fetch_streamed(conn, sql, params, stream)
    else:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            if not cur.description:
                return []
            columns, values = [column.name for column in cur.description], cur.fetchall()
    index = column_index(columns)
    return [Row(index, row) for row in values]


def fetch_all(conn: psycopg2.extensions.connection, sql: str, params: Optional[Mapping[str, Any]] = None) -> list[dict[str, Any]]:
    """Rows of a query as dicts (column name -> value)."""
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(sql, params)
        return [dict(row) for row in cur.fetchall()] if cur.description else []


def fetch_rows(conn: psycopg2.extensions.connection, sql: str, params: Optional[Mapping[str, Any]] = None) -> list[dict[str, Any]]:
    """Like :func:`fetch_all`, built from plain tuples: far faster for large answers."""
    with conn.cursor() as cur:
        cur.execute(sql, params)
        if not cur.description:
            return []
        names = [column.name for column in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
