"""``glyms-b24 sync``: run syncs now as Dagster runs on the configured instance."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import dagster as dg

from glyms_b24_pipeline.bitrix24 import progress
from glyms_b24_pipeline.bitrix24.factory import ConnectionValues
from glyms_b24_pipeline.cli import terminal
from glyms_b24_pipeline.cli.environment import check_bitrix24_environment
from glyms_b24_pipeline.cli.i18n import _
from glyms_b24_pipeline.cli.output import emit
from glyms_b24_pipeline.cli.reasons import translated
from glyms_b24_pipeline.definitions import SYNCS, syncs_named
from glyms_b24_pipeline.runs.instance import dagster_home, open_instance, storage_url
from glyms_b24_pipeline.runs.launch import launch
from glyms_b24_pipeline.settings.model import CONFIG_ENV_VAR, load_settings, require_env
from glyms_b24_pipeline.sync.failures import EXIT_CODE_KEY
from glyms_b24_pipeline.sync.jobs import FULL_SYNC_JOB
from glyms_b24_pipeline.sync.liveness import reap_dead_runs
from glyms_b24_pipeline.sync.outcome import (
    DONE,
    DONE_WITH_PROBLEMS,
    FAILED,
    RunVerdict,
    record_verdict,
    run_failed_reason,
)
from glyms_b24_pipeline.sync.spec import SyncOptions, SyncSpec

#: a verdict as the run summaries and the history table say it (msgids: translated where printed)
STATUS_WORDS = {DONE: "OK", DONE_WITH_PROBLEMS: "DONE WITH PROBLEMS", FAILED: "FAILED"}


@dataclass
class SyncRunSummary:
    run_id: str
    success: bool
    syncs: list[SyncSpec] = field(default_factory=list)
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    pushes: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    verdict: RunVerdict = field(default_factory=lambda: RunVerdict(DONE))
    lock_waited_seconds: float = 0.0
    exit_code: int = 0
    #: where the operator reads the run's details (the UI's page, or glyms-b24 history --run)
    details: str = ""

    @property
    def failed_checks(self) -> list[str]:
        return list(self.verdict.failed_checks)

    @property
    def failed_rows(self) -> int:
        return self.verdict.failed

    @property
    def not_synced(self) -> int:
        """Rows the plans could not write (invalid data, duplicate keys): not a success either."""
        return self.verdict.skipped

    @property
    def status(self) -> str:
        """OK only when nothing failed: no step, no row, no check, no change-log row left in error."""
        return STATUS_WORDS[self.verdict.outcome]

    @property
    def plan(self) -> dict[str, Any]:  # the first sync's, for single-sync callers
        return next(iter(self.plans.values()), {})

    @property
    def push(self) -> dict[str, Any]:
        return next(iter(self.pushes.values()), {})

    def lines(self) -> list[str]:
        # the cause of a failure first, once; what the run did and its warnings after it
        out = [f"Run {self.run_id}: {self.status}", *(f"  error: {line}" for line in self.failures)]
        if self.lock_waited_seconds >= 1:
            out.append(f"  waited {self.lock_waited_seconds:.0f} s for another sync that was writing to the portal")
        for spec in self.syncs:
            out += spec.summary(self.plans.get(spec.name, {}), self.pushes.get(spec.name, {}))
        for spec in self.syncs:
            push = self.pushes.get(spec.name, {})
            if push.get("not_synced"):
                rows = "1 row" if push["not_synced"] == 1 else f"{push['not_synced']} rows"
                out.append(f"  {spec.name} not synced: {rows}, e.g. {push.get('first_not_synced')} "
                           "(all of them: glyms-b24 audit --status skipped, or glyms_b24.sync_audit)")
            if push.get("explain_failed") or push.get("explain_not_synced"):
                out.append(f"  why one row is so: {push.get('explain_failed') or push.get('explain_not_synced')}")
        if self.verdict.rows_in_error:
            out.append(f"  change-log rows in ERROR: {self.verdict.rows_in_error} (glyms-b24 history --run {self.run_id}; "
                       "fix the customer, or glyms-b24 requeue)")
        out += [f"  check failed: {name}" for name in self.failed_checks]
        if self.details:
            out.append(f"  details: {self.details}")
        return out


def job_name_for(syncs: Sequence[SyncSpec]) -> str:
    return syncs[0].job_name if len(syncs) == 1 else FULL_SYNC_JOB


def run_sync(
    instance: dg.DagsterInstance,
    names: Optional[Sequence[str]] = None,
    options: Optional[SyncOptions] = None,
    *,
    reconcile: bool = False,
    console_log_level: str = "CRITICAL",
) -> SyncRunSummary:
    """Run the job of the named syncs (all when None) on ``instance``: through the daemon's queue when
    a daemon serves it, else in this process; the summary is read from the run's events.

    With ``reconcile``, each sync's full comparison runs instead (the same job when it already compares all)."""
    key_prefix = load_settings().location.key_prefix
    syncs = [spec.reconcile_spec if reconcile else spec for spec in syncs_named(names, key_prefix)]
    options = options or SyncOptions()
    # a writer killed earlier may still hold the queue's writer slot: fail it before queuing behind it
    reap_dead_runs(instance, os.environ.get("GLYMS_PG_DSN", ""), found_by="glyms-b24 sync",
                   portal_url=ConnectionValues.from_env().portal)
    outcome = launch(
        instance,
        job_name_for(syncs),
        dg.RunConfig(
            ops={spec.push_op: spec.push_config(options) for spec in syncs},
            # the terminal gets the summary (with the failure in one line); the event log is in the UI
            loggers={"console": {"config": {"log_level": console_log_level}}},
        ),
        on_queued=lambda run_id: print(_("Run {run_id}: queued; the daemon runs it").format(run_id=run_id), flush=True),
    )
    summary = SyncRunSummary(run_id=outcome.run_id, success=outcome.success, syncs=syncs,
                             verdict=record_verdict(instance, outcome))
    for metadata in outcome.materializations.values():
        summary.lock_waited_seconds += float(metadata.get("lock_waited_seconds") or 0)
    for spec in syncs:
        if spec.plan_key in outcome.materializations:
            summary.plans[spec.name] = outcome.metadata(spec.plan_key)
        if spec.push_key in outcome.materializations:
            summary.pushes[spec.name] = outcome.metadata(spec.push_key)
    if summary.verdict.problems:
        summary.exit_code = 1
    if not outcome.success:
        # two steps failing for one cause (the database is down) give one line
        summary.failures = list(run_failed_reason(outcome)) or ["the run failed before any step ran"]
        codes = [int(f.metadata[EXIT_CODE_KEY]) for f in outcome.step_failures if EXIT_CODE_KEY in f.metadata]
        summary.exit_code = max(codes, default=1)
    return summary


