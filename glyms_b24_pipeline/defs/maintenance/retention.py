"""Retention: old audit rows and old run history are pruned daily (``maintenance_prune``) and on demand.

No `from __future__ import annotations`: Dagster reads the op's context and resource types at definition time."""


import datetime as _dt
from dataclasses import dataclass
from typing import Optional

import dagster as dg

from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.settings.model import SINGLE_PORTAL, HistorySettings, LocationSettings
from glyms_b24_pipeline.settings.resource import SyncSettings
from glyms_b24_pipeline.sync.jobs import location_runs_tags

AUDIT_BATCH = 5_000
RUNS_BATCH = 200
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
PRUNE_JOB = "maintenance_prune"


@dataclass(frozen=True)
class PruneResult:
    audit_cutoff: _dt.datetime
    runs_cutoff: _dt.datetime
    audit_rows: int
    runs: int
    dry_run: bool

    def lines(self) -> list[str]:
        verb = "would be deleted" if self.dry_run else "deleted"
        return [
            f"audit: {self.audit_rows} rows before {self.audit_cutoff:%Y-%m-%d %H:%M} {verb}",
            f"history: {self.runs} runs before {self.runs_cutoff:%Y-%m-%d %H:%M} {verb}",
        ]


def prune_audit(db: GlymsDatabase, cutoff: _dt.datetime, *, dry_run: bool = False, batch: int = AUDIT_BATCH) -> int:
    """Delete audit rows recorded before ``cutoff`` in batches (each its own transaction); returns how many."""
    if dry_run:
        return int(db.rows("sync_audit_prune_count", {"cutoff": cutoff})[0]["rows"])
    total = 0
    while True:
        deleted = db.execute("sync_audit_prune_batch", {"cutoff": cutoff, "batch": batch})
        total += deleted
        if deleted < batch:
            return total


def prune_runs(instance: dg.DagsterInstance, cutoff: _dt.datetime, *, dry_run: bool = False,
               batch: int = RUNS_BATCH, location: LocationSettings = SINGLE_PORTAL) -> int:
    """Delete finished runs created before ``cutoff`` with their events (a named location: only its own);
    returns how many."""
    filters = dg.RunsFilter(statuses=FINISHED, created_before=cutoff, tags=location_runs_tags(location))
    if dry_run:
        return instance.get_runs_count(filters)
    total = 0
    while True:
        records = instance.get_run_records(filters=filters, limit=batch, order_by="create_timestamp", ascending=True)
        for record in records:
            instance.delete_run(record.dagster_run.run_id)
        total += len(records)
        if len(records) < batch:
            return total


def prune(instance: dg.DagsterInstance, db: GlymsDatabase, settings: HistorySettings, *, dry_run: bool = False,
          now: Optional[_dt.datetime] = None, location: LocationSettings = SINGLE_PORTAL) -> PruneResult:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    audit_cutoff = now - _dt.timedelta(days=settings.audit_days)
    runs_cutoff = now - _dt.timedelta(days=settings.runs_days)
    return PruneResult(audit_cutoff=audit_cutoff, runs_cutoff=runs_cutoff,
                       audit_rows=prune_audit(db, audit_cutoff, dry_run=dry_run),
                       runs=prune_runs(instance, runs_cutoff, dry_run=dry_run, location=location), dry_run=dry_run)


@dg.op(name="prune_history", out=dg.Out(dg.Nothing))
def prune_history(context: dg.OpExecutionContext, glyms_db: GlymsDatabase, sync_settings: SyncSettings):
    """Deletes audit rows and finished runs older than history.audit_days / history.runs_days."""
    all_settings = sync_settings.load()
    settings = all_settings.history
    result = prune(context.instance, glyms_db, settings, location=all_settings.location)
    for line in result.lines():
        context.log.info(line)
    context.add_output_metadata({"audit_rows_deleted": result.audit_rows, "runs_deleted": result.runs,
                                 "audit_days": settings.audit_days, "runs_days": settings.runs_days})


@dg.job(name=PRUNE_JOB, executor_def=dg.in_process_executor, tags={"glyms_b24/maintenance": "prune"},
        description="Deletes audit rows and run history older than the configured retention (history.*).")
def maintenance_prune() -> None:
    prune_history()


maintenance_prune_daily = dg.ScheduleDefinition(
    name="maintenance_prune_daily",
    job=maintenance_prune,
    cron_schedule="30 3 * * *",
    execution_timezone="America/Argentina/Buenos_Aires",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Prunes old audit rows and run history every night, before the services sync.",
)
