"""``glyms-b24 explain service KEY`` / ``explain customer ID``: why one row is as it is, on one screen.

Read-only: a handful of list calls on the portal (no batch, no portal lock), SELECTs on Glyms. The
plan shown is the sync's own planner run on that one row (``defs/*/explain.py``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Mapping, Sequence

from glyms_b24_pipeline.cli.i18n import _
from glyms_b24_pipeline.cli.output import emit, format_table
from glyms_b24_pipeline.cli.portal import cli_client, operator_errors
from glyms_b24_pipeline.cli.reasons import translated
from glyms_b24_pipeline.defs.companies.explain import read_customer_explanation
from glyms_b24_pipeline.defs.services.explain import read_service_explanation
from glyms_b24_pipeline.settings.model import load_settings, require_env

AUDIT_COLUMNS = ("recorded_at", "run_id", "entity", "operation", "outcome", "bitrix_id", "error")
LOG_COLUMNS = ("log_id", "operation_type", "change_timestamp", "sync_status", "attempts", "bitrix_company_id",
               "error_message")


def _why(action: str, sync: str) -> str:
    """What an action means for the operator (the planner's reason, when it has one, follows)."""
    services = {
        "create": _("the catalog has no service with this xmlId: it will be created"),
        "update": _("the catalog service differs from Glyms: the differing fields will be written"),
        "reactivate": _("the catalog service is inactive: it will be reactivated and brought in line"),
        "deactivate": _("Glyms has no active service with this id: the catalog service will be deactivated"),
        "unchanged": _("both sides agree: nothing will be written"),
        "invalid": _("the Glyms row cannot be synced: nothing will be written until it is fixed in Glyms"),
        "duplicate": _("several catalog services carry this xmlId: none is written until one is left "
                       "(glyms-b24 repair services)"),
        "none": _("neither Glyms (active) nor the catalog has it: nothing to do"),
    }
    companies = {
        "create": _("no company has this ORIGIN_ID: one will be created"),
        "update": _("the company differs from Glyms: the differing fields will be written"),
        "note": _("the customer was deleted in Glyms: the dated deletion note will be added to the comments"),
        "delete": _("the customer was deleted in Glyms: the company will be deleted (companies.on_delete)"),
        "link": _("a company typed by hand matches: it will be linked to the customer"),
        "unchanged": _("both sides agree: nothing will be written"),
        "ignored": _("the customer was deleted in Glyms and companies.on_delete is ignore: nothing will be written"),
        "target_missing": _("no company to write to: the log rows will be marked TARGET_MISSING"),
        "invalid": _("the customer cannot be synced: its log rows end in ERROR until it is fixed in Glyms"),
        "duplicate": _("several companies share this ORIGIN_ID: none is written (glyms-b24 repair companies)"),
        "link_candidate": _("a company typed by hand matches by e-mail or phone: reported, not duplicated"),
    }
    return (services if sync == "services_sync" else companies).get(action, action)


def _sync_label(sync: str) -> str:
    return {"services_sync": _("next services sync (services_sync)"),
            "companies_sync": _("next change-log run (companies_sync)"),
            "companies_reconcile": _("next reconciliation (companies_reconcile)")}.get(sync, sync)


def _yes_no(value: Any) -> str:
    return _("yes") if value else _("no")


def _table(headers: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    return ["  " + line for line in format_table(list(headers), [[row.get(h) for h in headers] for row in rows])]


def render_text(report: Mapping[str, Any]) -> list[str]:
    """The explanation for a person, in the run's language."""
    service = report["entity"] == "service"
    title = _("service {key} (xmlId in Bitrix24)") if service else _("customer {key} (ORIGIN_ID in Bitrix24)")
    lines = [title.format(key=report["key"]), "", _("Glyms, as the sync maps it:")]
    if not report["glyms"]:
        lines.append("  " + (_("none: no service with this id or codigo") if service else
                             _("none: the customer does not exist (deleted)")))
    for entry in report["glyms"]:
        if service:
            lines.append("  " + _("active in Glyms: {answer}").format(answer=_yes_no(entry["active"])))
        for name, value in (entry["mapped"] or {}).items():
            lines.append(f"  {name}: {'' if value is None else value}")
        if entry["reason"]:
            lines.append("  " + _("cannot be synced: {reason}").format(reason=translated(entry["reason"])))
        for warning in entry["warnings"]:
            lines.append("  " + _("warning: {warning}").format(warning=translated(warning)))
    lines += ["", _("Bitrix24:")]
    found = report["bitrix24"]
    if not found:
        lines.append("  " + _("none"))
    else:
        if len(found) > 1:
            lines.append("  " + _("{count} entities carry this key (duplicates):").format(count=len(found)))
        lines += _table(list(found[0]), found)
    candidate = report.get("link_candidate")
    if candidate:
        lines.append("  " + _("company {id}, typed by hand, has the same {matched_by}").format(
            id=candidate["ID"], matched_by=candidate["matched_by"]))
    lines += ["", _("Differences:")]
    differences = [d for d in report["differences"] if not d["same"]]
    if not report["differences"]:
        lines.append("  " + _("nothing to compare (one side is missing, or there are several)"))
    elif not differences:
        lines.append("  " + _("none: every field agrees"))
    else:
        lines += _table((_("field"), "Glyms", "Bitrix24"),
                        [{_("field"): d["field"], "Glyms": d["glyms"], "Bitrix24": d["bitrix24"]} for d in differences])
    if not service:
        lines += ["", _("Change log (newest first):")]
        lines += _table(LOG_COLUMNS, report["change_log"]) if report["change_log"] else ["  " + _("no rows")]
    lines += ["", _("Audit (newest first):")]
    lines += _table(AUDIT_COLUMNS, report["audit"]) if report["audit"] else ["  " + _("no rows")]
    for upcoming in report["next"]:
        lines += ["", _sync_label(upcoming["sync"]) + f": {upcoming['action']}",
                  "  " + _why(upcoming["action"], upcoming["sync"])]
        if upcoming.get("reason"):
            lines.append("  " + _("reason: {reason}").format(reason=translated(upcoming["reason"])))
        for name, value in (upcoming.get("fields") or {}).items():
            lines.append("  " + _("would send {field}: {value}").format(field=name, value=value))
        if upcoming.get("price") is not None:
            lines.append("  " + _("would send the price: {price} (now {old})").format(
                price=upcoming["price"], old=upcoming.get("old_price") or _("none")))
    return lines


@operator_errors
def explain_command(args: argparse.Namespace) -> int:
    settings = load_settings(getattr(args, "config", None))
    dsn = require_env("GLYMS_PG_DSN", _("DSN of the Glyms PostgreSQL database"))
    with cli_client(args) as client:
        if args.what == "service":
            report = read_service_explanation(client, dsn, settings.services, args.key)
        else:
            report = read_customer_explanation(client, dsn, settings.companies, args.key)
    if args.format == "json":
        emit(json.dumps(report, ensure_ascii=False, indent=2, default=str).splitlines())
    else:
        emit(render_text(report))
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    explain = commands.add_parser(
        "explain", help=_("one row on one screen: Glyms, Bitrix24, differences, change log, audit, next sync (read-only)"))
    explain.add_argument("what", choices=["service", "customer"], metavar="service|customer")
    explain.add_argument("key", metavar="ID", help=_("the Glyms id (id_prestacion, id_cliente) or a service's codigo"))
    explain.add_argument("--format", choices=["table", "json"], default="table", help=_("table (default) or json"))
    explain.set_defaults(handler=explain_command)
