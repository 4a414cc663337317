"""The services sync as the rest of the product sees it: its job, its push options and its summary lines."""

from __future__ import annotations

from typing import Any, Mapping

import dagster as dg

from glyms_b24_pipeline.defs.services.assets import SERVICES_PLAN, SERVICES_PUSH, ServicesPushConfig, services_assets
from glyms_b24_pipeline.defs.services.mappings import SERVICES_MAPPINGS
from glyms_b24_pipeline.sync.spec import SyncOptions, SyncSpec, push_summary_lines


def _push_config(options: SyncOptions) -> dg.Config:
    return ServicesPushConfig(dry_run=options.dry_run, allow_mass_deactivation=options.allow_mass_deactivation)


def summary_lines(plan: Mapping[str, Any], push: Mapping[str, Any]) -> list[str]:
    out = []
    if plan:
        out.append(
            f"  services plan: {plan.get('create', 0)} to create, {plan.get('field_updates', 0)} field updates, "
            f"{plan.get('price_changes', 0)} prices to write, {plan.get('deactivate', 0)} to deactivate, "
            f"{plan.get('reactivate', 0)} to reactivate, {plan.get('unchanged', 0)} unchanged, "
            f"{plan.get('invalid', 0)} invalid, {plan.get('duplicate', 0)} duplicate xmlIds"
            + (f", {plan['excluded']} excluded on purpose" if plan.get("excluded") else "")
        )
    out += push_summary_lines("services", "services", push)
    return out


SYNC = SyncSpec(
    name="services",
    job_name="services_sync",
    assets=services_assets,
    plan_key=SERVICES_PLAN,
    push_key=SERVICES_PUSH,
    push_config=_push_config,
    summary=summary_lines,
    mappings=SERVICES_MAPPINGS,
    description="Glyms services -> Bitrix24 catalog: read both sides, plan, push the differences.",
)
