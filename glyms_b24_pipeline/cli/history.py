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
from glyms_b24_pipeline.cli.output import emit
from glyms_b24_pipeline.cli.portal import format_table
from glyms_b24_pipeline.cli.reasons import N_, translated
from glyms_b24_pipeline.cli.sync import STATUS_WORDS, sync_types
from glyms_b24_pipeline.definitions import SYNCS, syncs_named
from glyms_b24_pipeline.defs.maintenance.retention import prune
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.runs.instance import dagster_home, describe_url, open_instance, storage_url, writer_slot_problem
from glyms_b24_pipeline.settings.errors import ConfigError
from glyms_b24_pipeline.settings.model import DEFAULT_LOCATION_NAME, LocationSettings, load_settings, require_env
from glyms_b24_pipeline.sync.jobs import REPOSITORY_LABEL_TAG, job_names
from glyms_b24_pipeline.sync.outcome import COUNTS_TAG, RunOutcome, run_failed_reason, run_verdict

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


def run_counts(outcome: RunOutcome) -> dict[str, Optional[int]]:
    """written / failed / requests of one run, added up from its materialisations' metadata."""

    totals: dict[str, Optional[float]] = {"written": None, "failed": None, "requests": None}
    keys = {"written": "succeeded", "failed": "failed", "requests": "b24_requests"}
    for metadata in outcome.materializations.values():
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


ALL_LOCATIONS = "all"


def run_location(run: Any) -> str:
    """The code location a run was created from ("" when it has none, e.g. a test's in-process run)."""
    origin = run.remote_job_origin
    return origin.location_name if origin is not None else ""


def history_rows(instance: Any, *, since: Optional[_dt.datetime], sync_type: str, limit: int,
                 location: str = ALL_LOCATIONS) -> list[dict[str, Any]]:

    jobs = job_names_for(sync_type)
    tags = {} if location == ALL_LOCATIONS else {REPOSITORY_LABEL_TAG: f"__repository__@{location}"}
    filters = [dg.RunsFilter(job_name=job, created_after=since, tags=tags) for job in jobs] if jobs else [
        dg.RunsFilter(created_after=since, tags=tags)]
    records = [record for f in filters for record in instance.get_run_records(filters=f, limit=limit)]
    records.sort(key=lambda r: r.create_timestamp, reverse=True)
    rows = []
    for record in records[:limit]:
        run = record.dagster_run
        started = record.start_time
        ended = record.end_time
        rows.append({
            "run_id": run.run_id,
            "location": run_location(run),
            "job": run.job_name,
            "status": run.status.value,
            "created": _local(record.create_timestamp),
            "started": _local(started) if started else "",
            "duration_seconds": round(ended - started, 1) if started and ended else None,
            # one read of the run's events serves its counts and its verdict
            **run_counts(outcome := RunOutcome.from_storage(instance, run.run_id)),
            **_verdict_columns(outcome, run),
        })
    return rows


def _verdict_columns(outcome: RunOutcome, run: dg.DagsterRun) -> dict[str, Any]:
    """The run's outcome and its change-log rows in error (from its events, as its tags say them)."""
    if not run.is_finished:
        return {"outcome": "", "in_error": None}
    verdict = run_verdict(outcome)
    return {"outcome": verdict.outcome, "in_error": verdict.rows_in_error}


#: the tables a run's materialisations and checks hold about single rows (metadata key -> what)
ROW_TABLES = {"failures": N_("writes that failed"), "not_synced_rows": N_("rows not synced"),
              "rows_in_error_rows": N_("change-log rows in ERROR"), "excluded_rows": N_("rows excluded on purpose"),
              "link_candidate_rows": N_("link candidates"), "services_affected_rows": N_("services without a mapping"),
              "unpriced_rows": N_("services without a valid price"), "unmapped_rows": N_("customers without a mapping"),
              "invalid_emails_rows": N_("customers with an invalid e-mail")}


def run_report_lines(instance: Any, run_id: str) -> list[str]:
    """One run: its job, outcome and counts, its steps, its failing checks and the rows they are about."""
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        raise ConfigError(f"run {run_id} is not in the run history of this instance (DAGSTER_HOME)")
    run = record.dagster_run
    outcome = RunOutcome.from_storage(instance, run_id)
    verdict = run_verdict(outcome) if run.is_finished else None
    lines = [f"Run {run_id} ({run.job_name}): " + (verdict.outcome.upper() if verdict else run.status.value),
             *(f"  error: {cause}" for cause in (run_failed_reason(outcome) if not outcome.success else []))]
    if verdict is not None:
        lines.append("  " + verdict.tags()[COUNTS_TAG])
    lines = [translated(line) for line in lines]
    steps = instance.get_run_step_stats(run_id)
    if steps:
        lines += ["", *format_table([_("step"), _("status"), _("duration")], [
            (step.step_key, step.status.value if step.status else "", _duration(
                step.end_time - step.start_time if step.start_time and step.end_time else None)) for step in steps])]
    lines += [translated(f"  check failed: {e.asset_key.to_user_string()} {e.check_name}")
              for e in outcome.check_evaluations if not e.passed]
    for key, metadata in [*outcome.materializations.items(), *_check_metadata(instance, run_id)]:
        for name, what in ROW_TABLES.items():
            table = metadata.get(name)
            records = getattr(table, "records", None)
            if not records:
                continue
            schema = getattr(table, "schema", None)
            columns = [c.name for c in schema.columns] if schema is not None else list(records[0].data)
            lines += ["", f"{key.to_user_string()}: {_(what)}",
                      *format_table(columns, [[r.data.get(c) for c in columns] for r in records])]
    return lines


