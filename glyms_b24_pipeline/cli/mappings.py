"""``glyms-b24 check-mappings``: every sync's configured ids against the portal, its Glyms values against its maps."""

from __future__ import annotations

import argparse
import json

from glyms_b24_pipeline.cli.output import emit, format_option, note, render
from glyms_b24_pipeline.cli.portal import cli_client, operator_errors
from glyms_b24_pipeline.definitions import SYNCS
from glyms_b24_pipeline.settings.model import load_settings, require_env
from glyms_b24_pipeline.sync.mappings import check_mappings

HEADERS = ("TIPO", "CLAVE", "VALOR", "PROBLEMA", "PARECIDOS EN EL PORTAL")


@operator_errors
def check_mappings_command(args: argparse.Namespace) -> int:
    settings = load_settings(getattr(args, "config", None))
    dsn = require_env("GLYMS_PG_DSN", "DSN of the Glyms PostgreSQL database")
    with cli_client(args) as client:
        report = check_mappings(client, dsn, settings, [spec.mappings for spec in SYNCS if spec.mappings is not None])
    fmt = getattr(args, "format", None) or "table"
    if fmt == "json":
        emit(json.dumps({"ok": report.ok, "checked": report.checked,
                         "problems": [p.as_dict() for p in report.all()]}, ensure_ascii=False, indent=2).splitlines())
    elif report.ok:
        if fmt == "csv":
            emit(render(HEADERS, [], fmt))
        note(f"todo en orden: {report.summary()}", fmt)
    else:
        rows = [(p.label or p.kind, p.setting, p.value, p.problem, ", ".join(p.closest)) for p in report.all()]
        if emit(render(HEADERS, rows, fmt)):
            note(f"{len(rows)} problema{'s' if len(rows) != 1 else ''} en {report.checked} valores revisados; corrija "
                 "glyms_b24.yaml (o Glyms) y vuelva a ejecutar glyms-b24 check-mappings", fmt)
    return 0 if report.ok else 1


def add_commands(commands: argparse._SubParsersAction) -> None:
    mappings = commands.add_parser(
        "check-mappings", help="check every configured id against the portal and every Glyms value in use against the maps")
    format_option(mappings)
    mappings.set_defaults(handler=check_mappings_command)
