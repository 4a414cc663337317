"""``glyms-b24``: the operator's command line (Spanish-speaking operators; messages stay short)."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, Optional, Sequence

from glyms_b24_pipeline.config import SERVICES_KEEP_POLICIES
from glyms_b24_pipeline.errors import OperatorError
from glyms_b24_pipeline.operator.legacy import translate as translate_legacy
from glyms_b24_pipeline.operator.logs import configure_logging
from glyms_b24_pipeline.operator.output import FORMATS, silence_stdout
from glyms_b24_pipeline.sync.registry import sync_names

# subcommand -> "module:function"; each function takes (args) and returns an exit code.
# Modules are imported only when their command runs, so `glyms-b24 --help` stays fast.
_HANDLERS = {
    "install-sql": "glyms_b24_pipeline.glyms.commands:install_sql_command",
    "auth": "glyms_b24_pipeline.bitrix24.commands:auth_command",
    "price-types": "glyms_b24_pipeline.bitrix24.commands:price_types_command",
    "directory-items": "glyms_b24_pipeline.bitrix24.commands:directory_items_command",
    "check-mappings": "glyms_b24_pipeline.operator.mappings:check_mappings_command",
    "sync": "glyms_b24_pipeline.sync_command:sync_command",
    "reconcile": "glyms_b24_pipeline.sync_command:reconcile_command",
    "requeue": "glyms_b24_pipeline.companies.commands:requeue_command",
    "repair": "glyms_b24_pipeline.repair.commands:repair_command",
    "sandbox": "glyms_b24_pipeline.sandbox.demo:sandbox_command",
    "history": "glyms_b24_pipeline.history_command:history_command",
    "audit": "glyms_b24_pipeline.history_command:audit_command",
    "prune": "glyms_b24_pipeline.history_command:prune_command",
    "init-instance": "glyms_b24_pipeline.history_command:init_instance_command",
}


def _handler(name: str) -> Callable[[argparse.Namespace], int]:
    module_name, function_name = _HANDLERS[name].split(":")
    return getattr(importlib.import_module(module_name), function_name)


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # Also accepted after the command (`sync --type all --debug`, as the legacy script took it);
    # there the default is SUPPRESS so a subcommand never resets what was given before it.
    default: dict = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument("--config", help="YAML settings file (default: $GLYMS_B24_CONFIG, else built-in legacy values)",
                        **default)
    parser.add_argument("--debug", action="store_true", help="verbose logging of glyms-b24 itself (methods and sizes; never tokens)",
                        **default)


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table", help="table (default), json or csv, for scripts")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glyms-b24",
        description="Sincronización Glyms -> Bitrix24 (Dagster). Glyms LIMS to Bitrix24 CRM sync.",
        epilog="Legacy spellings still work: --auth_code=CODE, --sync_type TYPE, --price_types, "
               "--directory_items ENTITY_ID, --debug.",
    )
    _common_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    install = commands.add_parser("install-sql", help="create the change-log table, triggers and project schema in Glyms")
    install.add_argument("--check", action="store_true", help="only report what is missing; change nothing")

    commands.add_parser(
        "emulator",
        help="run the local Bitrix24 portal emulator (see glyms-b24 emulator --help)",
        add_help=False,
    )

    auth = commands.add_parser("auth", help="authorise the Bitrix24 local application (OAuth)")
    group = auth.add_mutually_exclusive_group()
    group.add_argument("--code", help="authorisation code copied from the redirect URL")
    group.add_argument("--import-tokens", metavar="FILE", help="import a legacy bitrix24_tokens.json")
    group.add_argument("--listen", action="store_true",
                       help="serve the redirect URI here, wait for the redirect and store the tokens (no copying)")
    auth.add_argument("--redirect-uri", help="redirect URI of the local application (default: bitrix24.redirect_uri)")
    auth.add_argument("--port", type=int, help="--listen: port to listen on (default: the redirect URI's)")
    auth.add_argument("--bind", default="127.0.0.1", help="--listen: address to listen on (default 127.0.0.1)")
    auth.add_argument("--timeout", type=float, default=300.0, help="--listen: seconds to wait for the redirect (default 300)")

    price_types = commands.add_parser("price-types", help="list the catalog price types (for services.price_type_id)")
    _format_option(price_types)
    directory = commands.add_parser("directory-items", help="list CRM directory items (COMPANY_TYPE, INDUSTRY, ...)")
    directory.add_argument("entity_id", metavar="ENTITY_ID", help="e.g. COMPANY_TYPE or INDUSTRY")
    _format_option(directory)
    mappings = commands.add_parser(
        "check-mappings", help="check every configured id against the portal and every Glyms value in use against the maps")
    _format_option(mappings)

    sync = commands.add_parser("sync", help="run a sync now, as a Dagster run (visible in the UI)")
    sync.add_argument("--type", dest="sync_type", choices=[*sync_names(), "all"], default="all",
                      help="which sync to run (default: all, as the legacy --sync_type all)")
    sync.add_argument("--dry-run", action="store_true", help="compute and show the plan; write nothing to Bitrix24")
    sync.add_argument(
        "--allow-mass-deactivation",
        action="store_true",
        help="let this run deactivate more than services.max_deactivation_share of the catalog",
    )

    reconcile = commands.add_parser("reconcile", help="compare every Glyms row with Bitrix24 and repair the differences")
    reconcile.add_argument("sync_type", choices=[*sync_names(), "all"], metavar="TYPE",
                           help=f"what to reconcile: {', '.join([*sync_names(), 'all'])}")
    reconcile.add_argument("--dry-run", action="store_true", help="compute and show the plan; write nothing")
    reconcile.add_argument("--allow-mass-deletion", action="store_true",
                           help="let this run mark more than companies.max_deletion_share of the companies deleted")

    requeue = commands.add_parser("requeue", help="put change-log rows parked in ERROR back to PENDING")
    requeue.add_argument("--log-id", type=int, action="append", default=[], help="this log row (repeatable)")
    requeue.add_argument("--customer", type=int, action="append", default=[], help="rows of this id_cliente (repeatable)")
    requeue.add_argument("--all-errors", action="store_true",
                         help="also rows that failed for good (invalid data) once you fixed them, not only parked ones")

    repair = commands.add_parser(
        "repair", help="repair what the legacy script left: duplicate services, companies sharing an ORIGIN_ID")
    repair.add_argument("target", choices=["services", "companies"], metavar="WHAT",
                        help="services: keep one service per xmlId, deactivate and set aside the others; "
                             "companies: report companies sharing an ORIGIN_ID (never merged)")
    repair.add_argument("--dry-run", action="store_true", help="services: show what would change; write nothing")
    repair.add_argument("--keep", choices=SERVICES_KEEP_POLICIES,
                        help="services: which duplicate keeps the xmlId (default: repair.services_keep)")
    _format_option(repair)

    sandbox = commands.add_parser("sandbox", help="run every sync end to end on the built-in sandbox")
    sandbox.add_argument("--services", type=int, default=300, help="seeded Glyms services (default 300)")
    sandbox.add_argument("--customers", type=int, default=100, help="seeded Glyms customers (default 100)")
    sandbox.add_argument("--dir", default=".sandbox", help="folder for the sandbox's database and state")
    sandbox.add_argument("--ui", action="store_true", help="afterwards, keep the sandbox up and open the Dagster UI")
    sandbox.add_argument("--ui-port", type=int, default=3000, help="port of the Dagster UI (default 3000)")
    sandbox.add_argument("--hostile", action="store_true",
                         help="also seed the hostile corpus (blank names, emoji, odd phones and e-mails, ...)")

    history = commands.add_parser("history", help="list recent runs with their counts (run history)")
    history.add_argument("--since", help="from 2026-11-01, or the last 24h / 7d")
    history.add_argument("--type", dest="sync_type", choices=[*sync_names(), "all"], default="all")
    history.add_argument("--limit", type=int, default=20, help="newest N runs (default 20)")
    history.add_argument("--format", choices=["table", "json"], default="table")

    audit = commands.add_parser("audit", help="search the row-level audit of writes (glyms_b24.sync_audit)")
    audit.add_argument("--since", help="from 2026-11-01, or the last 24h / 7d")
    audit.add_argument("--status", choices=["sent", "success", "failed", "skipped"])
    audit.add_argument("--key", help="a Glyms key (service xmlId, customer code)")
    audit.add_argument("--entity", help="e.g. service, service_price, company")
    audit.add_argument("--run", metavar="RUN_ID", help="rows of one run")
    audit.add_argument("--limit", type=int, default=200, help="newest N rows (default 200)")
    audit.add_argument("--format", choices=["table", "json", "csv"], default="table")

    prune = commands.add_parser("prune", help="delete audit rows and runs older than history.audit_days / runs_days")
    prune.add_argument("--dry-run", action="store_true", help="only count what would be deleted")

    commands.add_parser("init-instance", help="create or migrate Dagster's storage once (before the services start)")

    for subcommand in {id(p): p for p in commands.choices.values()}.values():
        _common_options(subcommand, suppress=True)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The emulator has its own option parser; hand it everything after its name.
    if "emulator" in argv:
        position = argv.index("emulator")
        if all(arg.startswith("-") for arg in argv[:position]):
            from bitrix24_emulator.cli import main as emulator_main

            return emulator_main(argv[position + 1 :])
    try:
        legacy = translate_legacy(argv)
    except OperatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if legacy.notice:
        print(legacy.notice, file=sys.stderr)
    args = build_parser().parse_args(legacy.argv)
    configure_logging(debug=args.debug)
    try:
        return int(_handler(args.command)(args) or 0)
    except OperatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # the reader of stdout went away (`| head`): nothing is wrong with the work itself
        silence_stdout()
        return 0
    except KeyboardInterrupt:
        print("interrumpido", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
