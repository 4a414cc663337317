"""``glyms-b24 repair services|companies``: what the legacy script left in the portal.

``repair services`` writes (one writer per portal: it holds the portal lock from its read of the
catalog to its last write, and records every change in ``glyms_b24.sync_audit`` under a run id
of its own, ``repair-<uuid>``); ``repair companies`` only reports. Exit codes as every command:
0 done, 1 some writes failed (services) or duplicates to review (companies), 2 configuration,
3 another writer holds the portal.
"""

from __future__ import annotations

import argparse

from glyms_b24_pipeline.cli.i18n import _
from glyms_b24_pipeline.cli.output import emit, format_option, note, render
from glyms_b24_pipeline.cli.portal import cli_client, operator_errors
from glyms_b24_pipeline.cli.reasons import translated
from glyms_b24_pipeline.defs.companies.repair import list_companies_with_origin, report_rows, shared_origin_ids
from glyms_b24_pipeline.defs.services.repair import ServiceRepairResult, aside_xml_id, repair_services
from glyms_b24_pipeline.glyms.connection import describe_dsn
from glyms_b24_pipeline.settings.errors import OperatorError
from glyms_b24_pipeline.settings.model import SERVICES_KEEP_POLICIES, Settings, load_settings, require_env
from glyms_b24_pipeline.sync.push import BLOCKED


def company_columns() -> tuple[str, ...]:
    return ("ORIGIN_ID", "ID", "TITLE", "DATE_CREATE", "EMAIL", "PHONE", _("SUGGESTION"))


def service_summary(result: ServiceRepairResult, iblock_id: int) -> list[str]:
    """In the run's language; one line per duplicated xmlId."""
    plan = result.plan
    if not plan.groups:
        return [_("no duplicate services in catalog {iblock_id}: nothing to repair").format(iblock_id=iblock_id)]
    aside = len(plan.changes)
    if result.dry_run:
        lines = [_("dry run (--dry-run), nothing written: {groups} xmlIds with duplicates; {aside} services would be "
                   "deactivated and set aside").format(groups=len(plan.groups), aside=aside)]
    else:
        failed = len(result.failed)
        lines = [_("repair {run_id}: {status}; {groups} xmlIds with duplicates, {done} services deactivated and set "
                   "aside, {failed} failed").format(run_id=result.run_id, status=_("DONE") if not failed else
                                                    _("DONE WITH PROBLEMS"), groups=len(plan.groups), done=aside - failed,
                                                    failed=failed)]
    line = (_("  xmlId {xml_id}: {keep} would be kept ({why}); set aside: {others}") if result.dry_run
            else _("  xmlId {xml_id}: {keep} is kept ({why}); set aside: {others}"))
    failed_ids = {o.change.bitrix_id for o in result.failed}
    failed_word = _("write failed")
    for group in plan.groups:
        others = ", ".join(f"{o.bitrix_id} ({failed_word if o.bitrix_id in failed_ids else aside_xml_id(group.xml_id, o.bitrix_id)})"
                           for o in group.others)
        lines.append(line.format(xml_id=group.xml_id, keep=group.keep.bitrix_id, why=translated(group.why), others=others))
    for outcome in result.failed:
        lines.append(_("  failed: xmlId {xml_id}, service {id}: {errors}").format(
            xml_id=outcome.glyms_key, id=outcome.change.bitrix_id, errors="; ".join(outcome.errors)))
    if not result.dry_run:
        lines.append(_("  every change is in glyms_b24.sync_audit (run_id {run_id}); the next services sync updates "
                       "the one kept").format(run_id=result.run_id))
    return lines


def _repair_services_command(args: argparse.Namespace, settings: Settings) -> int:
    dsn = require_env("GLYMS_PG_DSN", _("the portal lock and the audit are kept in the Glyms database"))
    with cli_client(args) as client:
        result = repair_services(client, dsn, settings, policy=args.keep, dry_run=args.dry_run)
    blocked = [o for o in result.failed if o.failure == BLOCKED]
    emit(service_summary(result, settings.services.iblock_id))
    if blocked:
        raise OperatorError(_("Bitrix24 refused the credentials during the repair ({count} services unchanged); "
                              "authorise again with glyms-b24 auth or check B24_WEBHOOK_URL (audit run {run_id}, "
                              "{where})").format(count=len(blocked), run_id=result.run_id, where=describe_dsn(dsn)))
    return result.exit_code


def _report_companies_command(args: argparse.Namespace) -> int:
    fmt = getattr(args, "format", None) or "table"
    with cli_client(args) as client:
        groups = shared_origin_ids(list_companies_with_origin(client))
    if not groups and fmt == "table":
        note(_("no companies share an ORIGIN_ID: nothing to review"))
        return 0
    rows = [(*row[:-1], translated(row[-1])) for row in report_rows(groups)]
    if emit(render(company_columns(), rows, fmt)) and groups:
        companies = sum(len(g.companies) for g in groups)
        note(_("{groups} ORIGIN_IDs shared by {companies} companies; nothing was merged. In Bitrix24, merge each group "
               "into the suggested company (Companies: select them and Merge) or clear the copies' ORIGIN_ID; until "
               "then the companies sync does not write those customers").format(groups=len(groups), companies=companies),
             fmt)
    return 1 if groups else 0


@operator_errors
def repair_command(args: argparse.Namespace) -> int:
    settings = load_settings(getattr(args, "config", None))
    if args.target == "services":
        return _repair_services_command(args, settings)
    return _report_companies_command(args)


def add_commands(commands: argparse._SubParsersAction) -> None:
    repair = commands.add_parser(
        "repair", help=_("repair what the legacy script left: duplicate services, companies sharing an ORIGIN_ID"))
    repair.add_argument("target", choices=["services", "companies"], metavar="WHAT",
                        help=_("services: keep one service per xmlId, deactivate and set aside the others; "
                               "companies: report companies sharing an ORIGIN_ID (never merged)"))
    repair.add_argument("--dry-run", action="store_true", help=_("services: show what would change; write nothing"))
    repair.add_argument("--keep", choices=SERVICES_KEEP_POLICIES,
                        help=_("services: which duplicate keeps the xmlId (default: repair.services_keep)"))
    format_option(repair)
    repair.set_defaults(handler=repair_command)
