"""Customers -> Bitrix24 companies, as Dagster assets: the change-log consumer and the reconciliation.

No `from __future__ import annotations` here: Dagster reads the config and resource types of
asset signatures at definition time. Assets return MaterializeResult(value=...) unannotated."""

import datetime as _dt
import time
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence

import dagster as dg

from glyms_b24_pipeline.bitrix24 import progress
from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.defs.companies.bitrix import (
    CompanyWrites,
    find_link_candidates,
    list_managed_companies,
    lookup_by_origin,
)
from glyms_b24_pipeline.defs.companies.changelog import (
    ChangeLog,
    ClaimedChanges,
    ClaimRenewal,
    RowsInError,
    decisions_for,
    settle_rows,
)
from glyms_b24_pipeline.defs.companies.mapping import EXCLUDED_NOTE, clean_text, desired_company
from glyms_b24_pipeline.defs.companies.mappings import COMPANIES_MAPPINGS
from glyms_b24_pipeline.defs.companies.plan import (
    CompanyAction,
    CompanySyncPlan,
    CustomerChanges,
    LinkCandidate,
    company_sync_plan,
)
from glyms_b24_pipeline.defs.companies.report import plan_preview
from glyms_b24_pipeline.glyms.resource import GlymsDatabase, RowTable
from glyms_b24_pipeline.glyms.rows import Row
from glyms_b24_pipeline.settings.model import CompaniesSettings, Settings
from glyms_b24_pipeline.settings.resource import SyncSettings
from glyms_b24_pipeline.sync.audit import AuditRecord, AuditTrail
from glyms_b24_pipeline.sync.failures import reported_as_failure
from glyms_b24_pipeline.sync.mappings import check_mappings
from glyms_b24_pipeline.sync.push import push_changes
from glyms_b24_pipeline.sync.results import (
    dry_run_result,
    enforce_guard,
    not_synced_metadata,
    push_failures_spec,
    pushed_result,
    raise_if_blocked,
    rows_metadata,
)
from glyms_b24_pipeline.sync.writer import PortalWriter

SYNC_NAME = "companies"
RECONCILE = "companies_reconcile"
GROUP = "companies"
PENDING_CHANGES = dg.AssetKey(["glyms", "pending_customer_changes"])
COMPANIES = dg.AssetKey(["bitrix24", "companies"])
COMPANIES_PLAN = dg.AssetKey(["sync", "companies_plan"])
COMPANIES_PUSH = dg.AssetKey(["bitrix24", "companies_push"])
CUSTOMERS = dg.AssetKey(["glyms", "customers"])
COMPANY_DIRECTORY = dg.AssetKey(["bitrix24", "company_directory"])
RECONCILE_PLAN = dg.AssetKey(["sync", "companies_reconcile_plan"])
RECONCILE_PUSH = dg.AssetKey(["bitrix24", "companies_reconcile_push"])


# --- reads and plans as plain functions: the assets and a recomputing push share them


def _today() -> _dt.date:
    return _dt.datetime.now(_dt.timezone.utc).date()


WARNING_COLUMNS = ["id_cliente", "warning"]
ERROR_ROW_COLUMNS = ["log_id", "id_cliente", "operation", "attempts", "error"]


