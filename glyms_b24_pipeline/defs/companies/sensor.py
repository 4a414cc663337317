"""The pending-log sensor: a customer edited in Glyms reaches Bitrix24 in seconds, not at the next cron line."""

import datetime as _dt
import json
from dataclasses import asdict, dataclass
from typing import Optional, Sequence

import dagster as dg

from glyms_b24_pipeline.defs.companies.changelog import ChangeLog
from glyms_b24_pipeline.glyms.connection import connect, fetch_all
from glyms_b24_pipeline.glyms.sql_files import read_sql
from glyms_b24_pipeline.settings.model import CompanySensorSettings
from glyms_b24_pipeline.settings.resource import SyncSettings
from glyms_b24_pipeline.sync.jobs import location_runs_tags

SENSOR_NAME = "companies_pending_log_sensor"
#: the jobs that consume the change log: a run of any of them in flight means "wait"
CONSUMER_JOBS = ("companies_sync", "full_sync")
IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED]
#: after a run ended leaving the same work pending, the next launch waits this long, doubling
RELAUNCH_PAUSE_SECONDS = 30.0
MAX_RELAUNCH_PAUSE_SECONDS = 3600.0


@dataclass(frozen=True)
class Due:
    rows: int
    oldest_age_seconds: float
    last_log_id: int


@dataclass(frozen=True)
class SensorCursor:
    """The work last launched (up to which log row) and how many times it was launched."""

    last_log_id: int = 0
    launches: int = 0
    launched_at: float = 0.0

    @classmethod
    def parse(cls, text: Optional[str]) -> "SensorCursor":
        try:
            return cls(**json.loads(text)) if text else cls()
        except (TypeError, ValueError):
            return cls()

    def dump(self) -> str:
        return json.dumps(asdict(self))


def due_rows(dsn: str) -> Due:
    with connect(dsn) as conn:
        row = fetch_all(conn, read_sql("queries/change_log_due.sql"))[0]
    oldest = row["oldest"]
    age = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=_dt.timezone.utc)
        age = max(0.0, (_dt.datetime.now(_dt.timezone.utc) - oldest).total_seconds())
    return Due(int(row["due"]), age, int(row["last_log_id"] or 0))


def decide(due: Due, settings: CompanySensorSettings, cursor: SensorCursor, in_flight: Sequence[str],
           now: float) -> tuple[Optional[str], Optional[str], SensorCursor]:
    """(run_key to launch, or None; why not; the new cursor). Pure, so every branch is testable."""
    if due.rows == 0:
        return None, "nothing pending in f_cliente.sync_log_bitrix24", cursor
    if in_flight:
        return None, f"a companies run is already queued or running ({in_flight[0]}); {due.rows} rows wait for it", cursor
    if due.rows < settings.min_pending and due.oldest_age_seconds < settings.max_age_seconds:
        return None, (f"{due.rows} pending rows (< companies.sensor.min_pending {settings.min_pending}), the oldest "
                      f"{due.oldest_age_seconds:.0f} s old (< max_age_seconds {settings.max_age_seconds:.0f})"), cursor
    launches = cursor.launches + 1 if due.last_log_id == cursor.last_log_id else 1
    if launches > 1:  # the last run ended and left this same work pending: back off
        pause = min(MAX_RELAUNCH_PAUSE_SECONDS, RELAUNCH_PAUSE_SECONDS * 2 ** (launches - 2))
        if now - cursor.launched_at < pause:
            return None, (f"the last run left {due.rows} rows pending; next try in "
                          f"{pause - (now - cursor.launched_at):.0f} s"), cursor
    run_key = f"log-{due.last_log_id}-try-{launches}"
    return run_key, None, SensorCursor(due.last_log_id, launches, now)


@dg.sensor(name=SENSOR_NAME, job_name="companies_sync", minimum_interval_seconds=15,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Launches companies_sync when customer changes are pending (companies.sensor.*).")
def companies_pending_log_sensor(context: dg.SensorEvaluationContext, change_log: ChangeLog,
                                 sync_settings: SyncSettings):
    all_settings = sync_settings.load()
    settings = all_settings.companies.sensor
    due = due_rows(change_log.dsn)
    # this code location's runs only: another portal's run does not consume this change log
    runs = context.instance.get_runs(dg.RunsFilter(job_name=None, statuses=IN_FLIGHT,
                                                   tags=location_runs_tags(all_settings.location)), limit=50)
    in_flight = [run.run_id for run in runs if run.job_name in CONSUMER_JOBS]
    run_key, reason, cursor = decide(due, settings, SensorCursor.parse(context.cursor), in_flight,
                                     _dt.datetime.now(_dt.timezone.utc).timestamp())
    if run_key is None:
        return dg.SkipReason(reason)
    context.update_cursor(cursor.dump())
    return dg.RunRequest(run_key=run_key, tags={"glyms_b24/pending_rows": str(due.rows),
                                                "glyms_b24/oldest_age_seconds": f"{due.oldest_age_seconds:.0f}"})
