"""Services -> Bitrix24 catalog, as Dagster assets: read both sides, plan, push.

No `from __future__ import annotations` here: Dagster reads the config and resource types
of asset signatures at definition time. The assets return MaterializeResult(value=...) with no
return annotation: an annotated MaterializeResult types the output Nothing, which rejects a value."""


import time
from typing import Any

import dagster as dg

from glyms_b24_pipeline.bitrix24 import progress
from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.defs.services.mappings import SERVICES_MAPPINGS
from glyms_b24_pipeline.defs.services.plan import (
    Action,
    CatalogService,
    ServiceSyncPlan,
    managed_catalog,
    normalise_price,
    plan_against_catalog,
)
from glyms_b24_pipeline.defs.services.push import (
    ServiceWrites,
    iter_catalog_services,
    iter_service_prices,
    skipped_records,
)
from glyms_b24_pipeline.defs.services.report import plan_preview
from glyms_b24_pipeline.glyms.resource import GlymsDatabase, RowTable
from glyms_b24_pipeline.settings.model import ServicesSettings
from glyms_b24_pipeline.settings.resource import SyncSettings
from glyms_b24_pipeline.sync.audit import AuditTrail
from glyms_b24_pipeline.sync.failures import reported_as_failure
from glyms_b24_pipeline.sync.mappings import check_mappings
from glyms_b24_pipeline.sync.push import push_changes
from glyms_b24_pipeline.sync.report import markdown_table
from glyms_b24_pipeline.sync.results import (
    dry_run_result,
    enforce_guard,
    not_synced_metadata,
    push_failures_spec,
    pushed_result,
    raise_if_blocked,
    row_table,
    rows_metadata,
)
from glyms_b24_pipeline.sync.text import optional_int
from glyms_b24_pipeline.sync.writer import PortalWriter

SYNC_NAME = "services"
GROUP = "services"
GLYMS_SERVICES = dg.AssetKey(["glyms", "services"])
CATALOG_SERVICES = dg.AssetKey(["bitrix24", "catalog_services"])
SERVICES_PLAN = dg.AssetKey(["sync", "services_plan"])
SERVICES_PUSH = dg.AssetKey(["bitrix24", "services_push"])
#: rows of the Glyms answer shown in its preview
PREVIEW_HEAD = 10


def contract_parameters(settings: ServicesSettings) -> dict[str, list[int]]:
    pairs = sorted(settings.contracts_by_tipo_ot.items())
    return {"tipo_ot_ids": [t for t, _ in pairs], "contract_ids": [c for _, c in pairs]}


# --- the reads, as plain functions: the assets and a recomputing push share them (and plan_against_catalog)


def read_glyms_services(db: GlymsDatabase, settings: ServicesSettings) -> RowTable:
    """Active Glyms services as compact rows, streamed from a server-side cursor (after the contract's preflight)."""
    db.require_contract()
    return db.table("active_services", contract_parameters(settings))


def read_catalog(client: Any, settings: ServicesSettings) -> list[CatalogService]:
    """The managed services (those with an xmlId) of the iblock, each with its price of the configured type,
    normalised as the listings stream in (never the whole listing as dicts)."""
    return managed_catalog(iter_catalog_services(client, settings), iter_service_prices(client, settings), settings)


# --- assets


