"""The change log ``f_cliente.sync_log_bitrix24``: claim, never lose, settle truthfully.

Rows are claimed by status (``FOR UPDATE SKIP LOCKED``), never by an id watermark, so runs that
overlap never take the same row and rows that arrive during a run wait for the next one. Claims
are taken under the portal's writer lock, so the next writer returns a dead run's claims at once;
a lease (renewed before the write slices, at least every tenth of the lease) is the safety net for any other claimer. Whatever a
run claimed and did not settle goes back to PENDING, without counting an attempt, when it ends.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Mapping, Optional, Sequence

import dagster as dg
from pydantic import Field, PrivateAttr

from glyms_b24_pipeline.defs.companies.plan import (
    ERROR,
    PROCESSED,
    SETTLED_WITHOUT_WRITE,
    CompanyAction,
    CustomerChanges,
    LogRow,
    PlannedCompanyChange,
)
from glyms_b24_pipeline.glyms.connection import connect, fetch_all, fetch_records
from glyms_b24_pipeline.glyms.contract import require_contract
from glyms_b24_pipeline.glyms.resource import GlymsTransaction
from glyms_b24_pipeline.glyms.rows import ChunkedPickle
from glyms_b24_pipeline.glyms.sql_files import read_sql
from glyms_b24_pipeline.settings.model import CompaniesSettings
from glyms_b24_pipeline.sync.push import BLOCKED, TRANSIENT, ChangeOutcome

log = logging.getLogger(__name__)

PENDING = "PENDING"
#: the longest pause before a transient failure is tried again
MAX_RETRY_DELAY_SECONDS = 6 * 3600.0


@dataclass(frozen=True)
class ClaimedChanges(ChunkedPickle):
    """The rows a run claimed, grouped per customer with the customer's current Glyms row."""

    chunked_fields = ("groups",)

    run_id: str
    groups: tuple[CustomerChanges, ...]
    reclaimed: int = 0
    per_operation: Mapping[str, int] = field(default_factory=dict)
    oldest_change: Optional[_dt.datetime] = None

    @property
    def rows(self) -> int:
        return sum(len(g.log_rows) for g in self.groups)

    def oldest_age_seconds(self, now: Optional[_dt.datetime] = None) -> float:
        if self.oldest_change is None:
            return 0.0
        now = now or _dt.datetime.now(_dt.timezone.utc)
        return max(0.0, (now - self.oldest_change).total_seconds())


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_pending: Optional[_dt.datetime]
    claimed: int
    parked: int


@dataclass(frozen=True)
class RowsInError:
    """Change-log rows in ERROR that nothing has put right since: how many, and the first ones."""

    total: int
    #: (log_id, id_cliente, operation, attempts, error), oldest first
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    @property
    def customers(self) -> list[str]:
        return list(dict.fromkeys(str(row[1]) for row in self.rows))


@dataclass(frozen=True)
class RowDecision:
    """How one log row ends this run (PENDING again = retried later)."""

    log_id: int
    status: str
    error: Optional[str] = None
    attempted: bool = True
    retry_after_seconds: Optional[float] = None
    company_id: Optional[int] = None


def group_claim(run_id: str, rows: Sequence[Mapping[str, Any]], customers: Mapping[int, Mapping[str, Any]],
                reclaimed: int = 0) -> ClaimedChanges:
    """Coalesce claimed rows per customer: ten changes of one customer become one group."""
    by_customer: dict[int, list[LogRow]] = {}
    for row in sorted(rows, key=lambda r: int(r["log_id"])):
        by_customer.setdefault(int(row["id_cliente"]), []).append(
            LogRow(int(row["log_id"]), sys.intern(str(row["operation_type"] or "").upper()), row.get("change_timestamp"),
                   int(row.get("attempts") or 0)))
    groups = tuple(CustomerChanges(str(customer_id), customers.get(customer_id), tuple(log_rows))
                   for customer_id, log_rows in sorted(by_customer.items()))
    stamps = [r["change_timestamp"] for r in rows if r.get("change_timestamp") is not None]
    return ClaimedChanges(run_id, groups, reclaimed,
                          dict(Counter(str(r["operation_type"] or "").upper() for r in rows)),
                          min(stamps) if stamps else None)