def customer_warnings(groups: Any, settings: CompaniesSettings) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(unmapped type warnings, invalid e-mail warnings) of the customers that still exist, as (id_cliente, warning)."""
    unmapped, emails = [], []
    for group in groups:
        if group.customer is None:
            continue
        _, _, warnings = desired_company(group.customer, settings)
        unmapped += [(group.origin_id, w) for w in warnings if "mapping" in w]
        emails += [(group.origin_id, w) for w in warnings if w.startswith("mail ")]
    return unmapped, emails


def _warning_checks(groups: Any, settings: CompaniesSettings) -> list[dg.AssetCheckResult]:
    unmapped, emails = customer_warnings(groups, settings)
    return [
        dg.AssetCheckResult(check_name="mapping_coverage", passed=not unmapped, severity=dg.AssetCheckSeverity.WARN,
                            metadata=rows_metadata("unmapped", WARNING_COLUMNS, unmapped)),
        dg.AssetCheckResult(check_name="email_validity", passed=not emails, severity=dg.AssetCheckSeverity.WARN,
                            metadata=rows_metadata("invalid_emails", WARNING_COLUMNS, emails)),
    ]


def rows_in_error_metadata(errors: RowsInError) -> dict[str, Any]:
    """``rows_in_error`` (all of them) and a table of the first ones, with each row's reason."""
    return rows_metadata("rows_in_error", ERROR_ROW_COLUMNS, errors.rows, total=errors.total)


def plan_claim(claim: ClaimedChanges, companies: Sequence[Mapping[str, Any]], settings: CompaniesSettings,
               portal_writer: PortalWriter, context: Any) -> CompanySyncPlan:
    return company_sync_plan(claim.groups, companies, settings, today=_today(),
                             basis=portal_writer.plan_basis(SYNC_NAME, context))


def read_directory(client: Any, customers: Iterable[Mapping[str, Any]], settings: CompaniesSettings) -> tuple[list[Row], dict[str, LinkCandidate]]:
    """Every managed company, and link candidates for the customers that have none."""
    companies = list_managed_companies(client, settings)
    managed = {clean_text(c.get("ORIGIN_ID")) for c in companies}
    missing = [c for c in customers if clean_text(c.get("id_cliente")) not in managed]
    return companies, find_link_candidates(client, missing, settings) if missing else {}


def customer_groups(customers: Iterable[Mapping[str, Any]]) -> Iterator[CustomerChanges]:
    """Each customer as the group the planner takes, one at a time."""
    return (CustomerChanges(clean_text(c["id_cliente"]), c) for c in customers)


def plan_reconcile(customers: Iterable[Mapping[str, Any]], companies: Sequence[Mapping[str, Any]], candidates: dict[str, LinkCandidate],
                   settings: CompaniesSettings, portal_writer: PortalWriter, context: Any) -> CompanySyncPlan:
    return company_sync_plan(customer_groups(customers), companies, settings, today=_today(), candidates=candidates, reconcile=True,
                             basis=portal_writer.plan_basis(RECONCILE, context))


def _plan_metadata(plan: CompanySyncPlan, settings: CompaniesSettings) -> dict[str, Any]:
    guard = plan.mass_deletion(settings.max_deletion_share)
    return {**plan.counts(), "deletion_guard": guard or "ok", "changes": dg.MetadataValue.md(plan_preview(plan))}


# --- the change-log consumer