def _check_metadata(instance: Any, run_id: str) -> list[tuple[dg.AssetKey, dict[str, Any]]]:
    found = []
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION,
                                               limit=1000).records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if not evaluation.passed:
            found.append((evaluation.asset_key, {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}))
    return found


def key_prefixes(instance: Any, location: str) -> list[tuple[str, ...]]:
    """The asset key prefixes of ``location``, or of every location that ever pushed (``all``)."""
    if location != ALL_LOCATIONS:
        return [() if location == DEFAULT_LOCATION_NAME else LocationSettings(name=location).key_prefix]
    pushes = [tuple(spec.push_key.path) for spec in SYNCS]
    found = {tuple(key.path[:-len(push)]) for key in instance.get_asset_keys() for push in pushes
             if len(key.path) >= len(push) and tuple(key.path[-len(push):]) == push}
    return sorted(found) or [()]


def freshness_lines(instance: Any, sync_type: str, location: str = ALL_LOCATIONS) -> list[str]:
    """How long ago each sync's push last succeeded, against ``freshness.max_age_hours`` (per location)."""
    max_age = load_settings().freshness.max_age_hours
    lines = []
    for prefix in key_prefixes(instance, location):
        for spec in syncs_named(None if sync_type == "all" else [sync_type], prefix):
            name = "/".join([*prefix, spec.name])
            event = instance.get_latest_materialization_event(spec.push_key)
            if event is None:
                lines.append(_("{sync}: never pushed").format(sync=name))
                continue
            hours = (time.time() - event.timestamp) / 3600
            state = _("STALE") if hours > max_age else _("up to date")
            lines.append(_("{sync}: last push {hours:.1f} h ago, {state} (limit {limit:g} h)").format(
                sync=name, hours=hours, state=state, limit=max_age))
    return lines


@quiet_on_closed_pipe
def history_command(args: argparse.Namespace) -> int:

    settings = load_settings(args.config)
    if args.config:
        os.environ["GLYMS_B24_CONFIG"] = os.path.abspath(args.config)
    since = parse_since(args.since)
    # a named location's environment sees its own runs unless asked for all
    location = args.location or settings.location.name or ALL_LOCATIONS
    if location != ALL_LOCATIONS:
        try:
            LocationSettings(name=location)
        except ValueError:
            raise ConfigError(f"--location {location!r}: a code location's name (location.name) or all") from None
    with open_instance() as instance:
        if args.run:
            emit(run_report_lines(instance, args.run))
            return 0
        rows = history_rows(instance, since=since, sync_type=args.sync_type, limit=args.limit, location=location)
        if args.format == "json":
            print(json.dumps(rows, ensure_ascii=False, indent=2))
            return 0
        if not rows:
            print(_("no runs since {since}").format(since=f"{since:%Y-%m-%d %H:%M}") if since else _("no runs"))
        else:
            several = len({r["location"] for r in rows}) > 1
            _emit_table([_("run"), *([_("location")] if several else []), _("job"), _("status"), _("outcome"),
                         _("start"), _("duration"), _("written"), _("failed"), _("in_error"), _("requests")],
                        [(r["run_id"], *([r["location"]] if several else []), r["job"], r["status"],
                          _(STATUS_WORDS[r["outcome"]]) if r["outcome"] in STATUS_WORDS else r["outcome"],
                          r["started"] or r["created"], _duration(r["duration_seconds"]), r["written"], r["failed"],
                          r["in_error"], r["requests"]) for r in rows])
        for line in freshness_lines(instance, args.sync_type, location):
            print(line)
    return 0


# --- audit -----------------------------------------------------------------------------------------

AUDIT_COLUMNS = ["recorded_at", "run_id", "entity", "glyms_key", "bitrix_id", "operation", "outcome", "error"]


def audit_rows(dsn: str, *, since: Optional[_dt.datetime] = None, status: Optional[str] = None,
               glyms_key: Optional[str] = None, entity: Optional[str] = None, run_id: Optional[str] = None,
               limit: int = 200) -> list[dict[str, Any]]:

    return GlymsDatabase(dsn=dsn).rows("sync_audit_search", {
        "since": since, "outcome": status, "glyms_key": glyms_key, "entity": entity, "run_id": run_id, "limit": limit})


