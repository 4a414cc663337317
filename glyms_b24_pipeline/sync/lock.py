"""One writer per portal: a PostgreSQL advisory lock, whatever starts the run.

The lock is taken on a dedicated connection to the Glyms database (where every writer, CLI,
schedule, sensor or UI run, already connects) and held at session level: it is released when
the run ends or when its process dies, because PostgreSQL ends the session with the
connection. The connection's ``application_name`` names the holder, so a second writer can
say who is writing and since when.

A killed writer's last request may still be carried out by the portal after the lock is gone
(the portal finishes what it received). Every writer records when its last write request left
(``glyms_b24.portal_writer``); the next one waits until such a request can no longer be in
flight (``writer.in_flight_grace_seconds``) before it reads the portal.

The portal counts requests per portal, not per process: each writer also leaves its leaky
bucket's level in that row, and the next writer's bucket starts from it, drained by the time
between, so a run that follows another never opens with a burst the portal no longer has.
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Optional

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from glyms_b24_pipeline.bitrix24 import progress
from glyms_b24_pipeline.bitrix24.pacing import existing_bucket, portal_key
from glyms_b24_pipeline.glyms.connection import translate_error
from glyms_b24_pipeline.glyms.sql_files import read_sql
from glyms_b24_pipeline.settings.errors import OperatorError

log = logging.getLogger(__name__)

#: first key of our advisory locks ("gb24"), so they never collide with another application's
LOCK_NAMESPACE = 0x67623234
APPLICATION_PREFIX = "glyms-b24 writer "


class PortalBusy(OperatorError):
    """Another sync holds the portal's writer lock (CLI exit code 3)."""

    exit_code = 3


class PortalLockLost(OperatorError):
    """The lock's database session ended while this run was writing; it stops before the next write."""


@dataclass(frozen=True)
class LockHolder:
    """The session holding a portal's lock, as PostgreSQL reports it."""

    pid: int
    application_name: str
    since: Optional[_dt.datetime]

    def describe(self) -> str:
        who = self.application_name[len(APPLICATION_PREFIX):] if self.application_name.startswith(APPLICATION_PREFIX) \
            else f"database session {self.pid}"
        when = f", started {self.since.astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')}" if self.since else ""
        return f"{who}{when}"


