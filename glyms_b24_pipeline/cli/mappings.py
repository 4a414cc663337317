"""``glyms-b24 check-mappings``: every sync's configured ids against the portal, its Glyms values against its maps."""

from __future__ import annotations

import argparse
import json

from glyms_b24_pipeline.cli.i18n import _
from glyms_b24_pipeline.cli.output import emit, format_option, note, render
from glyms_b24_pipeline.cli.portal import cli_client, operator_errors
from glyms_b24_pipeline.cli.reasons import translated
from glyms_b24_pipeline.definitions import SYNCS
from glyms_b24_pipeline.settings.model import load_settings, require_env
from glyms_b24_pipeline.sync.mappings import check_mappings


def headers() -> tuple[str, ...]:
    return (_("KIND"), _("SETTING"), _("VALUE"), _("PROBLEM"), _("CLOSEST IN THE PORTAL"))


@operator_errors
def check_mappings_command(args: argparse.Namespace) -> int:
    settings = load_settings(getattr(args, "config", None))
    dsn = require_env("GLYMS_PG_DSN", _("DSN of the Glyms PostgreSQL database"))
    with cli_client(args) as client:
        report = check_mappings(client, dsn, settings, [spec.mappings for spec in SYNCS if spec.mappings is not None])
    fmt = getattr(args, "format", None) or "table"
    if fmt == "json":
        emit(json.dumps({"ok": report.ok, "checked": report.checked,
                         "problems": [p.as_dict() for p in report.all()]}, ensure_ascii=False, indent=2).splitlines())
    elif report.ok:
        if fmt == "csv":
            emit(render(headers(), [], fmt))
        note(_("all in order: {summary}").format(summary=translated(report.summary())), fmt)
    else:
        rows = [(translated(p.label or p.kind), p.setting, p.value, translated(p.problem), ", ".join(p.closest))
                for p in report.all()]
        if emit(render(headers(), rows, fmt)):
            problems = (_("1 problem in {checked} values checked; fix glyms_b24.yaml (or Glyms) and run "
                          "glyms-b24 check-mappings again") if len(rows) == 1 else
                        _("{count} problems in {checked} values checked; fix glyms_b24.yaml (or Glyms) and run "
                          "glyms-b24 check-mappings again"))
            note(problems.format(count=len(rows), checked=report.checked), fmt)
    return 0 if report.ok else 1


def add_commands(commands: argparse._SubParsersAction) -> None:
    mappings = commands.add_parser(
        "check-mappings", help=_("check every configured id against the portal and every Glyms value in use against the maps"))
    format_option(mappings)
    mappings.set_defaults(handler=check_mappings_command)