@dg.asset(
    key=GLYMS_SERVICES,
    group_name=GROUP,
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
        table = read_glyms_services(glyms_db, settings)
    coverage, prices = _coverage_and_prices(table, settings)
    return dg.MaterializeResult(
        value=table,
        metadata={
            "dagster/row_count": len(table),
            "without_price": prices["without_price"],
            "work_order_types": ", ".join(map(str, coverage.pop("seen"))) or "none",
            "preview": dg.MetadataValue.md(
                (f"First {min(PREVIEW_HEAD, len(table))} of {len(table):,} rows.\n\n"
                 + markdown_table(list(table.columns), table.head(PREVIEW_HEAD))) if len(table) else "(no rows)"
            ),
        },
        check_results=[
            dg.AssetCheckResult(check_name="mapping_coverage", passed=not coverage["services_affected"],
                                severity=dg.AssetCheckSeverity.WARN, metadata=coverage),
            dg.AssetCheckResult(check_name="price_validity", passed=not prices["without_price"] and not prices["negative_price"],
                                severity=dg.AssetCheckSeverity.WARN, metadata=prices),
        ],
    )


def _coverage_and_prices(table: RowTable, settings: ServicesSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two checks' metadata: which services lack a section or contract, which lack a valid price (ids
    listed); services of an excluded work-order type count for neither."""
    unmapped: list[tuple[Any, ...]] = []
    unpriced: list[tuple[Any, ...]] = []
    negative = 0
    seen: set[Any] = set()
    for id_prestacion, codigo, raw_tipo_ot, precio in zip(*(table.column(c) for c in ("id_prestacion", "codigo", "id_tipo_ot",
                                                                                      "precio")), strict=True):
        tipo_ot = optional_int(raw_tipo_ot)
        if tipo_ot in settings.excluded_tipo_ot:
            continue
        seen.add("(none)" if tipo_ot is None else tipo_ot)
        missing = [name for name, mapping in (("section", settings.sections_by_tipo_ot),
                                              ("contract", settings.contracts_by_tipo_ot)) if tipo_ot not in mapping]
        if missing:
            unmapped.append((id_prestacion, tipo_ot, " and ".join(missing)))
        price = normalise_price(precio, settings.currency_decimals)
        if price is None or price < 0:
            negative += price is not None
            unpriced.append((id_prestacion, codigo, "no price" if price is None else f"negative ({price})"))
    types = sorted((t for t in seen if t != "(none)"), key=int) + (["(none)"] if "(none)" in seen else [])
    coverage = {"seen": types,
                "types_without_section": ", ".join(str(t) for t in types if t == "(none)" or t not in settings.sections_by_tipo_ot) or "none",
                "types_without_contract": ", ".join(str(t) for t in types if t == "(none)" or t not in settings.contracts_by_tipo_ot) or "none",
                **rows_metadata("services_affected", ["id_prestacion", "id_tipo_ot", "missing"], unmapped)}
    prices = {"without_price": len(unpriced) - negative, "negative_price": negative,
              **({"unpriced_rows": row_table(["id_prestacion", "codigo", "problem"], unpriced)} if unpriced else {})}
    return coverage, prices


@dg.asset(key=CATALOG_SERVICES, group_name=GROUP, kinds={"bitrix24"})
def catalog_services(context: dg.AssetExecutionContext, bitrix24: Bitrix24Resource, portal_writer: PortalWriter,
                     sync_settings: SyncSettings):
    """Service products of the configured catalog iblock that carry an xmlId, with their price of the configured type.

    Read under the portal's writer lock, which the run holds until it ends."""
    with reported_as_failure():
        settings = sync_settings.load()
        client = bitrix24.get_client()
        lock = portal_writer.hold(context, client.portal_url, settings.writer)
        before = client.counters.requests
        catalog = read_catalog(client, settings.services)
        portal_writer.note_read(SYNC_NAME, context)
    return dg.MaterializeResult(
        value=catalog,
        metadata={
            "dagster/row_count": len(catalog),
            "active": sum(1 for service in catalog if service.active),
            "without_price": sum(1 for service in catalog if service.price_id is None),
            "b24_requests": client.counters.requests - before,
            "lock_waited_seconds": round(lock.waited_seconds, 1),
        },
    )


def _plan_metadata(plan: ServiceSyncPlan, settings: ServicesSettings) -> dict[str, Any]:
    guard = plan.mass_deactivation(settings.max_deactivation_share)
    return {
        **plan.counts(),
        "deactivation_share": round(plan.deactivation_share, 4),
        "mass_deactivation_guard": guard or "ok",
        "changes": dg.MetadataValue.md(plan_preview(plan)),
    }


@dg.asset(key=SERVICES_PLAN, group_name=GROUP, kinds={"python"},
          ins={"glyms_services": dg.AssetIn(GLYMS_SERVICES), "catalog": dg.AssetIn(CATALOG_SERVICES)})
def services_plan(context: dg.AssetExecutionContext, glyms_services: RowTable, catalog: list,
                  portal_writer: PortalWriter, sync_settings: SyncSettings):
    """What the catalog needs to match Glyms: creates, updates, price changes, (re)activations, invalid rows."""
    with reported_as_failure():
        settings = sync_settings.load().services
    plan = plan_against_catalog(glyms_services, catalog, settings, portal_writer.plan_basis(SYNC_NAME, context))
    return dg.MaterializeResult(value=plan, metadata=_plan_metadata(plan, settings))


class ServicesPushConfig(dg.Config):
    """Run options for the services push."""

    dry_run: bool = False
    allow_mass_deactivation: bool = False


@dg.asset(
    key=SERVICES_PUSH,
    group_name=GROUP,
    kinds={"bitrix24"},
    ins={"plan": dg.AssetIn(SERVICES_PLAN)},
    check_specs=[push_failures_spec(SERVICES_PUSH)],
)
def services_push(
    context: dg.AssetExecutionContext,
    config: ServicesPushConfig,
    plan: ServiceSyncPlan,
    bitrix24: Bitrix24Resource,
    glyms_db: GlymsDatabase,
    portal_writer: PortalWriter,
    sync_settings: SyncSettings,
):
    """Writes the plan to Bitrix24 in batches and records each service's outcome in glyms_b24.sync_audit.

    Applies only a plan computed by this run under its portal lock; any other plan (this asset
    materialised alone, re-execution from failure, a retried step) is recomputed first."""
    with reported_as_failure():
        all_settings = sync_settings.load()
        settings = all_settings.services
        client = bitrix24.get_client()

        def recompute() -> ServiceSyncPlan:
            catalog = read_catalog(client, settings)
            portal_writer.note_read(SYNC_NAME, context)
            return plan_against_catalog(read_glyms_services(glyms_db, settings), catalog, settings,
                                        portal_writer.plan_basis(SYNC_NAME, context))

        plan, recomputed, lock = portal_writer.plan_to_apply(context, client, all_settings.writer, plan, recompute)
        # a configured id the portal lacks would fail every write, or worse: stop before writing
        check_mappings(client, glyms_db.dsn, all_settings, [SERVICES_MAPPINGS]).raise_if_portal_broken()
    guard = plan.mass_deactivation(settings.max_deactivation_share)
    enforce_guard(guard, allowed=config.allow_mass_deactivation, dry_run=config.dry_run,
                  remedy=("Check that GLYMS_PG_DSN points at the right Glyms database; to deactivate anyway, run with "
                          "allow_mass_deactivation (glyms-b24 sync --allow-mass-deactivation)."))
    if config.dry_run:
        return dry_run_result(plan, guard_name="mass_deactivation_guard", guard=guard, recomputed=recomputed,
                              preview=plan_preview(plan))

    assert plan.basis is not None  # a fresh plan always has one: the lock is held
    portal_writer.mark_applied(plan.basis)  # before the first write: a retry of this step replans
    trail = AuditTrail(glyms_db, context.run.run_id)
    writes = plan.writes
    with reported_as_failure():
        before = client.counters.as_metadata()
        started = time.monotonic()
        trail.record_skipped(skipped_records(plan.changes))
        outcomes = push_changes(client, writes, ServiceWrites(settings), trail, before_slice=lock.ensure_held,
                                before_request=lock.touch,
                                on_progress=progress.push_progress(SYNC_NAME, client, total=len(writes)))
    raise_if_blocked(outcomes)
    not_synced = [(c.xml_id, c.action.value, c.reason) for c in plan.changes
                  if c.action in (Action.INVALID, Action.DUPLICATE)]
    excluded = [(c.xml_id, c.action.value, c.reason) for c in plan.changes if c.action == Action.EXCLUDED]
    return pushed_result(context, outcomes, what="service", action_of=_action, duration=time.monotonic() - started,
                         counters_before=before, counters_after=client.counters.as_metadata(),
                         extra={"skipped_invalid": len(not_synced), "plan_recomputed": recomputed or "no",
                                **not_synced_metadata(not_synced, excluded, "service")})


def _action(change: Any) -> str:
    return change.action.value


services_assets = [glyms_services, catalog_services, services_plan, services_push]
