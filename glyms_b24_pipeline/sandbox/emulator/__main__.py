"""``python -m glyms_b24_pipeline.sandbox.emulator``."""

import sys

from .cli import main

raise SystemExit(main(sys.argv[1:]))