def read_env_file(path: str) -> dict[str, str]:
    """``NAME=value`` lines of a systemd environment file (comments, blank lines and quotes as systemd reads them)."""
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as exc:
        raise ConfigError(f"--env-file {path}: cannot read it ({exc.strerror})") from None
    values = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        name, value = (part.strip() for part in line.split("=", 1))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def audit_sources(env_files: Sequence[str]) -> list[tuple[str, str]]:
    """(location, Glyms DSN) of each location's environment file; of this environment without one."""
    if not env_files:
        return [("", require_env("GLYMS_PG_DSN", "DSN of the Glyms PostgreSQL database"))]
    sources = []
    for path in env_files:
        env = read_env_file(path)
        if not env.get("GLYMS_PG_DSN"):
            raise ConfigError(f"--env-file {path}: GLYMS_PG_DSN is not set there (DSN of that portal's Glyms database)")
        sources.append((load_settings(env.get("GLYMS_B24_CONFIG") or None).location.location_name, env["GLYMS_PG_DSN"]))
    return sources


@quiet_on_closed_pipe
def audit_command(args: argparse.Namespace) -> int:
    # each portal's audit is in its own Glyms database: --env-file names each location's environment
    sources = audit_sources(args.env_files or [])
    rows = []
    for location, dsn in sources:
        found = audit_rows(dsn, since=parse_since(args.since), status=args.status, glyms_key=args.key,
                           entity=args.entity, run_id=args.run, limit=args.limit)
        rows += [{"location": location, **row} if len(sources) > 1 else row for row in found]
    if len(sources) > 1:
        rows = sorted(rows, key=lambda row: row["recorded_at"], reverse=True)[:args.limit]
    columns = (["location"] if len(sources) > 1 else []) + AUDIT_COLUMNS
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_local(row["recorded_at"]) if c == "recorded_at" else row[c] for c in columns]
                          for row in rows])
    elif not rows:
        print(_("no audit rows match"))
    else:
        _emit_table(columns, [[_local(row["recorded_at"]) if c == "recorded_at" else row[c] for c in columns]
                              for row in rows])
    return 0


# --- prune, init-instance ----------------------------------------------------------------------------------


def prune_command(args: argparse.Namespace) -> int:

    settings = load_settings(args.config)
    dsn = require_env("GLYMS_PG_DSN", _("DSN of the Glyms PostgreSQL database"))
    with open_instance() as instance:
        result = prune(instance, GlymsDatabase(dsn=dsn), settings.history, dry_run=args.dry_run,
                       location=settings.location)
    print("\n".join(translated(line) for line in result.lines()))
    return 0


def init_instance_command(args: argparse.Namespace) -> int:

    home = dagster_home()
    url = storage_url(home)
    with open_instance(home) as instance:
        problem = writer_slot_problem(instance)
    if problem:  # a dagster.yaml of before: the units still start, the operator is told
        print(_("warning: {problem}").format(problem=translated(problem)), file=sys.stderr)
    where = f"PostgreSQL {describe_url(url)}" if url else _("SQLite in {home}").format(home=home)
    print(_("Dagster instance ready: {where}").format(where=where))
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    history = commands.add_parser("history", help=_("list recent runs with their counts (run history)"))
    history.add_argument("--since", help=_("from 2026-11-01, or the last 24h / 7d"))
    history.add_argument("--type", dest="sync_type", choices=sync_types(), default="all")
    history.add_argument("--limit", type=int, default=20, help=_("newest N runs (default 20)"))
    history.add_argument("--format", choices=["table", "json"], default="table")
    history.add_argument("--run", metavar="RUN_ID", help=_("one run: its outcome, steps, failed checks and failing rows"))
    history.add_argument("--location", metavar="NAME|all",
                         help=_("runs of one code location, or of all (default: location.name of the settings, "
                                "else all)"))
    history.set_defaults(handler=history_command)

    audit = commands.add_parser("audit", help=_("search the row-level audit of writes (glyms_b24.sync_audit)"))
    audit.add_argument("--since", help=_("from 2026-11-01, or the last 24h / 7d"))
    audit.add_argument("--status", choices=["sent", "success", "failed", "skipped"])
    audit.add_argument("--key", help=_("a Glyms key (service xmlId, customer id)"))
    audit.add_argument("--entity", help=_("e.g. service, service_price, company"))
    audit.add_argument("--run", metavar="RUN_ID", help=_("rows of one run"))
    audit.add_argument("--limit", type=int, default=200, help=_("newest N rows (default 200)"))
    audit.add_argument("--format", choices=["table", "json", "csv"], default="table")
    audit.add_argument("--env-file", dest="env_files", action="append", metavar="FILE",
                       help=_("a location's environment (deploy/portals/portal.env.example): its Glyms database's "
                              "audit; repeat it for several locations, their rows together (default: this environment)"))
    audit.set_defaults(handler=audit_command)

    prune = commands.add_parser("prune", help=_("delete audit rows and runs older than history.audit_days / runs_days"))
    prune.add_argument("--dry-run", action="store_true", help=_("only count what would be deleted"))
    prune.set_defaults(handler=prune_command)

    init = commands.add_parser("init-instance", help=_("create or migrate Dagster's storage once (before the services start)"))
    init.set_defaults(handler=init_instance_command)
