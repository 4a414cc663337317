"""``glyms-b24 history``, ``audit``, ``prune`` and ``init-instance``: what ran, what was written, what is kept."""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import functools
import json
import os
import re
import sys
import time
from typing import Any, Callable, Iterable, Optional, Sequence

import dagster as dg

from glyms_b24_pipeline.cli.i18n import _
from glyms_b24_pipeline.cli.portal import format_table
from glyms_b24_pipeline.cli.reasons import translated
from glyms_b24_pipeline.cli.sync import sync_types
from glyms_b24_pipeline.definitions import syncs_named
from glyms_b24_pipeline.defs.maintenance.retention import prune
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.runs.instance import dagster_home, describe_url, open_instance, storage_url
from glyms_b24_pipeline.settings.errors import ConfigError
from glyms_b24_pipeline.settings.model import load_settings, require_env
from glyms_b24_pipeline.sync.jobs import job_names

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhd])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: Optional[str], *, now: Optional[_dt.datetime] = None) -> Optional[_dt.datetime]:
    """``2026-11-01`` (local midnight), ``2026-11-01 08:30``, ``24h``, ``7d`` or ``90m`` -> an aware datetime."""
    if text is None or not text.strip():
        return None
    match = _RELATIVE.match(text)
    if match:
        now = now or _dt.datetime.now(_dt.timezone.utc)
        return now - _dt.timedelta(**{_UNITS[match.group(2).lower()]: float(match.group(1))})
    try:
        moment = _dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(_("--since {text}: use a date (2026-11-01), hours (24h) or days (7d)").format(text=repr(text))) from None
    return moment if moment.tzinfo else moment.astimezone()  # a bare date or time is local


def _local(moment: Optional[Any]) -> str:
    if moment is None:
        return ""
    if isinstance(moment, (int, float)):
        moment = _dt.datetime.fromtimestamp(moment, _dt.timezone.utc)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def quiet_on_closed_pipe(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``glyms-b24 history | head`` ends quietly when ``head`` stops reading."""

    @functools.wraps(handler)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            result = handler(args)
            sys.stdout.flush()
            return result
        except BrokenPipeError:
            # Python would complain again when it flushes stdout at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0

    return wrapper


def _emit_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:

    for line in format_table(headers, rows):
        print(line)


# --- history -------------------------------------------------------------------------------------


def _number(value: Any) -> Optional[float]:
    value = getattr(value, "value", value)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def run_counts(instance: Any, run_id: str) -> dict[str, Optional[int]]:
    """written / failed / requests of one run, added up from its materialisations' metadata."""

    totals: dict[str, Optional[float]] = {"written": None, "failed": None, "requests": None}
    keys = {"written": "succeeded", "failed": "failed", "requests": "b24_requests"}
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=1000).records
    for record in records:
        metadata = record.event_log_entry.dagster_event.step_materialization_data.materialization.metadata
        for name, key in keys.items():
            number = _number(metadata.get(key))
            if number is not None:
                totals[name] = (totals[name] or 0) + number
    return {name: (int(value) if value is not None else None) for name, value in totals.items()}


def job_names_for(sync_type: str) -> Optional[list[str]]:
    """The jobs of a sync type (None for every run)."""
    if sync_type == "all":
        return None
    return job_names(syncs_named([sync_type]))


def history_rows(instance: Any, *, since: Optional[_dt.datetime], sync_type: str, limit: int) -> list[dict[str, Any]]:

    jobs = job_names_for(sync_type)
    filters = [dg.RunsFilter(job_name=job, created_after=since) for job in jobs] if jobs else [
        dg.RunsFilter(created_after=since)]
    records = [record for f in filters for record in instance.get_run_records(filters=f, limit=limit)]
    records.sort(key=lambda r: r.create_timestamp, reverse=True)
    rows = []
    for record in records[:limit]:
        run = record.dagster_run
        started = record.start_time
        ended = record.end_time
        rows.append({
            "run_id": run.run_id,
            "job": run.job_name,
            "status": run.status.value,
            "created": _local(record.create_timestamp),
            "started": _local(started) if started else "",
            "duration_seconds": round(ended - started, 1) if started and ended else None,
            **run_counts(instance, run.run_id),
        })
    return rows


def freshness_lines(instance: Any, sync_type: str) -> list[str]:
    """How long ago each sync's push last succeeded, against ``freshness.max_age_hours``."""
    max_age = load_settings().freshness.max_age_hours
    lines = []
    for spec in syncs_named(None if sync_type == "all" else [sync_type]):
        event = instance.get_latest_materialization_event(spec.push_key)
        if event is None:
            lines.append(_("{sync}: never pushed").format(sync=spec.name))
            continue
        hours = (time.time() - event.timestamp) / 3600
        state = _("STALE") if hours > max_age else _("up to date")
        lines.append(_("{sync}: last push {hours:.1f} h ago, {state} (limit {limit:g} h)").format(
            sync=spec.name, hours=hours, state=state, limit=max_age))
    return lines


