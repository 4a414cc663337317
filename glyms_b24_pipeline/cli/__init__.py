"""``glyms-b24``: the operator's command line, one module per command family (Spanish-speaking operators)."""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from glyms_b24_pipeline.cli.i18n import _, activate, choose_language, lang_from_argv
from glyms_b24_pipeline.cli.legacy import translate as translate_legacy
from glyms_b24_pipeline.cli.logs import configure_logging
from glyms_b24_pipeline.cli.output import silence_stdout
from glyms_b24_pipeline.cli.reasons import translated
from glyms_b24_pipeline.settings.errors import OperatorError


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The emulator has its own option parser; hand it everything after its name.
    if "emulator" in argv:
        position = argv.index("emulator")
        if all(arg.startswith("-") for arg in argv[:position]):
            from bitrix24_emulator.cli import main as emulator_main

            return emulator_main(argv[position + 1 :])
    activate(choose_language(lang_from_argv(argv)))
    try:
        legacy = translate_legacy(argv)
    except OperatorError as exc:
        print(f"error: {translated(str(exc))}", file=sys.stderr)
        return exc.exit_code
    if legacy.notice:
        print(legacy.notice, file=sys.stderr)
    # the families import Dagster and the definitions; the emulator above starts without them
    from glyms_b24_pipeline.cli.parser import build_parser

    args = build_parser().parse_args(legacy.argv)
    configure_logging(debug=args.debug)
    try:
        return int(args.handler(args) or 0)
    except OperatorError as exc:
        # one line, in the run's language: messages composed below the command line are English
        print(f"error: {translated(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # the reader of stdout went away (`| head`): nothing is wrong with the work itself
        silence_stdout()
        return 0
    except KeyboardInterrupt:
        print(_("interrupted"), file=sys.stderr)
        return 130

