"""A writer run whose process died is failed by the next writer, with the reason.

Every run that uses the ``PortalWriter`` holds, from its start, an advisory lock keyed by its
run id on its own connection to the Glyms database, and tags itself ``glyms_b24/liveness``.
PostgreSQL releases the lock when the process dies (SIGKILL, power cut), so a run still
``STARTED`` with the tag and no lock has no process: the next writer (``glyms-b24 sync`` before
it launches, and every run when it takes the portal lock) reports it failed. That frees the
queue's writer slot of its portal it would otherwise hold for ever.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Optional

import dagster as dg
import psycopg2
import psycopg2.extensions
import psycopg2.extras

from glyms_b24_pipeline.glyms.sql_files import read_sql
from glyms_b24_pipeline.sync.jobs import UNKNOWN_PORTAL, WRITER_TAG_KEY, portal_identity

log = logging.getLogger(__name__)

#: first key of the run liveness locks ("gbrl"); the portal lock uses another namespace
RUN_LOCK_NAMESPACE = 0x6762726C
LIVENESS_TAG = "glyms_b24/liveness"
#: a writer run without the liveness tag (it has not reached its resources yet, or predates them)
#: is taken for dead only after this long without a status change
UNTAGGED_GRACE_SECONDS = 600.0
ACTIVE_STATUSES = (dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING)


def _query(conn: psycopg2.extensions.connection, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(read_sql(f"queries/{name}.sql"), params)
        return [dict(row) for row in cur.fetchall()]


class RunLiveness:
    """This run's liveness lock: taken once, held until ``release`` or the process's death."""

    def __init__(self, dsn: str, run_id: str):
        self.dsn = dsn
        self.run_id = run_id
        self._conn: Optional[psycopg2.extensions.connection] = None

    @property
    def held(self) -> bool:
        return self._conn is not None and not self._conn.closed

    def take(self, instance: Optional[dg.DagsterInstance]) -> bool:
        """Take the lock and tag the run; best effort (False when the database cannot be reached)."""
        if self.held:
            return True
        try:
            conn = psycopg2.connect(self.dsn, connect_timeout=10, application_name=f"glyms-b24 run {self.run_id}"[:63],
                                    keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
            conn.autocommit = True
            if not _query(conn, "run_alive_take", {"namespace": RUN_LOCK_NAMESPACE, "run_id": self.run_id})[0]["acquired"]:
                conn.close()  # another process runs this run id (a resumed worker): it keeps the mark
                return False
        except psycopg2.Error as exc:
            log.info("run liveness lock not taken (%s); the run's own steps report the database", type(exc).__name__)
            return False
        self._conn = conn
        if instance is not None:
            instance.add_run_tags(self.run_id, {LIVENESS_TAG: "glyms-db-session"})
        return True

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                conn.close()
            except psycopg2.Error:
                pass


def dead_run_message(found_by: str) -> str:
    return f"the process of this run died; reported failed by {found_by}"


def reap_dead_runs(instance: Optional[dg.DagsterInstance], dsn: str, *, found_by: str, portal_url: Optional[str] = None,
                   exclude_run_id: Optional[str] = None, now: Optional[float] = None) -> list[str]:
    """Report failed every writer run of ``portal_url`` in ``instance`` still started whose process is gone
    (the liveness locks are in this portal's Glyms database ``dsn``); returns their ids."""
    if instance is None or not dsn:
        return []
    # this portal's writers, and those tagged before the tag named the portal
    values = dict.fromkeys([portal_identity(portal_url), UNKNOWN_PORTAL])
    records = [record for value in values for record in instance.get_run_records(
        filters=dg.RunsFilter(statuses=list(ACTIVE_STATUSES), tags={WRITER_TAG_KEY: value}))
        if record.dagster_run.run_id != exclude_run_id]
    if not records:
        return []
    try:
        conn = psycopg2.connect(dsn, connect_timeout=10, application_name="glyms-b24 dead-run check")
        try:
            rows = _query(conn, "run_alive_check", {"namespace": RUN_LOCK_NAMESPACE,
                                                    "run_ids": [r.dagster_run.run_id for r in records]})
        finally:
            conn.close()
    except psycopg2.Error as exc:
        log.info("dead-run check skipped: %s", type(exc).__name__)
        return []
    alive = {row["run_id"] for row in rows if row["alive"]}
    now = time.time() if now is None else now
    reaped = []
    for record in records:
        run = record.dagster_run
        if run.run_id in alive:
            continue
        if LIVENESS_TAG not in run.tags:
            changed = record.update_timestamp.timestamp() if record.update_timestamp else record.create_timestamp.timestamp()
            if now - changed < UNTAGGED_GRACE_SECONDS:
                continue
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status not in ACTIVE_STATUSES:
            continue
        message = dead_run_message(found_by)
        instance.report_run_failed(current, message)
        log.warning("run %s (%s) had no live process: reported failed", run.run_id, run.job_name)
        reaped.append(run.run_id)
    return reaped