@dg.asset(
    key=PENDING_CHANGES,
    group_name=GROUP,
    kinds={"postgres"},
    check_specs=[
        dg.AssetCheckSpec("mapping_coverage", asset=PENDING_CHANGES,
                          description="Every id_tipo_ot and id_cliente_tipo of the changed customers has a mapping."),
        dg.AssetCheckSpec("email_validity", asset=PENDING_CHANGES,
                          description="Every changed customer's mail is a valid address (invalid ones are left out)."),
        dg.AssetCheckSpec("pending_age", asset=PENDING_CHANGES,
                          description="No change has waited longer than companies.max_pending_age_seconds."),
        dg.AssetCheckSpec("rows_in_error", asset=PENDING_CHANGES,
                          description=("No change-log row is in ERROR (whatever its attempts) that was not requeued or "
                                       "followed by a processed change of its customer.")),
    ],
)
def pending_customer_changes(context: dg.AssetExecutionContext, change_log: ChangeLog, bitrix24: Bitrix24Resource,
                             portal_writer: PortalWriter, sync_settings: SyncSettings):
    """The change-log rows this run claimed, coalesced per customer with the customer's current Glyms row.

    Claimed under the portal's writer lock, which the run holds until it ends."""
    with reported_as_failure():
        all_settings = sync_settings.load()
        settings = all_settings.companies
        lock = portal_writer.hold(context, bitrix24.get_client().portal_url, all_settings.writer)
        claim = change_log.claim(context.run.run_id, settings, holds_portal_lock=True)
        backlog = change_log.backlog(settings)
        errors = change_log.rows_in_error()
    oldest_claimed = claim.oldest_age_seconds()
    oldest_waiting = max(oldest_claimed, _age(backlog.oldest_pending))
    return dg.MaterializeResult(
        value=claim,
        metadata={
            "dagster/row_count": claim.rows,
            "customers": len(claim.groups),
            **{f"{op.lower()}_rows": claim.per_operation.get(op, 0) for op in ("INSERT", "UPDATE", "DELETE")},
            "deleted_customers": sum(1 for g in claim.groups if g.customer is None),
            "oldest_claimed_age_seconds": round(oldest_claimed, 1),
            "still_pending": backlog.pending,
            "parked": backlog.parked,
            "rows_in_error": errors.total,
            "reclaimed_from_dead_runs": claim.reclaimed,
            "lock_waited_seconds": round(lock.waited_seconds, 1),
        },
        check_results=[
            *_warning_checks(claim.groups, settings),
            dg.AssetCheckResult(check_name="pending_age", passed=oldest_waiting <= settings.max_pending_age_seconds,
                                severity=dg.AssetCheckSeverity.WARN,
                                metadata={"oldest_age_seconds": round(oldest_waiting, 1),
                                          "limit_seconds": settings.max_pending_age_seconds}),
            dg.AssetCheckResult(check_name="rows_in_error", passed=errors.total == 0, severity=dg.AssetCheckSeverity.WARN,
                                metadata={**rows_in_error_metadata(errors), "parked": backlog.parked,
                                          "remedy": ("fix the customer in Glyms (its next change syncs it) or the cause, "
                                                     "then glyms-b24 requeue; glyms-b24 explain customer ID")}),
        ],
    )


def _age(moment: Optional[_dt.datetime]) -> float:
    if moment is None:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return max(0.0, (_dt.datetime.now(_dt.timezone.utc) - moment).total_seconds())


@dg.asset(key=COMPANIES, group_name=GROUP, kinds={"bitrix24"}, ins={"changes": dg.AssetIn(PENDING_CHANGES)})
def companies(context: dg.AssetExecutionContext, changes: ClaimedChanges, bitrix24: Bitrix24Resource,
              portal_writer: PortalWriter, sync_settings: SyncSettings):
    """The companies whose ORIGIN_ID the claimed changes touch, looked up in bulk under the portal lock."""
    with reported_as_failure():
        settings = sync_settings.load()
        client = bitrix24.get_client()
        portal_writer.hold(context, client.portal_url, settings.writer)
        before = client.counters.requests
        found = lookup_by_origin(client, [g.origin_id for g in changes.groups], settings.companies)
        portal_writer.note_read(SYNC_NAME, context)
    origins = [clean_text(c.get("ORIGIN_ID")) for c in found]
    return dg.MaterializeResult(value=found, metadata={
        "dagster/row_count": len(found),
        "customers_without_company": len({g.origin_id for g in changes.groups} - set(origins)),
        "shared_origin_ids": len(origins) - len(set(origins)),
        "b24_requests": client.counters.requests - before,
    })


@dg.asset(key=COMPANIES_PLAN, group_name=GROUP, kinds={"python"},
          ins={"changes": dg.AssetIn(PENDING_CHANGES), "found": dg.AssetIn(COMPANIES)})
