"""CLI handlers for the Glyms side."""

from __future__ import annotations

import argparse
import sys

from glyms_b24_pipeline.cli.i18n import _
from glyms_b24_pipeline.cli.reasons import translated
from glyms_b24_pipeline.glyms.connection import describe_dsn
from glyms_b24_pipeline.glyms.contract import RELATIONS, contract_error
from glyms_b24_pipeline.glyms.install import check_install, install_sql
from glyms_b24_pipeline.settings.model import require_env


def _kind(kind: str) -> str:
    return {"view": _("view"), "table": _("table"), "schema": _("schema"), "trigger": _("trigger"),
            "function": _("function"), "index": _("index"), "column": _("column")}.get(kind, kind)


def install_sql_command(args: argparse.Namespace) -> int:
    dsn = require_env("GLYMS_PG_DSN", _("DSN of the Glyms PostgreSQL database"))
    where = describe_dsn(dsn)
    if args.check:
        check = check_install(dsn)
        for relation in RELATIONS:  # the Glyms-owned objects of the contract: ok, or what is wrong
            if relation.created_by_install:
                continue
            problems = [v.text.removeprefix(relation.name).lstrip(".: ") for v in check.glyms_violations
                        if v.object_name == relation.name]
            status = _("ERROR") if problems else _("ok")
            print(f"{status:<7}  {_kind(relation.kind):<8}  {relation.name}"
                  + (f": {'; '.join(translated(p) for p in problems)}" if problems else ""))
        for obj in check.objects:
            status = _("ok") if obj.present else _("MISSING")
            print(f"{status:<7}  {_kind(obj.kind):<8}  {obj.name}")
        error = contract_error(check.glyms_violations, dsn)
        if error is not None:
            print(f"error: {translated(str(error))}", file=sys.stderr)
            return error.exit_code
        if check.missing:
            print(_("{missing} of {total} objects missing in {where}: run glyms-b24 install-sql").format(
                missing=len(check.missing), total=len(check.objects), where=where))
            return 1
        print(_("all {total} objects present in {where}; the Glyms schema contract is met").format(
            total=len(check.objects), where=where))
        return 0
    applied = install_sql(dsn)
    print(_("applied {files} to {where}").format(files=", ".join(applied), where=where))
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    install = commands.add_parser("install-sql", help=_("create the change-log table, triggers and project schema in Glyms"))
    install.add_argument("--check", action="store_true",
                         help=_("only report what is missing (the Glyms schema contract included); change nothing"))
    install.set_defaults(handler=install_sql_command)
