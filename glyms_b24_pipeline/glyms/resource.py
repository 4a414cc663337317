"""Dagster resource for the Glyms PostgreSQL database."""

from __future__ import annotations

import contextlib
import itertools
from typing import Any, Iterator, Mapping, Optional, Sequence

import dagster as dg
import pandas as pd
import psycopg2.extensions

from glyms_b24_pipeline.glyms.connection import connect, fetch_all, fetch_streamed
from glyms_b24_pipeline.glyms.contract import require_contract
from glyms_b24_pipeline.glyms.rows import Row, column_index, iter_unpacked, pack, unpack
from glyms_b24_pipeline.glyms.sql_files import read_sql

#: rows a server-side cursor brings per round trip when a query is streamed
FETCH_ROWS = 5_000


class RowTable:
    """Rows of a query as tuples under one header: far less memory than as many dicts (no hash table
    per row), and it pickles in chunks between assets (:func:`pack`).

    Iterating gives each row as a :class:`Row`, read by column name like a dict. Unpickled (the
    next asset's input), a table keeps its pickled chunks and iterates them one at a time: a step
    that reads the rows in one pass never holds them all as tuples. ``rows`` unpacks them for good."""

    __slots__ = ("columns", "_rows", "_chunks", "_count")

    def __init__(self, columns: Sequence[str], rows: Sequence[tuple] = ()):
        self.columns: tuple[str, ...] = tuple(columns)
        self._rows: Optional[list[tuple]] = list(rows)
        self._chunks: list[bytes] = []
        self._count = 0

    @property
    def rows(self) -> list[tuple]:
        """Every row as a tuple."""
        if self._rows is None:
            self._rows, self._chunks = unpack(self._chunks), []
        return self._rows

    def _values(self) -> Iterator[tuple]:
        return iter(self._rows) if self._rows is not None else iter_unpacked(self._chunks)

    def __len__(self) -> int:
        return len(self._rows) if self._rows is not None else self._count

    def __iter__(self) -> Iterator[Row]:
        index = column_index(self.columns)
        for values in self._values():
            yield Row(index, values)

    def column(self, name: str) -> list[Any]:
        """The values of one column, in row order."""
        index = self.columns.index(name)
        return [row[index] for row in self._values()]

    def head(self, count: int) -> list[tuple]:
        return list(itertools.islice(self._values(), count))

    def dataframe(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame (a copy: for a look in a notebook, not for the sync)."""
        return pd.DataFrame.from_records(self.rows, columns=list(self.columns))

    def __getstate__(self) -> tuple:
        return (self.columns, pack(self._rows) if self._rows is not None else self._chunks, len(self))

    def __setstate__(self, state: tuple) -> None:
        self.columns, self._chunks = state[0], state[1]
        if len(state) > 2:
            self._rows, self._count = None, state[2]
        else:  # pickled before the row count travelled with the chunks
            self._rows, self._chunks, self._count = unpack(self._chunks), [], 0


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

    def require_contract(self) -> None:
        """Before the first read of Glyms: the database meets the Glyms schema contract, or one line (exit 2)."""
        require_contract(self.dsn)

    def rows(self, query: str, params: Optional[Mapping[str, Any]] = None) -> list[dict[str, Any]]:
        """Rows of ``sql/queries/<query>.sql`` as dicts."""
        with connect(self.dsn, connect_timeout=self.connect_timeout_seconds) as conn:
            return fetch_all(conn, read_sql(f"queries/{query}.sql"), params)

    def table(self, query: str, params: Optional[Mapping[str, Any]] = None, *,
              fetch_rows: int = FETCH_ROWS) -> RowTable:
        """Result of ``sql/queries/<query>.sql`` as a :class:`RowTable`, read through a server-side
        cursor ``fetch_rows`` at a time (the driver never holds a second copy of the whole answer)."""
        with connect(self.dsn, connect_timeout=self.connect_timeout_seconds) as conn:
            return RowTable(*fetch_streamed(conn, read_sql(f"queries/{query}.sql"), params, fetch_rows))

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
