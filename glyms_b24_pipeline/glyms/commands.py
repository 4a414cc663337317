"""CLI handlers for the Glyms side."""

from __future__ import annotations

import argparse

from glyms_b24_pipeline.config import require_env
from glyms_b24_pipeline.glyms.connection import describe_dsn
from glyms_b24_pipeline.glyms.install import check_install, install_sql


def install_sql_command(args: argparse.Namespace) -> int:
    dsn = require_env("GLYMS_PG_DSN", "DSN of the Glyms PostgreSQL database")
    where = describe_dsn(dsn)
    if args.check:
        objects = check_install(dsn)
        missing = [obj for obj in objects if not obj.present]
        for obj in objects:
            print(f"{'ok     ' if obj.present else 'MISSING'}  {obj.kind:<8}  {obj.name}")
        if missing:
            print(f"{len(missing)} of {len(objects)} objects missing in {where}: run glyms-b24 install-sql")
            return 1
        print(f"all {len(objects)} objects present in {where}")
        return 0
    applied = install_sql(dsn)
    print(f"applied {', '.join(applied)} to {where}")
    return 0
