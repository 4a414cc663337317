"""CLI handlers for the Glyms side."""

from __future__ import annotations

import argparse
import sys

from glyms_b24_pipeline.glyms.connection import describe_dsn
from glyms_b24_pipeline.glyms.contract import contract_error
from glyms_b24_pipeline.glyms.install import check_install, glyms_object_lines, install_sql
from glyms_b24_pipeline.settings.model import require_env


def install_sql_command(args: argparse.Namespace) -> int:
    dsn = require_env("GLYMS_PG_DSN", "DSN of the Glyms PostgreSQL database")
    where = describe_dsn(dsn)
    if args.check:
        check = check_install(dsn)
        for line in glyms_object_lines(check):
            print(line)
        for obj in check.objects:
            print(f"{'ok     ' if obj.present else 'MISSING'}  {obj.kind:<8}  {obj.name}")
        error = contract_error(check.glyms_violations, dsn)
        if error is not None:
            print(f"error: {error}", file=sys.stderr)
            return error.exit_code
        if check.missing:
            print(f"{len(check.missing)} of {len(check.objects)} objects missing in {where}: run glyms-b24 install-sql")
            return 1
        print(f"all {len(check.objects)} objects present in {where}; the Glyms schema contract is met")
        return 0
    applied = install_sql(dsn)
    print(f"applied {', '.join(applied)} to {where}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    install = commands.add_parser("install-sql", help="create the change-log table, triggers and project schema in Glyms")
    install.add_argument("--check", action="store_true",
                         help="only report what is missing (the Glyms schema contract included); change nothing")
    install.set_defaults(handler=install_sql_command)
