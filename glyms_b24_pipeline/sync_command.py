"""``glyms-b24 sync``: run syncs now as Dagster runs on the configured instance."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import dagster as dg

from glyms_b24_pipeline.config import CONFIG_ENV_VAR, load_settings, require_env
from glyms_b24_pipeline.failures import EXIT_CODE_KEY
from glyms_b24_pipeline.sync.registry import SyncOptions, SyncSpec, all_syncs, sync_names


@dataclass
class SyncRunSummary:
    run_id: str
    success: bool
    syncs: list[SyncSpec] = field(default_factory=list)
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    pushes: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    lock_waited_seconds: float = 0.0
    exit_code: int = 0

    @property
    def failed_rows(self) -> int:
        return sum(int(push.get("failed", 0) or 0) for push in self.pushes.values())

    @property
    def status(self) -> str:
        """OK only when nothing failed: no step, no row, no check."""
        if not self.success:
            return "FAILED"
        if self.failed_rows or self.failed_checks:
            return "DONE WITH PROBLEMS"
        return "OK"

    @property
    def plan(self) -> dict[str, Any]:  # the first sync's, for single-sync callers
        return next(iter(self.plans.values()), {})

    @property
    def push(self) -> dict[str, Any]:
        return next(iter(self.pushes.values()), {})

    def lines(self) -> list[str]:
        out = [f"Run {self.run_id}: {self.status}"]
        if self.lock_waited_seconds >= 1:
            out.append(f"  waited {self.lock_waited_seconds:.0f} s for another sync that was writing to the portal")
        for spec in self.syncs:
            out += spec.summary(self.plans.get(spec.name, {}), self.pushes.get(spec.name, {}))
        out += [f"  check failed: {name}" for name in self.failed_checks]
        out += [f"  error: {line}" for line in self.failures]
        return out


def job_name_for(syncs: Sequence[SyncSpec]) -> str:
    return syncs[0].job_name if len(syncs) == 1 else "full_sync"


def run_sync(
    instance: dg.DagsterInstance,
    names: Optional[Sequence[str]] = None,
    options: Optional[SyncOptions] = None,
    *,
    console_log_level: str = "CRITICAL",
) -> SyncRunSummary:
    """Run the job of the named syncs (all when None) on ``instance``: through the daemon's queue when
    a daemon serves it, else in this process; the summary is read from the run's events."""
    from glyms_b24_pipeline.instance import execute_or_submit, run_failed_reason
    from glyms_b24_pipeline.orchestration.liveness import reap_dead_runs

    syncs = all_syncs(names)
    options = options or SyncOptions()
    # a writer killed earlier may still hold the queue's writer slot: fail it before queuing behind it
    reap_dead_runs(instance, os.environ.get("GLYMS_PG_DSN", ""), found_by="glyms-b24 sync")
    outcome = execute_or_submit(
        instance,
        job_name_for(syncs),
        dg.RunConfig(
            ops={spec.push_op: spec.push_config(options) for spec in syncs},
            # the terminal gets the summary (with the failure in one line); the event log is in the UI
            loggers={"console": {"config": {"log_level": console_log_level}}},
        ),
        on_queued=lambda run_id: print(f"Run {run_id}: en cola del daemon (queued; the daemon runs it)", flush=True),
    )
    summary = SyncRunSummary(run_id=outcome.run_id, success=outcome.success, syncs=syncs)
    for metadata in outcome.materializations.values():
        summary.lock_waited_seconds += float(metadata.get("lock_waited_seconds") or 0)
    for spec in syncs:
        if spec.plan_key in outcome.materializations:
            summary.plans[spec.name] = outcome.metadata(spec.plan_key)
        if spec.push_key in outcome.materializations:
            summary.pushes[spec.name] = outcome.metadata(spec.push_key)
    summary.failed_checks = sorted(
        f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}"
        for evaluation in outcome.check_evaluations if not evaluation.passed)
    if summary.failed_rows or summary.failed_checks:
        summary.exit_code = 1
    if not outcome.success:
        # two steps failing for one cause (the database is down) give one line
        summary.failures = list(run_failed_reason(outcome)) or ["the run failed before any step ran"]
        codes = [int(f.metadata[EXIT_CODE_KEY]) for f in outcome.step_failures if EXIT_CODE_KEY in f.metadata]
        summary.exit_code = max(codes, default=1)
    return summary


def sync_command(args: argparse.Namespace) -> int:
    load_settings(args.config)  # a bad file fails here, in one line, before Dagster starts
    if args.config:
        os.environ[CONFIG_ENV_VAR] = os.path.abspath(args.config)
    require_env("GLYMS_PG_DSN", "DSN of the Glyms PostgreSQL database")
    from glyms_b24_pipeline.instance import open_instance

    names = sync_names() if args.sync_type == "all" else [args.sync_type]
    instance = open_instance()  # refuses a DAGSTER_HOME without dagster.yaml
    summary = run_sync(instance, names, SyncOptions(dry_run=args.dry_run,
                                                     allow_mass_deactivation=args.allow_mass_deactivation),
                       console_log_level="DEBUG" if args.debug else "CRITICAL")
    print("\n".join(summary.lines()))
    print(f"  details: dagster dev -w workspace.yaml, then Runs -> {summary.run_id}")
    return summary.exit_code
