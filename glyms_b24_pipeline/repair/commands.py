"""``glyms-b24 repair services|companies``: what the legacy script left in the portal.

``repair services`` writes (one writer per portal: it holds the portal lock from its read of the
catalog to its last write, and records every change in ``glyms_b24.sync_audit`` under a run id
of its own, ``repair-<uuid>``); ``repair companies`` only reports. Exit codes as every command:
0 done, 1 some writes failed (services) or duplicates to review (companies), 2 configuration,
3 another writer holds the portal.
"""

from __future__ import annotations

import argparse
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

from glyms_b24_pipeline.bitrix24.commands import cli_client, operator_errors
from glyms_b24_pipeline.config import Settings, load_settings, require_env
from glyms_b24_pipeline.errors import OperatorError
from glyms_b24_pipeline.glyms.connection import describe_dsn
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.operator.output import emit, note, render
from glyms_b24_pipeline.repair.companies import list_companies_with_origin, report_rows, shared_origin_ids
from glyms_b24_pipeline.repair.services import (
    ServiceRepairPlan,
    SetAside,
    SetAsideWrites,
    aside_xml_id,
    catalog_entries,
    plan_service_repair,
)
from glyms_b24_pipeline.services.push import list_catalog_services, list_service_prices
from glyms_b24_pipeline.sync.audit import AuditTrail
from glyms_b24_pipeline.sync.lock import PortalLock
from glyms_b24_pipeline.sync.push import BLOCKED, ChangeOutcome, push_changes

COMPANY_COLUMNS = ("ORIGIN_ID", "ID", "TITLE", "DATE_CREATE", "EMAIL", "PHONE", "SUGERENCIA")


@dataclass
class ServiceRepairResult:
    run_id: str
    plan: ServiceRepairPlan
    dry_run: bool
    outcomes: list[ChangeOutcome[SetAside]] = field(default_factory=list)

    @property
    def failed(self) -> list[ChangeOutcome[SetAside]]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def read_repair_plan(client: Any, settings: Settings, policy: str) -> ServiceRepairPlan:
    services = list_catalog_services(client, settings.services)
    prices = list_service_prices(client, settings.services)
    return plan_service_repair(catalog_entries(services, prices, settings.services), policy,
                               settings.services.price_type_id)


def repair_services(client: Any, dsn: str, settings: Settings, *, policy: Optional[str] = None,
                    dry_run: bool = False, run_id: Optional[str] = None) -> ServiceRepairResult:
    """Set aside every duplicate of the catalog (``dry_run``: only say which)."""
    policy = policy or settings.repair.services_keep
    run_id = run_id or f"repair-{uuid.uuid4()}"
    if dry_run:  # writes nothing, so it needs no lock: a sync may run meanwhile
        return ServiceRepairResult(run_id, read_repair_plan(client, settings, policy), dry_run=True)
    lock = PortalLock(dsn, client.portal_url, run_id, wait_seconds=settings.writer.lock_wait_seconds,
                      in_flight_grace_seconds=settings.writer.in_flight_grace_seconds)
    with lock:  # read and write under one hold: no sync can create or match a duplicate in between
        plan = read_repair_plan(client, settings, policy)
        outcomes = push_changes(client, plan.changes, SetAsideWrites(settings.services, policy),
                                AuditTrail(GlymsDatabase(dsn=dsn), run_id), before_slice=lock.ensure_held,
                                before_request=lock.touch)
    return ServiceRepairResult(run_id, plan, dry_run=False, outcomes=outcomes)


def service_summary(result: ServiceRepairResult, iblock_id: int) -> list[str]:
    """Spanish first, as every command; one line per duplicated xmlId."""
    plan = result.plan
    if not plan.groups:
        return [f"no hay servicios duplicados en el catálogo {iblock_id}: nada que reparar (no duplicate services)"]
    aside = len(plan.changes)
    if result.dry_run:
        lines = [f"simulación (--dry-run), no se escribió nada: {len(plan.groups)} xmlId con duplicados; "
                 f"se desactivarían y apartarían {aside} servicios (dry run: {aside} duplicates would be set aside)"]
    else:
        failed = len(result.failed)
        lines = [f"reparación {result.run_id}: {'HECHO' if not failed else 'HECHO CON PROBLEMAS'}; "
                 f"{len(plan.groups)} xmlId con duplicados, {aside - failed} servicios desactivados y apartados, "
                 f"{failed} fallaron ({aside - failed} duplicates set aside, {failed} failed)"]
    verb = "se conservaría" if result.dry_run else "se conserva"
    failed_ids = {o.change.bitrix_id for o in result.failed}
    for group in plan.groups:
        others = ", ".join(f"{o.bitrix_id} ({'falló' if o.bitrix_id in failed_ids else aside_xml_id(group.xml_id, o.bitrix_id)})"
                           for o in group.others)
        lines.append(f"  xmlId {group.xml_id}: {verb} {group.keep.bitrix_id} ({group.why}); apartados: {others}")
    for outcome in result.failed:
        lines.append(f"  falló: xmlId {outcome.glyms_key}, servicio {outcome.change.bitrix_id}: "
                     f"{'; '.join(outcome.errors)}")
    if not result.dry_run:
        lines.append(f"  cada cambio está en glyms_b24.sync_audit (run_id {result.run_id}); "
                     "el próximo sync de servicios actualiza el que se conserva")
    return lines


def _repair_services_command(args: argparse.Namespace, settings: Settings) -> int:
    dsn = require_env("GLYMS_PG_DSN", "the portal lock and the audit are kept in the Glyms database")
    with cli_client(args) as client:
        result = repair_services(client, dsn, settings, policy=args.keep, dry_run=args.dry_run)
    blocked = [o for o in result.failed if o.failure == BLOCKED]
    emit(service_summary(result, settings.services.iblock_id))
    if blocked:
        raise OperatorError(f"Bitrix24 rechazó las credenciales durante la reparación ({len(blocked)} servicios sin "
                            f"cambiar); vuelva a autorizar con glyms-b24 auth o revise B24_WEBHOOK_URL "
                            f"(audit run {result.run_id}, {describe_dsn(dsn)})")
    return result.exit_code


def _report_companies_command(args: argparse.Namespace) -> int:
    fmt = getattr(args, "format", None) or "table"
    with cli_client(args) as client:
        groups = shared_origin_ids(list_companies_with_origin(client))
    if not groups and fmt == "table":
        note("ninguna empresa comparte ORIGIN_ID: nada que revisar (no shared ORIGIN_IDs)")
        return 0
    if emit(render(COMPANY_COLUMNS, report_rows(groups), fmt)) and groups:
        companies = sum(len(g.companies) for g in groups)
        note(f"{len(groups)} ORIGIN_ID compartidos por {companies} empresas; no se fusionó nada. En Bitrix24, fusione "
             "cada grupo en la empresa sugerida (Empresas: seleccionarlas y Fusionar) o borre el ORIGIN_ID de las "
             "copias; hasta entonces la sincronización de empresas no escribe esos clientes", fmt)
    return 1 if groups else 0


@operator_errors
def repair_command(args: argparse.Namespace) -> int:
    settings = load_settings(getattr(args, "config", None))
    if args.target == "services":
        return _repair_services_command(args, settings)
    return _report_companies_command(args)