def companies_plan(context: dg.AssetExecutionContext, changes: ClaimedChanges, found: list,
                   portal_writer: PortalWriter, sync_settings: SyncSettings):
    """What each changed customer needs: create, update, deletion note, unchanged, invalid, duplicate ORIGIN_ID."""
    with reported_as_failure():
        settings = sync_settings.load().companies
    plan = plan_claim(changes, found, settings, portal_writer, context)
    return dg.MaterializeResult(value=plan, metadata=_plan_metadata(plan, settings))


class CompaniesPushConfig(dg.Config):
    """Run options for the companies push."""

    dry_run: bool = False


@dg.asset(key=COMPANIES_PUSH, group_name=GROUP, kinds={"bitrix24"}, ins={"plan": dg.AssetIn(COMPANIES_PLAN)},
          check_specs=[push_failures_spec(COMPANIES_PUSH)])
def companies_push(context: dg.AssetExecutionContext, config: CompaniesPushConfig, plan: CompanySyncPlan,
                   bitrix24: Bitrix24Resource, glyms_db: GlymsDatabase, portal_writer: PortalWriter,
                   change_log: ChangeLog, sync_settings: SyncSettings):
    """Writes the plan to Bitrix24 in batches; each log row ends PROCESSED, TARGET_MISSING, ERROR or PENDING for a retry.

    Applies only a plan computed by this run under its portal lock; any other plan (this asset
    materialised alone, re-execution from failure, a retried step) is recomputed from a new claim."""
    run_id = context.run.run_id

    def recompute(client: Any, settings: Settings) -> CompanySyncPlan:
        claim = change_log.claim(run_id, settings.companies, holds_portal_lock=True)
        found = lookup_by_origin(client, [g.origin_id for g in claim.groups], settings.companies)
        portal_writer.note_read(SYNC_NAME, context)
        return plan_claim(claim, found, settings.companies, portal_writer, context)

    return _push(context, plan, config.dry_run, False, bitrix24, glyms_db, portal_writer, change_log, sync_settings,
                 recompute, SYNC_NAME)


# --- the reconciliation


@dg.asset(key=CUSTOMERS, group_name=GROUP, kinds={"postgres"}, check_specs=[
    dg.AssetCheckSpec("mapping_coverage", asset=CUSTOMERS,
                      description="Every id_tipo_ot and id_cliente_tipo in use has a mapping."),
    dg.AssetCheckSpec("email_validity", asset=CUSTOMERS,
                      description="Every customer's mail is a valid address (invalid ones are left out)."),
])
def customers(glyms_db: GlymsDatabase, sync_settings: SyncSettings):
    """Every Glyms customer (public.cliente), for the full reconciliation and the initial load."""
    with reported_as_failure():
        settings = sync_settings.load().companies
        glyms_db.require_contract()
        rows = glyms_db.table("all_customers")
    return dg.MaterializeResult(value=rows, metadata={"dagster/row_count": len(rows)},
                                check_results=_warning_checks(customer_groups(rows), settings))


@dg.asset(key=COMPANY_DIRECTORY, group_name=GROUP, kinds={"bitrix24"}, ins={"customer_rows": dg.AssetIn(CUSTOMERS)},
          check_specs=[dg.AssetCheckSpec("unique_origin_ids", asset=COMPANY_DIRECTORY,
                                         description="No two companies share an ORIGIN_ID.")])
def company_directory(context: dg.AssetExecutionContext, customer_rows: RowTable, bitrix24: Bitrix24Resource,
                      portal_writer: PortalWriter, sync_settings: SyncSettings):
    """Every company that carries an ORIGIN_ID, plus hand-made companies matching a customer that has none."""
    with reported_as_failure():
        settings = sync_settings.load()
        client = bitrix24.get_client()
        lock = portal_writer.hold(context, client.portal_url, settings.writer)
        before = client.counters.requests
        found, candidates = read_directory(client, customer_rows, settings.companies)
        portal_writer.note_read(RECONCILE, context)
    origins = [clean_text(c.get("ORIGIN_ID")) for c in found]
    shared = sorted({o for o in origins if origins.count(o) > 1}) if len(origins) != len(set(origins)) else []
    return dg.MaterializeResult(
        value={"companies": found, "candidates": candidates},
        metadata={"dagster/row_count": len(found), "link_candidates": len(candidates),
                  "b24_requests": client.counters.requests - before, "lock_waited_seconds": round(lock.waited_seconds, 1)},
        check_results=[dg.AssetCheckResult(check_name="unique_origin_ids", passed=not shared,
                                           severity=dg.AssetCheckSeverity.WARN,
                                           metadata={"shared_origin_ids": len(shared),
                                                     "first": ", ".join(shared[:10]) or "none"})],
    )


