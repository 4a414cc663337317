"""Benchmark: how long a customer edited in Glyms takes to show in Bitrix24, with the real daemon.

Starts the deployment of `deploy/` on this machine (code server, `dagster-daemon`, UI; Dagster's
history in PostgreSQL), the emulator at the standard plan's limits, default settings (the
pending-log sensor every 15 s, `companies.sensor.min_pending: 1`). Then edits one customer at a
time, at a random moment, and waits until the company in Bitrix24 carries the edit. Prints
p50/p95 of the latencies; the goal is p95 <= 60 s (the legacy script waited for its cron line).

    python bench/bench_latency.py [--edits 20]

PostgreSQL: $GLYMS_B24_TEST_PG_DSN when set, else an embedded server started here.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import psycopg2

from bitrix24_emulator import Bitrix24Emulator, EmulatorSettings
from glyms_b24_pipeline.sandbox.deployment import LocalDeployment
from glyms_b24_pipeline.sandbox.portal import prepare_lab_portal
from glyms_b24_pipeline.sandbox.postgres import (
    postgres_for_tests,
    scratch_database,
    scratch_glyms_database,
    sqlalchemy_url,
)
from glyms_b24_pipeline.settings.model import Settings


def company_title(emulator: Bitrix24Emulator, origin_id: int) -> str | None:
    for company in emulator.companies():
        if company.get("ORIGIN_ID") == str(origin_id):
            return company.get("TITLE")
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=180.0, help="give up on one edit after this many seconds")
    args = parser.parse_args()

    latencies: list[float] = []
    # the standard plan's limits: 50 burst, 2/s
    with postgres_for_tests() as admin_dsn, scratch_glyms_database(admin_dsn) as glyms, \
            scratch_database(admin_dsn) as dagster, Bitrix24Emulator(EmulatorSettings()).start() as emulator:
        prepare_lab_portal(emulator, Settings())
        with psycopg2.connect(glyms) as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO public.cliente (codigo, razon_social) SELECT 'L' || g, 'Laboratorio ' || g "
                        "FROM generate_series(1, 50) g")
            cur.execute("SELECT id_cliente FROM public.cliente ORDER BY id_cliente")
            customers = [row[0] for row in cur.fetchall()]
        env = {"GLYMS_PG_DSN": glyms, "B24_WEBHOOK_URL": emulator.add_webhook(user_id=1),
               "DAGSTER_PG_URL": sqlalchemy_url(dagster)}
        folder = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
        with LocalDeployment(folder, env):
            deadline = time.monotonic() + args.timeout
            while len(emulator.companies()) < len(customers):  # the sensor's first run: the initial inserts
                if time.monotonic() > deadline:
                    raise SystemExit("the initial companies never arrived; see " + str(folder))
                time.sleep(0.5)
            rng = random.Random(5)
            for n in range(args.edits):
                time.sleep(rng.uniform(0, 15))  # at a random moment of the sensor's 15 s cycle
                customer = rng.choice(customers)
                title = f"Laboratorio editado {n}"
                with psycopg2.connect(glyms) as conn, conn.cursor() as cur:
                    cur.execute("UPDATE public.cliente SET razon_social = %s WHERE id_cliente = %s", (title, customer))
                edited = time.monotonic()
                while company_title(emulator, customer) != title:
                    if time.monotonic() - edited > args.timeout:
                        raise SystemExit(f"edit {n} never arrived; see {folder}")
                    time.sleep(0.2)
                latencies.append(time.monotonic() - edited)
                print(f"edit {n + 1}/{args.edits}: {latencies[-1]:.1f} s", flush=True)

    ordered = sorted(latencies)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print("\nCustomer edit -> Bitrix24 company, real daemon, default settings")
    print("| edits | p50 | p95 | max | goal |")
    print("|---|---|---|---|---|")
    print(f"| {len(ordered)} | {statistics.median(ordered):.1f} s | {p95:.1f} s | {ordered[-1]:.1f} s | "
          f"p95 <= 60 s: {'met' if p95 <= 60 else 'MISSED'} |")
    return 0 if p95 <= 60 else 1


if __name__ == "__main__":
    raise SystemExit(main())
