"""Benchmark: services sync against the emulator at the portal's real limits (50 burst, 2/s).

Prints requests and wall time for an initial load, a no-op run and a 1%-changed run of N
services, beside the legacy script's request pattern for the same N, and the targets:
no-op <= 2*ceil(N/2500)+3 requests; initial load <= ceil(N/25)+2*ceil(N/2500)+5; no 503.

    python bench/bench_services_sync.py [--services 10000]

PostgreSQL: $GLYMS_B24_TEST_PG_DSN when set, else an embedded server started here.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from datetime import datetime
from decimal import Decimal

import dagster as dg

from bitrix24_emulator import Bitrix24Emulator, EmulatorSettings
from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.defs.services.assets import contract_parameters, services_assets
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.sandbox.glyms_seed import add_price_version, add_service_version, seed_glyms
from glyms_b24_pipeline.sandbox.postgres import postgres_for_tests, scratch_glyms_database
from glyms_b24_pipeline.settings.model import ServicesSettings
from glyms_b24_pipeline.settings.resource import SyncSettings
from glyms_b24_pipeline.sync.writer import PortalWriter


def legacy_requests(n_services: int, n_in_catalog: int, n_field_changes: int) -> int:
    """The legacy script's calls: a list call per 50 catalog rows, then per service a price
    look-up and a price write, plus an update when fields differ (a create is add + look-up + add)."""
    listing = max(1, math.ceil(n_in_catalog / 50))
    creates = n_services - n_in_catalog
    existing = n_in_catalog
    return listing + creates * 3 + existing * 2 + n_field_changes


def legacy_seconds(requests: int, n_services: int) -> float:
    # 0.3 s sleep per service, and the portal drains 2 requests/s after a burst of 50
    return max(0.3 * n_services, (requests - 50) / 2.0)


def run(resources) -> tuple[dg.ExecuteInProcessResult, float]:
    started = time.monotonic()
    result = dg.materialize(services_assets, resources=resources, instance=dg.DagsterInstance.ephemeral(),
                            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
                            raise_on_error=False)
    return result, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    args = parser.parse_args()
    n = args.services

    with postgres_for_tests() as admin_dsn, scratch_glyms_database(admin_dsn) as dsn, \
            Bitrix24Emulator(EmulatorSettings()).start() as emulator:  # real limits: burst 50, drain 2/s
        seed_glyms(dsn, services=n, customers=0, seed=2024)
        resources = {
            "glyms_db": GlymsDatabase(dsn=dsn),
            "bitrix24": Bitrix24Resource(webhook_url=emulator.add_webhook(user_id=1)),
            "portal_writer": PortalWriter(dsn=dsn),
            "sync_settings": SyncSettings(),
        }
        active = GlymsDatabase(dsn=dsn).rows("active_services", contract_parameters(ServicesSettings()))
        rows = []
        failed: list[str] = []

        def measure(label: str, target: int | None, legacy: int):
            emulator.reset_observability()
            result, seconds = run(resources)
            log = emulator.request_log
            requests = len(log)
            rejected = sum(1 for e in log if e.http_status == 503)
            plan = next(e.event_specific_data.materialization for e in result.get_asset_materialization_events()
                        if e.event_specific_data.materialization.asset_key.path == ["sync", "services_plan"])
            writes = plan.metadata["writes"].value
            rows.append((label, writes, requests, target, rejected, seconds, legacy, legacy_seconds(legacy, len(active))))
            if not result.success:
                failed.append(label)
                print(f"{label}: run failed", file=sys.stderr)

        n_active = len(active)
        measure("initial load", math.ceil(n / 25) + 2 * math.ceil(n / 2500) + 5, legacy_requests(n_active, 0, 0))
        measure("no-op", 2 * math.ceil(n / 2500) + 3, legacy_requests(n_active, n_active, 0))

        rng = random.Random(7)
        changed = rng.sample([r for r in active if r["precio"] is not None], max(1, n_active // 100))
        for i, row in enumerate(changed):
            if i % 2:
                add_service_version(dsn, row["id_prestacion"], descripcion=f"{row['descripcion']} (rev. 2)")
            else:
                add_price_version(dsn, row["codigo"], row["id_contrato"], Decimal("999.99"), datetime(2031, 1, 1))
        measure("1% changed", None, legacy_requests(n_active, n_active, len(changed) // 2))

        print(f"\nServices sync, N = {n:,} seeded services ({n_active:,} active), emulator at 50 burst / 2 per s")
        print("| run | writes | requests | target | 503s | wall time | legacy requests | legacy wall time |")
        print("|---|---|---|---|---|---|---|---|")
        for label, writes, requests, target, rejected, seconds, legacy, legacy_s in rows:
            target_text = "-" if target is None else f"<= {target}"
            print(f"| {label} | {writes:,} | {requests:,} | {target_text} | {rejected} | {seconds:.1f} s "
                  f"| {legacy:,} | ~{legacy_s:,.0f} s |")
        over = [label for label, _w, requests, target, *_ in rows if target is not None and requests > target]
        if failed or over or any(r[4] for r in rows):
            print(f"TARGET MISSED: {', '.join(failed + over) or '503 received'}", file=sys.stderr)
            return 1
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