@quiet_on_closed_pipe
def history_command(args: argparse.Namespace) -> int:

    load_settings(args.config)
    if args.config:
        os.environ["GLYMS_B24_CONFIG"] = os.path.abspath(args.config)
    since = parse_since(args.since)
    with open_instance() as instance:
        rows = history_rows(instance, since=since, sync_type=args.sync_type, limit=args.limit)
        if args.format == "json":
            print(json.dumps(rows, ensure_ascii=False, indent=2))
            return 0
        if not rows:
            print(_("no runs since {since}").format(since=f"{since:%Y-%m-%d %H:%M}") if since else _("no runs"))
        else:
            _emit_table([_("run"), _("job"), _("status"), _("start"), _("duration"), _("written"), _("failed"),
                         _("requests")],
                        [(r["run_id"], r["job"], r["status"], r["started"] or r["created"],
                          _duration(r["duration_seconds"]), r["written"], r["failed"], r["requests"]) for r in rows])
        for line in freshness_lines(instance, args.sync_type):
            print(line)
    return 0


# --- audit -----------------------------------------------------------------------------------------

AUDIT_COLUMNS = ["recorded_at", "run_id", "entity", "glyms_key", "bitrix_id", "operation", "outcome", "error"]


def audit_rows(dsn: str, *, since: Optional[_dt.datetime] = None, status: Optional[str] = None,
               glyms_key: Optional[str] = None, entity: Optional[str] = None, run_id: Optional[str] = None,
               limit: int = 200) -> list[dict[str, Any]]:

    return GlymsDatabase(dsn=dsn).rows("sync_audit_search", {
        "since": since, "outcome": status, "glyms_key": glyms_key, "entity": entity, "run_id": run_id, "limit": limit})


@quiet_on_closed_pipe
def audit_command(args: argparse.Namespace) -> int:
    dsn = require_env("GLYMS_PG_DSN", _("DSN of the Glyms PostgreSQL database"))
    rows = audit_rows(dsn, since=parse_since(args.since), status=args.status, glyms_key=args.key, entity=args.entity,
                      run_id=args.run, limit=args.limit)
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(AUDIT_COLUMNS)
        writer.writerows([[_local(row["recorded_at"]) if c == "recorded_at" else row[c] for c in AUDIT_COLUMNS]
                          for row in rows])
    elif not rows:
        print(_("no audit rows match"))
    else:
        _emit_table(AUDIT_COLUMNS, [[_local(row["recorded_at"]) if c == "recorded_at" else row[c] for c in AUDIT_COLUMNS]
                                    for row in rows])
    return 0


# --- prune, init-instance ----------------------------------------------------------------------------------


def prune_command(args: argparse.Namespace) -> int:

    settings = load_settings(args.config)
    dsn = require_env("GLYMS_PG_DSN", _("DSN of the Glyms PostgreSQL database"))
    with open_instance() as instance:
        result = prune(instance, GlymsDatabase(dsn=dsn), settings.history, dry_run=args.dry_run)
    print("\n".join(translated(line) for line in result.lines()))
    return 0


def init_instance_command(args: argparse.Namespace) -> int:

    home = dagster_home()
    url = storage_url(home)
    with open_instance(home):
        pass
    where = f"PostgreSQL {describe_url(url)}" if url else _("SQLite in {home}").format(home=home)
    print(_("Dagster instance ready: {where}").format(where=where))
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    history = commands.add_parser("history", help=_("list recent runs with their counts (run history)"))
    history.add_argument("--since", help=_("from 2026-11-01, or the last 24h / 7d"))
    history.add_argument("--type", dest="sync_type", choices=sync_types(), default="all")
    history.add_argument("--limit", type=int, default=20, help=_("newest N runs (default 20)"))
    history.add_argument("--format", choices=["table", "json"], default="table")
    history.set_defaults(handler=history_command)

    audit = commands.add_parser("audit", help=_("search the row-level audit of writes (glyms_b24.sync_audit)"))
    audit.add_argument("--since", help=_("from 2026-11-01, or the last 24h / 7d"))
    audit.add_argument("--status", choices=["sent", "success", "failed", "skipped"])
    audit.add_argument("--key", help=_("a Glyms key (service xmlId, customer id)"))
    audit.add_argument("--entity", help=_("e.g. service, service_price, company"))
    audit.add_argument("--run", metavar="RUN_ID", help=_("rows of one run"))
    audit.add_argument("--limit", type=int, default=200, help=_("newest N rows (default 200)"))
    audit.add_argument("--format", choices=["table", "json", "csv"], default="table")
    audit.set_defaults(handler=audit_command)

    prune = commands.add_parser("prune", help=_("delete audit rows and runs older than history.audit_days / runs_days"))
    prune.add_argument("--dry-run", action="store_true", help=_("only count what would be deleted"))
    prune.set_defaults(handler=prune_command)

    init = commands.add_parser("init-instance", help=_("create or migrate Dagster's storage once (before the services start)"))
    init.set_defaults(handler=init_instance_command)
