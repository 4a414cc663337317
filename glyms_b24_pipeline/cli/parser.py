"""The command line's parser: each command family adds its commands, with their handlers."""

from __future__ import annotations

import argparse

from glyms_b24_pipeline.cli import changelog, explain, glyms, history, mappings, portal, repair, sandbox, sync
from glyms_b24_pipeline.cli.i18n import LANGUAGES, _

#: the command families, in the order ``--help`` lists them; each adds its commands and their handlers
FAMILIES = (glyms, portal, mappings, sync, changelog, repair, explain, sandbox, history)


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # Also accepted after the command (`sync --type all --debug`, as the legacy script took it);
    # there the default is SUPPRESS so a subcommand never resets what was given before it.
    default: dict = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument("--config", help=_("YAML settings file (default: $GLYMS_B24_CONFIG, else built-in legacy values)"),
                        **default)
    parser.add_argument("--lang", choices=LANGUAGES, help=_("es (default) or en; else $GLYMS_B24_LANG, else the locale"),
                        **default)
    parser.add_argument("--debug", action="store_true", help=_("verbose logging of glyms-b24 itself (methods and sizes; never tokens)"),
                        **default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glyms-b24",
        description=_("Glyms LIMS -> Bitrix24 CRM sync (Dagster)."),
        epilog=_("Legacy spellings still work: --auth_code=CODE, --sync_type TYPE, --price_types, "
                 "--directory_items ENTITY_ID, --debug."),
    )
    _common_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar=_("COMMAND"))
    commands.add_parser("emulator", help=_("run the local Bitrix24 portal emulator (see glyms-b24 emulator --help)"),
                        add_help=False)
    for family in FAMILIES:
        family.add_commands(commands)
    for subcommand in {id(p): p for p in commands.choices.values()}.values():
        _common_options(subcommand, suppress=True)
    return parser
