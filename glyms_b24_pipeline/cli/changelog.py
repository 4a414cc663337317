"""``glyms-b24 requeue``: put change-log rows in ERROR back to PENDING, on demand."""

from __future__ import annotations

import argparse

from glyms_b24_pipeline.cli.i18n import _
from glyms_b24_pipeline.glyms.connection import connect, describe_dsn, fetch_all
from glyms_b24_pipeline.glyms.sql_files import read_sql
from glyms_b24_pipeline.settings.model import load_settings, require_env


def requeue_command(args: argparse.Namespace) -> int:
    settings = load_settings(getattr(args, "config", None)).companies
    dsn = require_env("GLYMS_PG_DSN", _("DSN of the Glyms PostgreSQL database"))
    with connect(dsn) as conn:
        rows = fetch_all(conn, read_sql("queries/change_log_requeue.sql"), {
            "log_ids": args.log_id or None,
            "customer_ids": args.customer or None,
            "parked_only": not args.all_errors,
            "max_attempts": settings.max_attempts,
            "target_missing": bool(args.target_missing),
        })
    if args.all_errors:
        which = _("rows in ERROR or TARGET_MISSING") if args.target_missing else _("rows in ERROR")
    else:
        which = (_("rows parked after {attempts} attempts, or in TARGET_MISSING") if args.target_missing
                 else _("rows parked after {attempts} attempts")).format(attempts=settings.max_attempts)
    customers = len({row["id_cliente"] for row in rows})
    print(_("{count} {which} back to PENDING ({customers} customers) in {where}; the next companies sync "
            "processes them").format(count=len(rows), which=which, customers=customers, where=describe_dsn(dsn)))
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    requeue = commands.add_parser("requeue", help=_("put change-log rows parked in ERROR back to PENDING"))
    requeue.add_argument("--log-id", type=int, action="append", default=[], help=_("this log row (repeatable)"))
    requeue.add_argument("--customer", type=int, action="append", default=[], help=_("rows of this id_cliente (repeatable)"))
    requeue.add_argument("--all-errors", action="store_true",
                         help=_("also rows that failed for good (invalid data) once you fixed them, not only parked ones"))
    requeue.add_argument("--target-missing", action="store_true",
                         help=_("also rows in TARGET_MISSING (the legacy script's lost updates), e.g. after a reconciliation"))
    requeue.set_defaults(handler=requeue_command)