@dg.asset(key=RECONCILE_PLAN, group_name=GROUP, kinds={"python"},
          ins={"customer_rows": dg.AssetIn(CUSTOMERS), "directory": dg.AssetIn(COMPANY_DIRECTORY)})
def companies_reconcile_plan(context: dg.AssetExecutionContext, customer_rows: RowTable, directory: dict,
                             portal_writer: PortalWriter, sync_settings: SyncSettings):
    """Every customer against every managed company: creates, drift to repair, deletions, link candidates."""
    with reported_as_failure():
        settings = sync_settings.load().companies
    plan = plan_reconcile(customer_rows, directory["companies"], directory["candidates"], settings, portal_writer,
                          context)
    return dg.MaterializeResult(value=plan, metadata=_plan_metadata(plan, settings))


class CompaniesReconcileConfig(dg.Config):
    """Run options for the reconciliation push."""

    dry_run: bool = False
    allow_mass_deletion: bool = False


@dg.asset(key=RECONCILE_PUSH, group_name=GROUP, kinds={"bitrix24"}, ins={"plan": dg.AssetIn(RECONCILE_PLAN)},
          check_specs=[push_failures_spec(RECONCILE_PUSH)])
def companies_reconcile_push(context: dg.AssetExecutionContext, config: CompaniesReconcileConfig,
                             plan: CompanySyncPlan, bitrix24: Bitrix24Resource, glyms_db: GlymsDatabase,
                             portal_writer: PortalWriter, change_log: ChangeLog, sync_settings: SyncSettings):
    """Writes the reconciliation to Bitrix24 and records each company's outcome in glyms_b24.sync_audit."""

    def recompute(client: Any, settings: Settings) -> CompanySyncPlan:
        glyms_db.require_contract()
        rows = glyms_db.table("all_customers")
        found, candidates = read_directory(client, rows, settings.companies)
        portal_writer.note_read(RECONCILE, context)
        return plan_reconcile(rows, found, candidates, settings.companies, portal_writer, context)

    return _push(context, plan, config.dry_run, config.allow_mass_deletion, bitrix24, glyms_db, portal_writer,
                 change_log, sync_settings, recompute, RECONCILE)


# --- the push, shared by both


def _skipped_records(plan: CompanySyncPlan) -> list[AuditRecord]:
    return [AuditRecord(entity="company", glyms_key=c.origin_id, operation=c.action.value, outcome="skipped",
                        bitrix_id=str(c.bitrix_id) if c.bitrix_id is not None else None, error=c.reason)
            for c in plan.changes if c.action in (CompanyAction.INVALID, CompanyAction.DUPLICATE,
                                                  CompanyAction.TARGET_MISSING, CompanyAction.CANDIDATE)]


