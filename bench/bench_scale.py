"""Benchmark: peak memory and wall time of `glyms-b24 sync` processes at 1,000 / 10,000 / 100,000 rows.

For each N, a fresh Glyms database gets N services (with their price history) and N customers
(inserted through the triggers, so N pending change-log rows); the emulator runs unthrottled in
its own process; then real `glyms-b24` processes run, one after the other, each measured for its
peak resident memory (the kernel's high-water mark of the process, from ``wait4``) and its wall
time, and the emulator counts the portal requests each one made:

* ``sync --type services``: the initial load, then a no-op re-run;
* ``sync --type companies``: the change-log consumer takes the N pending rows (creates N companies);
* ``reconcile companies``: every customer against every company, portal up to date.

A share of the seeded rows is invalid on purpose (blank names, ...), so the runs end with exit 1
("done with problems": rows not synced); exit 2 or more is a failure.

    python bench/bench_scale.py [--sizes 1000,10000,100000] [--runs services,companies,reconcile]

PostgreSQL: $GLYMS_B24_TEST_PG_DSN when set, else an embedded server started here. The Dagster
run history goes to its own fresh database on the same server.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

RUN_KINDS = ("services", "companies", "reconcile")


# --- the emulator's own process: started unthrottled, answers "count" on stdin ---------------


def serve_emulator() -> int:
    """Child mode: an unthrottled emulator set up as the lab's portal; prints its webhook, then
    answers each ``count`` line on stdin with the portal requests (and 503s) since the last one."""
    from bitrix24_emulator import Bitrix24Emulator, EmulatorSettings
    from glyms_b24_pipeline.config import Settings
    from glyms_b24_pipeline.sandbox.portal import prepare_lab_portal

    settings = EmulatorSettings()
    settings.rate_limit_burst, settings.rate_limit_drain_per_second = 100_000, 100_000.0
    emulator = Bitrix24Emulator(settings).start()
    prepare_lab_portal(emulator, Settings())
    print(json.dumps({"webhook": emulator.add_webhook(user_id=1)}), flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "count":
                log = [e for e in emulator.request_log if e.server == "portal"]
                print(json.dumps({"requests": len(log), "rejected": sum(1 for e in log if e.http_status == 503)}),
                      flush=True)
                emulator.reset_observability()
    finally:
        emulator.stop()
    return 0


class EmulatorProcess:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve-emulator"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.webhook = json.loads(self.proc.stdout.readline())["webhook"]

    def count(self) -> tuple[int, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        return int(answer["requests"]), int(answer["rejected"])

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- the measured processes ---------------------------------------------------------------------


@dataclass
class Measure:
    n: int
    sync: str
    run: str
    requests: int
    rejected: int
    floor: Optional[int]
    seconds: float
    peak_mb: float
    exit_code: int
    last_line: str


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[int, float, float, str]:
    """Run ``argv``; returns (exit code, wall seconds, peak RSS in MB, its last output line)."""
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        lines = [line.rstrip() for line in out if line.strip()]
    if proc.returncode not in (0, 1):
        print("\n".join(lines[-30:]), file=sys.stderr)
    summary = next((line for line in lines if line.startswith("Run ")), lines[-1] if lines else "")
    return proc.returncode, seconds, usage.ru_maxrss / 1024.0, summary  # ru_maxrss is in KiB on Linux


def glyms_b24() -> str:
    found = Path(sys.executable).with_name("glyms-b24")
    return str(found) if found.exists() else (shutil.which("glyms-b24") or "glyms-b24")


def measure_size(admin_dsn: str, n: int, kinds: list[str]) -> list[Measure]:
    from glyms_b24_pipeline.config import ServicesSettings
    from glyms_b24_pipeline.glyms.install import install_sql
    from glyms_b24_pipeline.glyms.resource import GlymsDatabase
    from glyms_b24_pipeline.instance import write_instance_yaml
    from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
    from glyms_b24_pipeline.sandbox.postgres import (
        apply_glyms_schema,
        create_database,
        database_name,
        drop_database,
        sqlalchemy_url,
    )
    from glyms_b24_pipeline.services.assets import contract_parameters

    dsn = create_database(admin_dsn)
    dagster_dsn = create_database(admin_dsn)
    home = Path(tempfile.mkdtemp(prefix="bench-scale-home-"))
    emulator: Optional[EmulatorProcess] = None
    results: list[Measure] = []
    try:
        started = time.monotonic()
        apply_glyms_schema(dsn)
        install_sql(dsn)
        seed_glyms(dsn, services=n, customers=n if {"companies", "reconcile"} & set(kinds) else 0, seed=2024)
        n_active = len(GlymsDatabase(dsn=dsn).rows("active_services", contract_parameters(ServicesSettings())))
        print(f"N={n}: seeded in {time.monotonic() - started:.1f} s ({n_active} active services)", flush=True)
        write_instance_yaml(home, sqlalchemy_url(dagster_dsn))
        config = home / "glyms_b24.yaml"
        # the client paces itself at the configured plan's limits: unthrottled too, as the emulator
        config.write_text(f"companies:\n  claim_limit: {max(n, 10_000)}\n"
                          "bitrix24:\n  rate_limit: {burst: 100000, drain_per_second: 100000}\n", encoding="utf-8")
        emulator = EmulatorProcess()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("B24_", "GLYMS_", "DAGSTER_"))}
        env.update(GLYMS_PG_DSN=dsn, B24_WEBHOOK_URL=emulator.webhook, DAGSTER_HOME=str(home),
                   GLYMS_B24_CONFIG=str(config))
        subprocess.run([glyms_b24(), "init-instance"], env=env, check=True, stdout=subprocess.DEVNULL)
        emulator.count()

        def one(sync: str, run: str, argv: list[str], floor: Optional[int]) -> None:
            code, seconds, peak, line = run_measured([glyms_b24(), *argv], env)
            requests, rejected = emulator.count()  # type: ignore[union-attr]
            m = Measure(n, sync, run, requests, rejected, floor, seconds, peak, code, line)
            results.append(m)
            print(f"  {sync:9} {run:12} exit {code}  {requests:6} requests  {seconds:8.1f} s  {peak:7.1f} MB  {line}",
                  flush=True)

        pages = math.ceil(n / 2500)
        if "services" in kinds:
            # the floors of bench_services_sync.py; +1 for the mapping check before the push
            one("services", "initial load", ["sync", "--type", "services"],
                math.ceil(n_active / 25) + 2 * pages + 5)
            one("services", "no-op", ["sync", "--type", "services"], 2 * pages + 3)
        if "companies" in kinds:
            # ceil(C/2500) look-ups + 1 mapping check + ceil(C/50) write batches
            one("companies", "consumer", ["sync", "--type", "companies"], pages + 1 + math.ceil(n / 50))
        if "reconcile" in kinds:
            # no floor: customers without a company (the seeded blank names) also cost link-candidate look-ups
            one("companies", "reconcile", ["reconcile", "companies"], None)
    finally:
        if emulator is not None:
            emulator.stop()
        drop_database(admin_dsn, database_name(dsn))
        drop_database(admin_dsn, database_name(dagster_dsn))
        shutil.rmtree(home, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated N (default 1000,10000,100000)")
    parser.add_argument("--runs", default=",".join(RUN_KINDS), help=f"which runs (default {','.join(RUN_KINDS)})")
    parser.add_argument("--json", metavar="FILE", help="also write the measures to FILE")
    parser.add_argument("--serve-emulator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_emulator:
        return serve_emulator()
    # a SIGTERM still drops the bench's databases and stops the emulator (the finally blocks run)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    kinds = [k for k in args.runs.split(",") if k.strip()]
    unknown = set(kinds) - set(RUN_KINDS)
    if unknown:
        parser.error(f"unknown runs: {', '.join(sorted(unknown))}")

    from glyms_b24_pipeline.sandbox.postgres import EmbeddedPostgres

    server = None
    admin_dsn = os.environ.get("GLYMS_B24_TEST_PG_DSN")
    if not admin_dsn:
        server = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="bench-pg-")))
        admin_dsn = server.admin_dsn
    measures: list[Measure] = []
    try:
        for n in sizes:
            measures += measure_size(admin_dsn, n, kinds)
    finally:
        if server is not None:
            server.stop()

    header = ("N", "sync", "run", "exit", "requests", "floor", "503s", "wall s", "peak RSS MB")
    widths = [7, 9, 12, 4, 8, 6, 5, 8, 11]
    print("\nglyms-b24 processes against the emulator, unthrottled (peak RSS: the process's high-water mark)")
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for m in measures:
        cells = (m.n, m.sync, m.run, m.exit_code, m.requests, m.floor if m.floor is not None else "-", m.rejected,
                 f"{m.seconds:.1f}", f"{m.peak_mb:.0f}")
        print("  ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=True)))
    over = [m for m in measures if m.floor is not None and m.requests > m.floor]
    for m in over:
        print(f"N={m.n} {m.sync} {m.run}: {m.requests} requests, over the floor of {m.floor}")
    if args.json:
        Path(args.json).write_text(json.dumps([m.__dict__ for m in measures], indent=1), encoding="utf-8")
    return 1 if over or any(m.exit_code not in (0, 1) for m in measures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
