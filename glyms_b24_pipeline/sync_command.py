"""``glyms-b24 sync``: run a sync now as a Dagster run on the configured instance."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from glyms_b24_pipeline.config import CONFIG_ENV_VAR, load_settings, require_env
from glyms_b24_pipeline.errors import OperatorError

PUSH_OP = "bitrix24__services_push"


@dataclass
class SyncRunSummary:
    run_id: str
    success: bool
    plan: dict[str, Any] = field(default_factory=dict)
    push: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        p = self.plan
        out = [f"Run {self.run_id}: {'OK' if self.success else 'FAILED'}"]
        if p:
            out.append(
                f"  plan: {p.get('create', 0)} to create, {p.get('field_updates', 0)} field updates, "
                f"{p.get('price_changes', 0)} prices to write, {p.get('deactivate', 0)} to deactivate, "
                f"{p.get('reactivate', 0)} to reactivate, {p.get('unchanged', 0)} unchanged, "
                f"{p.get('invalid', 0)} invalid, {p.get('duplicate', 0)} duplicate xmlIds"
            )
        if self.push.get("dry_run"):
            out.append(f"  dry run: nothing written ({self.push.get('planned_writes', 0)} writes planned)")
        elif self.push:
            out.append(
                f"  push: {self.push.get('succeeded', 0)} services written, {self.push.get('failed', 0)} failed, "
                f"{int(self.push.get('b24_requests', 0))} API requests, {self.push.get('duration_seconds', 0)} s"
            )
        out += [f"  error: {line}" for line in self.failures]
        return out


def _metadata_values(metadata: dict[str, Any]) -> dict[str, Any]:
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


def run_services_sync(
    instance: dg.DagsterInstance,
    *,
    dry_run: bool = False,
    allow_mass_deactivation: bool = False,
    console_log_level: str = "CRITICAL",
) -> SyncRunSummary:
    """Execute the services_sync job in this process, recorded on ``instance``."""
    from glyms_b24_pipeline.definitions import build_definitions
    from glyms_b24_pipeline.services.assets import ServicesPushConfig

    job = build_definitions().resolve_job_def("services_sync")
    result = job.execute_in_process(
        instance=instance,
        run_config=dg.RunConfig(
            ops={PUSH_OP: ServicesPushConfig(dry_run=dry_run, allow_mass_deactivation=allow_mass_deactivation)},
            # the terminal gets the summary (with the failure in one line); the event log is in the UI
            loggers={"console": {"config": {"log_level": console_log_level}}},
        ),
        raise_on_error=False,
    )
    summary = SyncRunSummary(run_id=result.run_id, success=result.success)
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        path = materialization.asset_key.path
        if path == ["sync", "services_plan"]:
            summary.plan = _metadata_values(materialization.metadata)
        elif path == ["bitrix24", "services_push"]:
            summary.push = _metadata_values(materialization.metadata)
    if not result.success:
        failures = [failure_line(e.event_specific_data) for e in result.all_events if e.is_step_failure]
        summary.failures = failures or ["the run failed before any step ran"]
    return summary


def failure_line(step_failure: Any) -> str:
    """One line for a failed step: our own description, else the innermost error's first line."""
    user_failure = getattr(step_failure, "user_failure_data", None)
    if user_failure is not None and user_failure.description:
        return user_failure.description
    error = step_failure.error
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message.strip().splitlines()[0] if error is not None else "step failed"


def sync_command(args: argparse.Namespace) -> int:
    load_settings(args.config)  # a bad file fails here, in one line, before Dagster starts
    if args.config:
        os.environ[CONFIG_ENV_VAR] = os.path.abspath(args.config)
    require_env("GLYMS_PG_DSN", "DSN of the Glyms PostgreSQL database")
    if not os.environ.get("DAGSTER_HOME"):
        raise OperatorError("DAGSTER_HOME is not set: point it at the folder holding dagster.yaml so the run is kept in the history")
    instance = dg.DagsterInstance.get()
    summary = run_services_sync(instance, dry_run=args.dry_run, allow_mass_deactivation=args.allow_mass_deactivation,
                                console_log_level="DEBUG" if args.debug else "CRITICAL")
    print("\n".join(summary.lines()))
    print(f"  details: dagster dev -w workspace.yaml, then Runs -> {summary.run_id}")
    return 0 if summary.success else 1