class ClaimRenewal:
    """Renews a run's claims before a write slice: before the first, then whenever a tenth of the lease
    has passed since the last renewal.

    Renewing touches every row the run still holds, so renewing before every slice would cost a
    large run as many updates of all its rows as it has slices. A renewal every lease/10 keeps every
    live claim far from expiring (a slice would have to take 9/10 of the lease), and the writer lock,
    not the lease, is what keeps other writers off a live run's rows."""

    def __init__(self, renew: Callable[[], None], lease_seconds: float, *,
                 clock: Callable[[], float] = time.monotonic):
        self._renew = renew
        self.interval = lease_seconds / 10
        self._clock = clock
        self._last: Optional[float] = None
        self.renewals = 0

    def __call__(self) -> None:
        now = self._clock()
        if self._last is None or now - self._last >= self.interval:
            self._renew()
            self._last = now
            self.renewals += 1


def retry_delay(attempts_so_far: int, settings: CompaniesSettings) -> float:
    """Seconds before a transient failure is tried again: doubles with each attempt."""
    return min(MAX_RETRY_DELAY_SECONDS, settings.retry_backoff_seconds * (2 ** max(0, attempts_so_far)))


def decisions_for(change: PlannedCompanyChange, outcome: Optional[ChangeOutcome[Any]],
                  settings: CompaniesSettings) -> list[RowDecision]:
    """The status of each log row of ``change``, from its plan (no write) or its write's outcome."""
    if outcome is None:
        status = SETTLED_WITHOUT_WRITE[change.action]
        error = change.reason if status != PROCESSED else None
        return [RowDecision(row.log_id, status, error, company_id=change.bitrix_id) for row in change.log_rows]
    if outcome.ok:
        company_id = None if change.action == CompanyAction.DELETE else outcome.bitrix_id
        return [RowDecision(row.log_id, PROCESSED, company_id=company_id) for row in change.log_rows]
    error = "; ".join(outcome.errors) or "write failed"
    kind = outcome.failure
    decisions = []
    for row in change.log_rows:
        if kind == BLOCKED:  # never tried: back to PENDING as it was
            decisions.append(RowDecision(row.log_id, PENDING, error, attempted=False))
        elif kind == TRANSIENT and row.attempts + 1 < settings.max_attempts:
            decisions.append(RowDecision(row.log_id, PENDING, error,
                                         retry_after_seconds=retry_delay(row.attempts, settings)))
        elif kind == TRANSIENT:
            decisions.append(RowDecision(row.log_id, ERROR,
                                         f"parked after {row.attempts + 1} attempts (companies.max_attempts); "
                                         f"last error: {error}; glyms-b24 requeue puts it back"))
        else:
            decisions.append(RowDecision(row.log_id, ERROR, error))
    return decisions


def settle_rows(tx: GlymsTransaction, run_id: str, decisions: Sequence[RowDecision]) -> int:
    """Write the decisions of rows this run still holds; returns how many were settled."""
    if not decisions:
        return 0
    rows = [{"log_id": d.log_id, "status": d.status, "error": (d.error or "")[:2000] or None, "attempted": d.attempted,
             "retry_after_seconds": d.retry_after_seconds, "company_id": d.company_id} for d in decisions]
    settled = tx.execute("change_log_settle", {"run_id": run_id, "rows": json.dumps(rows, ensure_ascii=False)})
    if settled != len(decisions):
        log.warning("%d of %d log rows were no longer claimed by run %s (their lease ran out); the next run "
                    "compares them again", len(decisions) - settled, len(decisions), run_id)
    return settled