class PortalLock:
    """The writer lock of one portal; ``acquire`` waits up to ``wait_seconds`` then raises :class:`PortalBusy`."""

    def __init__(self, dsn: str, portal_url: str, holder: str, *, wait_seconds: float = 0.0,
                 in_flight_grace_seconds: float = 65.0, poll_seconds: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep):
        self._dsn = dsn
        self.portal = portal_key(portal_url)
        self.holder = holder
        self.wait_seconds = float(wait_seconds)
        self.poll_seconds = float(poll_seconds)
        self._sleep = sleep
        self._conn: Optional[psycopg2.extensions.connection] = None
        #: changes on every acquisition: a plan computed under one epoch is never applied under another
        self.epoch: Optional[str] = None
        self.waited_seconds = 0.0
        self.in_flight_grace_seconds = float(in_flight_grace_seconds)
        #: seconds waited for a dead writer's last request to finish on the portal
        self.fenced_seconds = 0.0

    def __repr__(self) -> str:
        return f"PortalLock(portal={self.portal!r}, holder={self.holder!r}, held={self.held})"

    @property
    def held(self) -> bool:
        return self._conn is not None and not self._conn.closed

    def _params(self) -> dict[str, Any]:
        return {"namespace": LOCK_NAMESPACE, "portal": self.portal, "holder": self.holder}

    def _bucket_level(self) -> dict[str, Any]:
        """This process's request counter for the portal, left for the next writer (None: no client made one)."""
        bucket = existing_bucket(self.portal)
        return {"bucket_level": bucket.level if bucket is not None else None}

    def _query(self, name: str, **extra: Any) -> list[dict[str, Any]]:
        assert self._conn is not None
        with self._conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(read_sql(f"queries/{name}.sql"), {**self._params(), **extra})
            return [dict(row) for row in cur.fetchall()] if cur.description else []

    def acquire(self) -> "PortalLock":
        """Take the lock (idempotent while held). Raises :class:`PortalBusy` after ``wait_seconds``."""
        if self.held:
            return self
        try:
            # application_name is at most 63 bytes; a run id (36 characters) fits whole
            self._conn = psycopg2.connect(self._dsn, connect_timeout=10,
                                          application_name=(APPLICATION_PREFIX + self.holder)[:63],
                                          keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
            self._conn.autocommit = True  # a session lock: no transaction stays open while we write
            started = time.monotonic()
            announced = False
            while True:
                if self._query("portal_lock_try")[0]["acquired"]:
                    break
                holder = self.current_holder()
                waited = time.monotonic() - started
                if waited >= self.wait_seconds:
                    self.release()
                    who = holder.describe() if holder else "a session that has just ended"
                    extra = f"; waited {waited:.0f} s (writer.lock_wait_seconds)" if self.wait_seconds else ""
                    raise PortalBusy(f"another sync is writing to {self.portal} ({who}){extra}; nothing was written")
                if not announced:
                    log.warning("another sync is writing to %s (%s); waiting up to %.0f s",
                                self.portal, holder.describe() if holder else "?", self.wait_seconds)
                    announced = True
                    progress.waiting(self.wait_seconds - waited, progress.PORTAL_LOCK,
                                     holder.describe() if holder else "?")
                self._sleep(min(self.poll_seconds, max(0.0, self.wait_seconds - waited)))
            self.waited_seconds = time.monotonic() - started
            previous = self._query("portal_writer_take")
            self._fence(previous)
            self._carry_over_bucket(previous)
        except psycopg2.Error as exc:
            self.release()
            raise translate_error(exc, self._dsn) from None
        self.epoch = uuid.uuid4().hex
        log.info("portal lock of %s taken by %s", self.portal, self.holder)
        return self

    def _fence(self, previous: list[dict[str, Any]]) -> None:
        """Wait out the last request of a writer that died without releasing the portal."""
        if not previous or previous[0]["released_at"] is not None or previous[0]["last_write_at"] is None:
            return
        remaining = self.in_flight_grace_seconds - float(previous[0]["seconds_since_last_write"] or 0)
        if remaining > 0:
            log.warning("the previous writer of %s (%s) ended without releasing it, %.0f s after a write request: "
                        "waiting %.0f s so that request cannot still be in flight", self.portal, previous[0]["run_id"],
                        self.in_flight_grace_seconds - remaining, remaining)
            self._sleep(remaining)
            self.fenced_seconds = remaining

    def _carry_over_bucket(self, previous: list[dict[str, Any]]) -> None:
        """Start this process's bucket from the level the previous writer left, drained since."""
        bucket = existing_bucket(self.portal)
        if bucket is None or not previous or previous[0]["bucket_level"] is None:
            return
        elapsed = max(0.0, float(previous[0]["seconds_since_bucket"] or 0))
        left = float(previous[0]["bucket_level"]) - elapsed * bucket.drain_per_second
        if left > 0:
            bucket.carry_over(left)
            log.info("the previous writer of %s left its request counter at %.1f: starting from it", self.portal, left)

    def touch(self) -> None:
        """A write request is about to leave (recorded for the fence of the next writer)."""
        try:
            self._query("portal_writer_touch", **self._bucket_level())
        except psycopg2.Error:
            self.ensure_held()  # raises PortalLockLost when the session is gone

    def current_holder(self) -> Optional[LockHolder]:
        rows = self._query("portal_lock_holder")
        if not rows:
            return None
        row = rows[0]
        return LockHolder(int(row["pid"]), row["application_name"] or "", row["backend_start"])

    def ensure_held(self) -> None:
        """Raise :class:`PortalLockLost` unless this session still holds the lock (before each write)."""
        try:
            alive = self.held and bool(self._query("portal_lock_alive")[0]["held"])
        except psycopg2.Error:
            alive = False
        if not alive:
            self.release()
            raise PortalLockLost(
                f"the writer lock of {self.portal} was lost (its database connection ended); "
                "stopped before the next write: run the sync again")

    def release(self) -> None:
        """Give the lock back (closing the session releases it), saying no request is in flight."""
        if self.epoch is not None and self.held:
            try:
                self._query("portal_writer_release", **self._bucket_level())
            except psycopg2.Error:  # the session is gone: the lock went with it
                pass
        conn, self._conn = self._conn, None
        self.epoch = None
        if conn is not None and not conn.closed:
            try:
                conn.close()
            except psycopg2.Error:
                pass

    def __enter__(self) -> "PortalLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
