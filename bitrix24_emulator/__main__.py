"""``python -m bitrix24_emulator``: run the local Bitrix24 portal."""

import sys

from .cli import main

raise SystemExit(main(sys.argv[1:]))