def _push(context: Any, plan: CompanySyncPlan, dry_run: bool, allow_mass_deletion: bool, bitrix24: Bitrix24Resource,
          glyms_db: GlymsDatabase, portal_writer: PortalWriter, change_log: ChangeLog, sync_settings: SyncSettings,
          recompute: Any, sync: str):
    with reported_as_failure():
        all_settings = sync_settings.load()
        settings = all_settings.companies
        client = bitrix24.get_client()
        plan, recomputed, lock = portal_writer.plan_to_apply(context, client, all_settings.writer, plan,
                                                             lambda: recompute(client, all_settings))
        # a COMPANY_TYPE, INDUSTRY or user field the portal lacks: stop before writing
        check_mappings(client, glyms_db.dsn, all_settings, [COMPANIES_MAPPINGS]).raise_if_portal_broken()
    guard = plan.mass_deletion(settings.max_deletion_share)
    enforce_guard(guard, allowed=allow_mass_deletion, dry_run=dry_run,
                  remedy=("Check that GLYMS_PG_DSN points at the right Glyms database; to go ahead anyway, run "
                          "glyms-b24 reconcile companies --allow-mass-deletion."))
    if dry_run:  # the claimed rows go back to PENDING when the run ends
        return dry_run_result(plan, guard_name="deletion_guard", guard=guard, recomputed=recomputed,
                              preview=plan_preview(plan))

    assert plan.basis is not None
    portal_writer.mark_applied(plan.basis)
    with reported_as_failure():
        before = client.counters.as_metadata()
        started = time.monotonic()
        outcomes = _write(context.run.run_id, plan, client, lock, glyms_db, change_log, settings, sync)
    raise_if_blocked(outcomes)
    counts = plan.counts()
    not_synced = [(c.origin_id, c.action.value, c.reason) for c in plan.changes
                  if c.action in (CompanyAction.INVALID, CompanyAction.DUPLICATE)]
    excluded = [(c.origin_id, "excluded", "; ".join(w for w in c.warnings if w.startswith(EXCLUDED_NOTE)))
                for c in plan.changes if any(w.startswith(EXCLUDED_NOTE) for w in c.warnings)]
    candidates = [(c.origin_id, c.bitrix_id, c.reason) for c in plan.changes if c.action == CompanyAction.CANDIDATE]
    with reported_as_failure():
        errors = change_log.rows_in_error()
    return pushed_result(context, outcomes, what="company", action_of=_action, duration=time.monotonic() - started,
                         counters_before=before, counters_after=client.counters.as_metadata(),
                         extra={**{k: counts[k] for k in ("unchanged", "invalid", "duplicate", "target_missing",
                                                          "log_rows")},
                                "plan_recomputed": recomputed or "no", **not_synced_metadata(not_synced, excluded, "company"),
                                **rows_metadata("link_candidate", ["id_cliente", "bitrix_company_id", "reason"], candidates),
                                **rows_in_error_metadata(errors)})


def _write(run_id: str, plan: CompanySyncPlan, client: Any, lock: Any, glyms_db: GlymsDatabase, change_log: ChangeLog,
           settings: CompaniesSettings, sync: str) -> list:
    """The plan's writes, each log row settled with its write's audit row; the changes that write nothing first."""
    trail = AuditTrail(glyms_db, run_id)
    quiet = [c for c in plan.changes if not c.writes]
    trail.record_skipped(_skipped_records(plan), also=lambda tx: settle_rows(
        tx, run_id, [d for c in quiet for d in decisions_for(c, None, settings)]))
    renew_claims = ClaimRenewal(lambda: change_log.renew(run_id), settings.lease_seconds)

    def before_slice() -> None:
        lock.ensure_held()
        renew_claims()

    def settle_also(outcomes: Any) -> Any:
        decisions = [d for o in outcomes for d in decisions_for(o.change, o, settings)]
        return lambda tx: settle_rows(tx, run_id, decisions)

    writes = plan.writes
    return push_changes(client, writes, CompanyWrites(settings), trail, before_slice=before_slice,
                        before_request=lock.touch, settle_also=settle_also,
                        on_progress=progress.push_progress(sync, client, total=len(writes)))


def _action(change: Any) -> str:
    return change.action.value


consumer_assets = [pending_customer_changes, companies, companies_plan, companies_push]
reconcile_assets = [customers, company_directory, companies_reconcile_plan, companies_reconcile_push]
companies_assets = consumer_assets + reconcile_assets
