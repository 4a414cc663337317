"""Benchmark: companies sync against the emulator at the portal's real limits (50 burst, 2/s).

Prints a table of requests, 503s and wall time, with the target and the legacy script's request
count for the same work:

* change-log consumer: N pending rows over N/2 customers in one run (target: at most 120
  requests at 10,000 rows, no 503; the floor is about N/2/2500 look-ups + N/2/50 write batches);
* database side: claiming, coalescing and settling 100,000 log rows (target: under 10 s);
* reconciliation of N customers against an up-to-date portal (target: at most 12 requests at
  10,000), and after 1 % of the companies was edited by hand (target: at most 16).

    python bench/bench_companies_sync.py [--rows 10000] [--customers 10000] [--db-rows 100000]

PostgreSQL: $GLYMS_B24_TEST_PG_DSN when set, else an embedded server started here.
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import dagster as dg
import psycopg2

from bitrix24_emulator import Bitrix24Emulator, EmulatorSettings
from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.defs.companies.assets import consumer_assets, reconcile_assets
from glyms_b24_pipeline.defs.companies.changelog import ChangeLog, RowDecision, settle_rows
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline.sandbox.portal import prepare_lab_portal
from glyms_b24_pipeline.sandbox.postgres import postgres_for_tests, scratch_glyms_database
from glyms_b24_pipeline.settings.model import CompaniesSettings, Settings
from glyms_b24_pipeline.settings.resource import SyncSettings
from glyms_b24_pipeline.sync.writer import PortalWriter

SETTINGS_YAML = "companies:\n  claim_limit: 100000\n"


def resources(dsn: str, emulator: Bitrix24Emulator, config: Path) -> dict[str, Any]:
    return {
        "glyms_db": GlymsDatabase(dsn=dsn),
        "bitrix24": Bitrix24Resource(webhook_url=emulator.add_webhook(user_id=1)),
        "portal_writer": PortalWriter(dsn=dsn),
        "change_log": ChangeLog(dsn=dsn),
        "sync_settings": SyncSettings(config_file=str(config)),
    }


def run(assets: list, res: dict[str, Any]) -> tuple[dg.ExecuteInProcessResult, float]:
    started = time.monotonic()
    result = dg.materialize(assets, resources=res, instance=dg.DagsterInstance.ephemeral(),
                            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
                            raise_on_error=False)
    if not result.success:
        failures = [e.event_specific_data for e in result.all_events if e.is_step_failure]
        raise SystemExit(f"run failed: {failures}")
    return result, time.monotonic() - started


def sql(dsn: str, statement: str, params: Optional[tuple] = None) -> list[tuple]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else []


def portal_requests(emulator: Bitrix24Emulator) -> tuple[int, int]:
    log = [e for e in emulator.request_log if e.server == "portal"]
    return len(log), sum(1 for e in log if e.http_status == 503)


def measure_db_side(admin_dsn: str, n_rows: int) -> float:
    """Claim, coalesce and settle ``n_rows`` log rows (5 per customer), database side only."""
    with scratch_glyms_database(admin_dsn) as dsn:
        customers = n_rows // 5
        sql(dsn, "INSERT INTO public.cliente (codigo, razon_social) SELECT 'C' || g, 'Empresa ' || g "
                 "FROM generate_series(1, %s) g", (customers,))
        for round_ in range(4):
            sql(dsn, "UPDATE public.cliente SET direccion = %s", (f"Calle {round_}",))
        change_log = ChangeLog(dsn=dsn)
        started = time.monotonic()
        claim = change_log.claim("bench-run", CompaniesSettings(claim_limit=n_rows), holds_portal_lock=True)
        decisions = [RowDecision(row.log_id, "PROCESSED", company_id=1000 + int(group.origin_id))
                     for group in claim.groups for row in group.log_rows]
        with GlymsDatabase(dsn=dsn).transaction() as tx:
            settled = settle_rows(tx, "bench-run", decisions)
        seconds = time.monotonic() - started
        assert claim.rows == n_rows == settled, (claim.rows, settled)
        return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="pending log rows for the consumer run")
    parser.add_argument("--customers", type=int, default=10_000, help="customers for the reconciliation")
    parser.add_argument("--db-rows", type=int, default=100_000, help="log rows for the database-side measure")
    args = parser.parse_args()

    config = Path(tempfile.mkdtemp(prefix="bench-cfg-")) / "glyms_b24.yaml"
    config.write_text(SETTINGS_YAML)
    rows: list[tuple] = []
    with postgres_for_tests() as admin_dsn:
        # --- the change-log consumer: N rows over N/2 customers (an INSERT and an UPDATE each)
        n_customers = args.rows // 2
        # real limits: burst 50, drain 2/s
        with scratch_glyms_database(admin_dsn) as dsn, Bitrix24Emulator(EmulatorSettings()).start() as emulator:
            prepare_lab_portal(emulator, Settings())
            seed_glyms(dsn, services=0, customers=n_customers, seed=2024, dirty_share=0.0)
            sql(dsn, "UPDATE public.cliente SET observaciones = coalesce(observaciones, '') || ' (revisado)'")
            pending = sql(dsn, "SELECT count(*) FROM f_cliente.sync_log_bitrix24 WHERE sync_status = 'PENDING'")[0][0]
            emulator.reset_observability()
            _, seconds = run(consumer_assets, resources(dsn, emulator, config))
            requests, rejected = portal_requests(emulator)
            left = sql(dsn, "SELECT count(*) FROM f_cliente.sync_log_bitrix24 WHERE sync_status <> 'PROCESSED'")[0][0]
            assert left == 0 and len(emulator.companies()) == n_customers, (left, len(emulator.companies()))
            floor = math.ceil(n_customers / 2500) + math.ceil(n_customers / 50) + 1
            rows.append((f"consumer: {pending:,} rows / {n_customers:,} customers", requests, rejected, seconds,
                         f"<= 120 (floor ~{floor})" if args.rows == 10_000 else f"~{floor}", 2 * pending))

        # --- the database side alone
        db_seconds = measure_db_side(admin_dsn, args.db_rows)
        rows.append((f"claim + coalesce + settle {args.db_rows:,} log rows (DB only)", 0, 0, db_seconds,
                     "< 10 s", "-"))

        # --- reconciliation: up to date, then after 1 % drift edited by hand
        with scratch_glyms_database(admin_dsn) as dsn, Bitrix24Emulator(EmulatorSettings()).start() as emulator:
            prepare_lab_portal(emulator, Settings())
            seed_glyms(dsn, services=0, customers=args.customers, seed=7, dirty_share=0.0)
            res = resources(dsn, emulator, config)
            run(reconcile_assets, res)  # the initial load
            emulator.reset_observability()
            _, seconds = run(reconcile_assets, res)
            requests, rejected = portal_requests(emulator)
            rows.append((f"reconcile {args.customers:,} customers, up to date", requests, rejected, seconds,
                         "<= 12" if args.customers == 10_000 else "-", "-"))

            hook = emulator.add_webhook(user_id=1)
            rng = random.Random(11)
            drifted = rng.sample(emulator.companies(), max(1, args.customers // 100))
            import requests as http

            for company in drifted:  # edited by hand through the portal
                http.post(hook + "crm.company.update", timeout=10,
                          json={"id": company["ID"], "fields": {"TITLE": company["TITLE"] + " (a mano)"}})
            emulator.reset_limits()
            emulator.reset_observability()
            _, seconds = run(reconcile_assets, res)
            requests, rejected = portal_requests(emulator)
            rows.append((f"reconcile after 1 % drift ({len(drifted)} edited by hand)", requests, rejected, seconds,
                         "<= 16" if args.customers == 10_000 else "-", "-"))

    print("\nCompanies sync, emulator at 50 burst / 2 per s")
    print("| run | requests | 503s | wall time | target | legacy requests |")
    print("|---|---|---|---|---|---|")
    for label, requests, rejected, seconds, target, legacy in rows:
        legacy_text = f"{legacy:,}" if isinstance(legacy, int) else legacy
        print(f"| {label} | {requests} | {rejected} | {seconds:.1f} s | {target} | {legacy_text} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
