"""``glyms-b24 repair services|companies``: what the legacy script left in the portal.

``repair services`` writes (one writer per portal: it holds the portal lock from its read of the
catalog to its last write, and records every change in ``glyms_b24.sync_audit`` under a run id
of its own, ``repair-<uuid>``); ``repair companies`` only reports. Exit codes as every command:
0 done, 1 some writes failed (services) or duplicates to review (companies), 2 configuration,
3 another writer holds the portal.
"""

from __future__ import annotations

import argparse

from glyms_b24_pipeline.cli.output import emit, format_option, note, render
from glyms_b24_pipeline.cli.portal import cli_client, operator_errors
from glyms_b24_pipeline.defs.companies.repair import list_companies_with_origin, report_rows, shared_origin_ids
from glyms_b24_pipeline.defs.services.repair import ServiceRepairResult, aside_xml_id, repair_services
from glyms_b24_pipeline.glyms.connection import describe_dsn
from glyms_b24_pipeline.settings.errors import OperatorError
from glyms_b24_pipeline.settings.model import SERVICES_KEEP_POLICIES, Settings, load_settings, require_env
from glyms_b24_pipeline.sync.push import BLOCKED

COMPANY_COLUMNS = ("ORIGIN_ID", "ID", "TITLE", "DATE_CREATE", "EMAIL", "PHONE", "SUGERENCIA")


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


def add_commands(commands: argparse._SubParsersAction) -> None:
    repair = commands.add_parser(
        "repair", help="repair what the legacy script left: duplicate services, companies sharing an ORIGIN_ID")
    repair.add_argument("target", choices=["services", "companies"], metavar="WHAT",
                        help="services: keep one service per xmlId, deactivate and set aside the others; "
                             "companies: report companies sharing an ORIGIN_ID (never merged)")
    repair.add_argument("--dry-run", action="store_true", help="services: show what would change; write nothing")
    repair.add_argument("--keep", choices=SERVICES_KEEP_POLICIES,
                        help="services: which duplicate keeps the xmlId (default: repair.services_keep)")
    format_option(repair)
    repair.set_defaults(handler=repair_command)
