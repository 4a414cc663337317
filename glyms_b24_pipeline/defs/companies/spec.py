"""The companies sync as the rest of the product sees it: the change-log consumer, its reconciliation, options and summaries."""

from __future__ import annotations

from typing import Any, Mapping

import dagster as dg

from glyms_b24_pipeline.defs.companies.assets import (
    COMPANIES_PLAN,
    COMPANIES_PUSH,
    RECONCILE_PLAN,
    RECONCILE_PUSH,
    CompaniesPushConfig,
    CompaniesReconcileConfig,
    consumer_assets,
    reconcile_assets,
)
from glyms_b24_pipeline.defs.companies.mappings import COMPANIES_MAPPINGS
from glyms_b24_pipeline.sync.spec import SyncOptions, SyncSpec, push_summary_lines


def _summary(label: str):
    def lines(plan: Mapping[str, Any], push: Mapping[str, Any]) -> list[str]:
        out = []
        if plan:
            out.append(
                f"  {label} plan: {plan.get('log_rows', 0)} log rows, {plan.get('create', 0)} to create, "
                f"{plan.get('update', 0)} to update, {plan.get('note', 0) + plan.get('delete', 0)} deletions, "
                f"{plan.get('unchanged', 0)} unchanged, {plan.get('invalid', 0)} invalid, "
                f"{plan.get('duplicate', 0)} duplicate ORIGIN_IDs, {plan.get('target_missing', 0)} missing in Bitrix24, "
                f"{plan.get('link_candidate', 0)} link candidates"
            )
        out += push_summary_lines(label, "companies", push)
        return out

    return lines


def _consumer_config(options: SyncOptions) -> dg.Config:
    return CompaniesPushConfig(dry_run=options.dry_run)


def _reconcile_config(options: SyncOptions) -> dg.Config:
    return CompaniesReconcileConfig(dry_run=options.dry_run, allow_mass_deletion=options.allow_mass_deletion)


SYNC = SyncSpec(
    name="companies",
    job_name="companies_sync",
    assets=consumer_assets,
    plan_key=COMPANIES_PLAN,
    push_key=COMPANIES_PUSH,
    push_config=_consumer_config,
    summary=_summary("companies"),
    mappings=COMPANIES_MAPPINGS,
    description="Glyms customer changes (f_cliente.sync_log_bitrix24) -> Bitrix24 companies.",
    reconcile=SyncSpec(
        name="companies",
        job_name="companies_reconcile",
        assets=reconcile_assets,
        plan_key=RECONCILE_PLAN,
        push_key=RECONCILE_PUSH,
        push_config=_reconcile_config,
        summary=_summary("reconcile"),
        description="Every Glyms customer against every Bitrix24 company: creates, drift repair, link candidates.",
    ),
)
