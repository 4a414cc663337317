"""Services -> Bitrix24 catalog, as Dagster assets: read both sides, plan, push.

No `from __future__ import annotations` here: Dagster reads the config and resource types
of asset signatures at definition time. The assets return MaterializeResult(value=...) with no
return annotation: an annotated MaterializeResult types the output Nothing, which rejects a value."""


import time
from typing import Any

import dagster as dg
import pandas as pd

from glyms_b24_pipeline.audit import AuditTrail
from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.config import ServicesSettings
from glyms_b24_pipeline.failures import reported_as_failure
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.services.plan import ServiceSyncPlan, service_sync_plan
from glyms_b24_pipeline.services.push import (
    CATALOG_SELECT,
    PRICE_SELECT,
    apply_service_plan,
    list_catalog_services,
    list_service_prices,
    skipped_records,
)
from glyms_b24_pipeline.services.report import markdown_table, plan_preview
from glyms_b24_pipeline.settings_resource import SyncSettings

GLYMS_SERVICES = dg.AssetKey(["glyms", "services"])
CATALOG_SERVICES = dg.AssetKey(["bitrix24", "catalog_services"])
SERVICES_PLAN = dg.AssetKey(["sync", "services_plan"])
SERVICES_PUSH = dg.AssetKey(["bitrix24", "services_push"])


def contract_parameters(settings: ServicesSettings) -> dict[str, list[int]]:
    pairs = sorted(settings.contracts_by_tipo_ot.items())
    return {"tipo_ot_ids": [t for t, _ in pairs], "contract_ids": [c for _, c in pairs]}


@dg.asset(
    key=GLYMS_SERVICES,
    group_name="glyms",
    kinds={"postgres"},
    check_specs=[
        dg.AssetCheckSpec("mapping_coverage", asset=GLYMS_SERVICES,
                          description="Every id_tipo_ot seen has a catalog section and a price contract."),
        dg.AssetCheckSpec("price_validity", asset=GLYMS_SERVICES,
                          description="Every active service has a non-negative price in its contract."),
    ],
)
def glyms_services(glyms_db: GlymsDatabase, sync_settings: SyncSettings):
    """Active Glyms services with the newest price of the contract configured for their work-order type."""
    with reported_as_failure():
        settings = sync_settings.load().services
        df = glyms_db.dataframe("active_services", contract_parameters(settings))
    types = df["id_tipo_ot"].dropna().astype(int) if len(df) else pd.Series(dtype=int)
    seen = sorted(set(types)) + (["(none)"] if df["id_tipo_ot"].isna().any() else [])
    no_section = [t for t in seen if t == "(none)" or t not in settings.sections_by_tipo_ot]
    no_contract = [t for t in seen if t == "(none)" or t not in settings.contracts_by_tipo_ot]
    unmapped_rows = int((~df["id_tipo_ot"].isin(list(settings.sections_by_tipo_ot))).sum()) if len(df) else 0
    prices = pd.to_numeric(df["precio"], errors="coerce") if len(df) else pd.Series(dtype=float)
    missing_price = int(prices.isna().sum())
    negative_price = int((prices < 0).sum())
    return dg.MaterializeResult(
        value=df,
        metadata={
            "dagster/row_count": len(df),
            "without_price": missing_price,
            "work_order_types": str(seen),
            "preview": dg.MetadataValue.md(
                markdown_table(list(df.columns), df.head(10).itertuples(index=False)) if len(df) else "(no rows)"
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="mapping_coverage",
                passed=not no_section and not no_contract,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"types_without_section": str(no_section), "types_without_contract": str(no_contract),
                          "services_affected": unmapped_rows},
            ),
            dg.AssetCheckResult(
                check_name="price_validity",
                passed=missing_price == 0 and negative_price == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"without_price": missing_price, "negative_price": negative_price},
            ),
        ],
    )


@dg.asset(key=CATALOG_SERVICES, group_name="bitrix24", kinds={"bitrix24"})
def catalog_services(bitrix24: Bitrix24Resource, sync_settings: SyncSettings):
    """Service products of the configured catalog iblock that carry an xmlId, with their price of the configured type."""
    with reported_as_failure():
        settings = sync_settings.load().services
        client = bitrix24.get_client()
        before = client.counters.requests
        services = list_catalog_services(client, settings)
        prices = list_service_prices(client, settings)
    managed = [s for s in services if str(s.get("xmlId") or "").strip()]
    managed_ids = {int(s["id"]) for s in managed}
    price_df = pd.DataFrame(
        [p for p in prices if int(p["productId"]) in managed_ids],
        columns=PRICE_SELECT,
    ).drop_duplicates("productId").rename(columns={"id": "price_id"})  # the portal allows one per type
    df = pd.DataFrame(managed, columns=CATALOG_SELECT).merge(price_df, how="left", left_on="id", right_on="productId")
    df = df.drop(columns=["productId"])
    return dg.MaterializeResult(
        value=df,
        metadata={
            "dagster/row_count": len(df),
            "active": int((df["active"] == "Y").sum()) if len(df) else 0,
            "without_price": int(df["price_id"].isna().sum()) if len(df) else 0,
            "b24_requests": client.counters.requests - before,
        },
    )


