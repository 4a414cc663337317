"""Benchmark: two portals on one Dagster instance, their runs side by side vs one after the other.

Starts `deploy/portals/` on this machine (one code server per portal, `dagster-daemon`, UI; Dagster's
history in PostgreSQL): two emulators at the standard plan's limits, two Glyms databases with
``--services`` services each. Then one `glyms-b24 sync --type services` per portal, started together
through the daemon's queue: the services' initial load, paced by each portal's 2 requests/s. Twice,
each time on fresh portals and databases: with the repository's `dagster.yaml` (one writer slot per
portal, `applyLimitPerUniqueValue`), and with one slot for every portal (a tag limit without a value:
what an instance gets when all writers share a tag value). Prints the requests, the wall time of both
runs together and the ratio.

    python bench/bench_portals.py [--services 3000]

PostgreSQL: $GLYMS_B24_TEST_PG_DSN when set, else an embedded server started here.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from pathlib import Path

from bitrix24_emulator import Bitrix24Emulator, EmulatorSettings
from glyms_b24_pipeline.sandbox.deployment import REPO_ROOT, LocalDeployment
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline.sandbox.portal import prepare_lab_portal
from glyms_b24_pipeline.sandbox.portals import (
    RunSpan,
    instance_yaml,
    location_runs,
    portal_environment,
    sync_together,
    wall_seconds,
)
from glyms_b24_pipeline.sandbox.postgres import (
    postgres_for_tests,
    scratch_database,
    scratch_glyms_database,
    sqlalchemy_url,
)
from glyms_b24_pipeline.settings.model import Settings

PORTALS = ("portal_a", "portal_b")
BURST, DRAIN = 50, 2.0  # the standard plan


def measure(admin_dsn: str, services: int, *, shared_slot: bool) -> list[RunSpan]:
    """One services run per portal, started together; their spans."""
    with contextlib.ExitStack() as stack:
        dagster = stack.enter_context(scratch_database(admin_dsn))
        folder = Path(tempfile.mkdtemp(prefix="bench-portals-"))
        locations = {}
        for n, name in enumerate(PORTALS):
            glyms = stack.enter_context(scratch_glyms_database(admin_dsn))
            emulator = stack.enter_context(Bitrix24Emulator(EmulatorSettings(
                rate_limit_burst=BURST, rate_limit_drain_per_second=DRAIN)).start())
            prepare_lab_portal(emulator, Settings())
            seed_glyms(glyms, services=services, customers=0, seed=7 + n, first_service_id=1 + 1_000_000 * n)
            locations[name] = portal_environment(folder / "etc", name, glyms, emulator.add_webhook(user_id=1),
                                                 burst=BURST, drain_per_second=DRAIN)
        deployment = LocalDeployment(folder / "deployment", {"DAGSTER_PG_URL": sqlalchemy_url(dagster)},
                                     locations=locations,
                                     instance_yaml=instance_yaml(REPO_ROOT / "deploy" / "dagster.yaml", shared_slot=shared_slot))
        with deployment:
            results = sync_together(deployment, {name: 1 for name in PORTALS})
            failed = [(name, code, err[-500:]) for name, code, _, err in results if code not in (0, 1)]
            if failed:
                raise SystemExit(f"a sync failed: {failed}; see {folder}")
            return [span for name in PORTALS
                    for span in location_runs(deployment.home, deployment.environment(), name, "services_sync")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=3000, help="services per portal")
    args = parser.parse_args()

    rows = []
    with postgres_for_tests() as admin_dsn:
        for shared in (False, True):
            spans = measure(admin_dsn, args.services, shared_slot=shared)
            overlap = spans[0].overlaps(spans[1])
            print(f"{'one slot for all' if shared else 'a slot per portal'}: "
                  + ", ".join(f"{s.location} {s.end - s.start:.1f} s" for s in spans), flush=True)
            rows.append((shared, spans, overlap))

    print(f"\nTwo portals, one services run each ({args.services:,} services per portal, initial load), "
          "started together through the daemon's queue")
    print("| writer slots | requests (a + b) | run a | run b | wall time, both | runs overlap |")
    print("|---|---:|---:|---:|---:|---|")
    for shared, spans, overlap in rows:
        label = "one for all portals (one after the other)" if shared else "one per portal (`applyLimitPerUniqueValue`)"
        print(f"| {label} | {spans[0].requests} + {spans[1].requests} | {spans[0].end - spans[0].start:.1f} s | "
              f"{spans[1].end - spans[1].start:.1f} s | {wall_seconds(spans):.1f} s | {'yes' if overlap else 'no'} |")
    parallel, serial = wall_seconds(rows[0][1]), wall_seconds(rows[1][1])
    print("\n| wall time one after the other / side by side |")
    print("|---:|")
    print(f"| {serial / parallel:.2f} |")
    # a figure, not a gate: at a small size two short runs may not meet (the slow two-portal test is the gate)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
