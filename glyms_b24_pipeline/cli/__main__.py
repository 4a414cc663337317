"""``python -m glyms_b24_pipeline.cli``: the same as ``glyms-b24``."""

from glyms_b24_pipeline.cli import main

raise SystemExit(main())