def catalog_rows(catalog: pd.DataFrame) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split the catalog asset back into service rows and price rows for the planner."""
    records = catalog.astype(object).where(catalog.notna(), None).to_dict("records")
    prices = [
        {"id": r["price_id"], "productId": r["id"], "catalogGroupId": r["catalogGroupId"], "price": r["price"],
         "currency": r["currency"]}
        for r in records
        if r.get("price_id") is not None
    ]
    return records, prices


@dg.asset(key=SERVICES_PLAN, group_name="sync", kinds={"python"},
          ins={"glyms_services": dg.AssetIn(GLYMS_SERVICES), "catalog": dg.AssetIn(CATALOG_SERVICES)})
def services_plan(
    glyms_services: pd.DataFrame, catalog: pd.DataFrame, sync_settings: SyncSettings
):
    """What the catalog needs to match Glyms: creates, updates, price changes, (re)activations, invalid rows."""
    with reported_as_failure():
        settings = sync_settings.load().services
    glyms_rows = glyms_services.astype(object).where(glyms_services.notna(), None).to_dict("records")
    items, prices = catalog_rows(catalog)
    plan = service_sync_plan(glyms_rows, items, prices, settings)
    counts = plan.counts()
    guard = plan.mass_deactivation(settings.max_deactivation_share)
    return dg.MaterializeResult(
        value=plan,
        metadata={
            **counts,
            "deactivation_share": round(plan.deactivation_share, 4),
            "mass_deactivation_guard": guard or "ok",
            "changes": dg.MetadataValue.md(plan_preview(plan)),
        },
    )


class ServicesPushConfig(dg.Config):
    """Run options for the services push."""

    dry_run: bool = False
    allow_mass_deactivation: bool = False


@dg.asset(
    key=SERVICES_PUSH,
    group_name="bitrix24",
    kinds={"bitrix24"},
    ins={"plan": dg.AssetIn(SERVICES_PLAN)},
    check_specs=[dg.AssetCheckSpec("push_failures", asset=SERVICES_PUSH,
                                   description="Every write of the last push succeeded.")],
)
def services_push(
    context: dg.AssetExecutionContext,
    config: ServicesPushConfig,
    plan: ServiceSyncPlan,
    bitrix24: Bitrix24Resource,
    glyms_db: GlymsDatabase,
    sync_settings: SyncSettings,
):
    """Writes the plan to Bitrix24 in batches and records each service's outcome in glyms_b24.sync_audit."""
    with reported_as_failure():
        settings = sync_settings.load().services
    guard = plan.mass_deactivation(settings.max_deactivation_share)
    if guard and not config.allow_mass_deactivation and not config.dry_run:
        raise dg.Failure(
            description=(f"Push stopped, nothing written: {guard}. Check that GLYMS_PG_DSN points at the right "
                         "Glyms database; to deactivate anyway, run with allow_mass_deactivation "
                         "(glyms-b24 sync --allow-mass-deactivation)."),
            allow_retries=False,
        )
    writes = plan.writes
    if config.dry_run:
        return dg.MaterializeResult(
            value=pd.DataFrame(columns=["xml_id", "action", "bitrix_id", "outcome", "error"]),
            metadata={"dry_run": True, "planned_writes": len(writes), "mass_deactivation_guard": guard or "ok",
                      "changes": dg.MetadataValue.md(plan_preview(plan))},
            check_results=[dg.AssetCheckResult(check_name="push_failures", passed=True,
                                               severity=dg.AssetCheckSeverity.WARN, metadata={"dry_run": True})],
        )

    run_id = context.run.run_id
    trail = AuditTrail(glyms_db, run_id)
    with reported_as_failure():
        client = bitrix24.get_client()
        before = client.counters.as_metadata()
        started = time.monotonic()
        trail.record(skipped_records(plan.changes))
        outcomes = apply_service_plan(client, writes, settings, trail)
    duration = time.monotonic() - started
    after = client.counters.as_metadata()
    failed = [o for o in outcomes if not o.ok]
    result = pd.DataFrame(
        [{"xml_id": o.change.xml_id, "action": o.change.action.value, "bitrix_id": o.bitrix_id,
          "outcome": "success" if o.ok else "failed", "error": "; ".join(o.errors) or None} for o in outcomes],
        columns=["xml_id", "action", "bitrix_id", "outcome", "error"],
    )
    by_action = result.groupby(["action", "outcome"]).size().to_dict() if len(result) else {}
    metadata: dict[str, Any] = {
        "dagster/row_count": len(outcomes),
        "succeeded": len(outcomes) - len(failed),
        "failed": len(failed),
        **{f"{action}_{outcome}": int(n) for (action, outcome), n in by_action.items()},
        "skipped_invalid": len([c for c in plan.changes if c.action.value in ("invalid", "duplicate")]),
        "duration_seconds": round(duration, 3),
        **{key: round(after[key] - before.get(key, 0), 3) for key in after},
    }
    if failed:
        metadata["failures"] = dg.MetadataValue.md(
            markdown_table(["xmlId", "action", "error"], [(o.change.xml_id, o.change.action.value, "; ".join(o.errors))
                                                           for o in failed[:40]])
        )
    if failed:
        context.log.warning(f"{len(failed)} of {len(outcomes)} services failed; see the push_failures check and glyms_b24.sync_audit (run {run_id}).")
    return dg.MaterializeResult(
        value=result,
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="push_failures",
                passed=not failed,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"failed": len(failed), "succeeded": len(outcomes) - len(failed),
                          "first_errors": "; ".join(f"{o.change.xml_id}: {o.errors[0]}" for o in failed[:5]) or "none"},
            )
        ],
    )


services_assets = [glyms_services, catalog_services, services_plan, services_push]