def _prepare(args: argparse.Namespace) -> dg.DagsterInstance:
    load_settings(args.config)  # a bad file fails here, in one line, before Dagster starts
    if args.config:
        os.environ[CONFIG_ENV_VAR] = os.path.abspath(args.config)
    require_env("GLYMS_PG_DSN", _("DSN of the Glyms PostgreSQL database"))
    home = dagster_home()  # refuses a DAGSTER_HOME without dagster.yaml
    storage_url(home)  # and a storage URL without the psycopg2 driver
    check_bitrix24_environment(load_settings(args.config).bitrix24)  # one line, as price-types, not a Dagster traceback
    return open_instance(home)


def _run_and_report(args: argparse.Namespace, instance: dg.DagsterInstance, options: SyncOptions,
                    reconcile: bool = False) -> int:
    names = None if args.sync_type == "all" else [args.sync_type]
    with progress.reporting(terminal.terminal_reporter(plain=args.debug)):  # --debug: log lines, no live bar
        summary = run_sync(instance, names, options, reconcile=reconcile,
                           console_log_level="WARNING" if args.debug else "CRITICAL")
    summary.details = load_settings(args.config).ui.run_details(summary.run_id)
    # the summary is composed in English (as the run's metadata is) and translated line by line
    emit([translated(line) for line in summary.lines()])
    return summary.exit_code


def sync_command(args: argparse.Namespace) -> int:
    instance = _prepare(args)
    options = SyncOptions(dry_run=args.dry_run, allow_mass_deactivation=args.allow_mass_deactivation)
    return _run_and_report(args, instance, options)


def reconcile_command(args: argparse.Namespace) -> int:
    instance = _prepare(args)
    options = SyncOptions(dry_run=args.dry_run, allow_mass_deletion=args.allow_mass_deletion)
    return _run_and_report(args, instance, options, reconcile=True)


def sync_types() -> list[str]:
    """What ``--type`` takes: each sync's name, or all."""
    return [*(spec.name for spec in SYNCS), "all"]


def add_commands(commands: argparse._SubParsersAction) -> None:
    sync = commands.add_parser("sync", help=_("run a sync now, as a Dagster run (visible in the UI)"))
    sync.add_argument("--type", dest="sync_type", choices=sync_types(), default="all",
                      help=_("which sync to run (default: all, as the legacy --sync_type all)"))
    sync.add_argument("--dry-run", action="store_true", help=_("compute and show the plan; write nothing to Bitrix24"))
    sync.add_argument("--allow-mass-deactivation", action="store_true",
                      help=_("let this run deactivate more than services.max_deactivation_share of the catalog"))
    sync.set_defaults(handler=sync_command)

    reconcile = commands.add_parser("reconcile", help=_("compare every Glyms row with Bitrix24 and repair the differences"))
    reconcile.add_argument("sync_type", choices=sync_types(), metavar="TYPE",
                           help=_("what to reconcile: {types}").format(types=", ".join(sync_types())))
    reconcile.add_argument("--dry-run", action="store_true", help=_("compute and show the plan; write nothing"))
    reconcile.add_argument("--allow-mass-deletion", action="store_true",
                           help=_("let this run mark more than companies.max_deletion_share of the companies deleted"))
    reconcile.set_defaults(handler=reconcile_command)