class ChangeLog(dg.ConfigurableResource):
    """The customers' change log: claims pending rows for the run and gives back what it did not settle."""

    dsn: Annotated[str, Field(description="Glyms PostgreSQL DSN (GLYMS_PG_DSN)")]

    _claimed_by: set[str] = PrivateAttr(default_factory=set)

    def __repr_args__(self):  # the DSN may carry a password
        for name, value in super().__repr_args__():
            yield name, ("***" if name == "dsn" and value else value)

    def claim(self, run_id: str, settings: CompaniesSettings, *, holds_portal_lock: bool) -> ClaimedChanges:
        """Return abandoned claims to PENDING, then claim due rows (plus this run's unsettled ones).

        Holding the portal's writer lock, every other claim is a dead run's and returns at once;
        otherwise only claims older than the lease do."""
        require_contract(self.dsn)
        with connect(self.dsn) as conn:
            if holds_portal_lock:
                reclaimed = len(fetch_all(conn, read_sql("queries/change_log_reclaim_orphans.sql"), {"run_id": run_id}))
            else:
                reclaimed = len(fetch_all(conn, read_sql("queries/change_log_reclaim_expired.sql"),
                                          {"lease_seconds": settings.lease_seconds}))
            own = fetch_records(conn, read_sql("queries/change_log_claimed_by_run.sql"), {"run_id": run_id})
            new = fetch_records(conn, read_sql("queries/change_log_claim.sql"),
                                {"run_id": run_id, "limit": settings.claim_limit})
        self._claimed_by.add(run_id)
        rows = own + new
        ids = sorted({int(r["id_cliente"]) for r in rows})
        customers: dict[int, Mapping[str, Any]] = {}
        if ids:
            with connect(self.dsn) as conn:
                customers = {int(c["id_cliente"]): c for c in fetch_records(
                    conn, read_sql("queries/customers_by_id.sql"), {"ids": ids}, stream=5_000)}
        if reclaimed:
            log.warning("%d change-log rows claimed by a run that died went back to PENDING", reclaimed)
        return group_claim(run_id, rows, customers, reclaimed)

    def renew(self, run_id: str) -> None:
        """Renew this run's claims (before a write slice: :class:`ClaimRenewal`)."""
        with connect(self.dsn) as conn, conn.cursor() as cur:
            cur.execute(read_sql("queries/change_log_heartbeat.sql"), {"run_id": run_id})

    def release(self, run_id: str) -> int:
        """Give back, without counting an attempt, every row the run claimed and did not settle."""
        with connect(self.dsn) as conn:
            released = len(fetch_all(conn, read_sql("queries/change_log_release.sql"), {"run_id": run_id}))
        if released:
            log.info("%d claimed change-log rows not settled by run %s went back to PENDING", released, run_id)
        return released

    def backlog(self, settings: CompaniesSettings) -> Backlog:
        with connect(self.dsn) as conn:
            row = fetch_all(conn, read_sql("queries/change_log_backlog.sql"), {"max_attempts": settings.max_attempts})[0]
        return Backlog(int(row["pending"]), row["oldest_pending"], int(row["claimed"]), int(row["parked"]))

    def rows_in_error(self, limit: int = 100) -> RowsInError:
        """Rows in ERROR, whatever their attempts, until requeued or followed by a processed change of their customer."""
        with connect(self.dsn) as conn:
            found = fetch_all(conn, read_sql("queries/change_log_rows_in_error.sql"), {"limit": limit})
        return RowsInError(int(found[0]["total"]) if found else 0,
                           [(r["log_id"], r["id_cliente"], r["operation_type"], r["attempts"], r["error_message"])
                            for r in found])

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        for run_id in self._claimed_by:
            try:
                self.release(run_id)
            except Exception as exc:  # the lease returns them anyway
                log.warning("could not give back the claimed rows of run %s: %s", run_id, exc)
        self._claimed_by.clear()
