"""``glyms-b24 requeue``: put change-log rows in ERROR back to PENDING, on demand."""

from __future__ import annotations

import argparse

from glyms_b24_pipeline.config import load_settings, require_env
from glyms_b24_pipeline.glyms.connection import connect, describe_dsn, fetch_all
from glyms_b24_pipeline.sql_files import read_sql


def requeue_command(args: argparse.Namespace) -> int:
    settings = load_settings(getattr(args, "config", None)).companies
    dsn = require_env("GLYMS_PG_DSN", "DSN of the Glyms PostgreSQL database")
    with connect(dsn) as conn:
        rows = fetch_all(conn, read_sql("queries/change_log_requeue.sql"), {
            "log_ids": args.log_id or None,
            "customer_ids": args.customer or None,
            "parked_only": not args.all_errors,
            "max_attempts": settings.max_attempts,
        })
    which = "filas en ERROR" if args.all_errors else f"filas estacionadas tras {settings.max_attempts} intentos"
    customers = len({row["id_cliente"] for row in rows})
    print(f"{len(rows)} {which} vuelven a PENDING ({customers} clientes) en {describe_dsn(dsn)}; "
          "el próximo sync de empresas las procesa")
    return 0
