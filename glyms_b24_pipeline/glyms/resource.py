"""Dagster resource for the Glyms PostgreSQL database."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Mapping, Optional

import dagster as dg
import pandas as pd
import psycopg2.extensions

from glyms_b24_pipeline.glyms.connection import connect, fetch_all
from glyms_b24_pipeline.sql_files import read_sql


class GlymsTransaction:
    """The project's SQL files run on one connection, committed together or not at all."""

    def __init__(self, conn: psycopg2.extensions.connection):
        self.conn = conn

    def rows(self, query: str, params: Optional[Mapping[str, Any]] = None) -> list[dict[str, Any]]:
        return fetch_all(self.conn, read_sql(f"queries/{query}.sql"), params)

    def execute(self, query: str, params: Optional[Mapping[str, Any]] = None) -> int:
        with self.conn.cursor() as cur:
            cur.execute(read_sql(f"queries/{query}.sql"), params)
            return cur.rowcount


class GlymsDatabase(dg.ConfigurableResource):
    """Glyms LIMS on PostgreSQL: runs the project's SQL files (``sql/queries``)."""

    dsn: str
    connect_timeout_seconds: int = 10

    def rows(self, query: str, params: Optional[Mapping[str, Any]] = None) -> list[dict[str, Any]]:
        """Rows of ``sql/queries/<query>.sql`` as dicts."""
        with connect(self.dsn, connect_timeout=self.connect_timeout_seconds) as conn:
            return fetch_all(conn, read_sql(f"queries/{query}.sql"), params)

    def dataframe(self, query: str, params: Optional[Mapping[str, Any]] = None) -> pd.DataFrame:
        """Result of ``sql/queries/<query>.sql`` as a DataFrame (columns kept when empty)."""
        with connect(self.dsn, connect_timeout=self.connect_timeout_seconds) as conn:
            with conn.cursor() as cur:
                cur.execute(read_sql(f"queries/{query}.sql"), params)
                columns = [col.name for col in cur.description or ()]
                return pd.DataFrame.from_records(cur.fetchall(), columns=columns)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[GlymsTransaction]:
        """Several queries in one transaction (e.g. an audit settlement and the log rows it decides)."""
        with connect(self.dsn, connect_timeout=self.connect_timeout_seconds) as conn:
            yield GlymsTransaction(conn)

    def execute(self, query: str, params: Optional[Mapping[str, Any]] = None) -> int:
        """Run ``sql/queries/<query>.sql`` in its own transaction; returns the rows affected."""
        with connect(self.dsn, connect_timeout=self.connect_timeout_seconds) as conn:
            with conn.cursor() as cur:
                cur.execute(read_sql(f"queries/{query}.sql"), params)
                return cur.rowcount
