"""Benchmark: peak memory and wall time of `glyms-b24 sync` processes at 1,000 / 10,000 / 100,000 rows.

For each N, a fresh Glyms database gets N services (with their price history) and N customers
(inserted through the triggers, so N pending change-log rows); the emulator runs in its own
process, unthrottled (``--limits standard``: at the standard plan's 50 burst / 2 per s, the client
pacing itself to match); then real `glyms-b24` processes run, one after the other, each measured for its
peak resident memory (the kernel's high-water mark of the process, from ``wait4``) and its wall
time, and the emulator counts the portal requests each one made:

* ``sync --type services``: the initial load, then a no-op re-run;
* ``sync --type companies``: the change-log consumer takes the N pending rows (creates N companies);
* ``reconcile companies``: every customer against every company, portal up to date.

A share of the seeded rows is invalid on purpose (blank names, ...), so the runs end with exit 1
("done with problems": rows not synced); exit 2 or more is a failure.

    python bench/bench_scale.py [--sizes 1000,10000,100000] [--runs services,companies,reconcile]
                                [--limits unthrottled|standard]

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

from bench_services_sync import legacy_requests  # the legacy script's calls, defined once

RUN_KINDS = ("services", "companies", "reconcile")
# the portal's leaky bucket (burst, drain per second): lifted, or the standard plan's
PORTAL_LIMITS = {"unthrottled": (100_000, 100_000.0), "standard": (50, 2.0)}


# --- the emulator's own process: started unthrottled, answers "count" on stdin ---------------


def serve_emulator(limits: str) -> int:
    """Child mode: an emulator set up as the lab's portal (unthrottled, or at the standard plan's limits);
    prints its webhook, then answers each ``count`` line on stdin with the portal requests (and 503s)
    since the last one."""
    from bitrix24_emulator import Bitrix24Emulator, EmulatorSettings
    from glyms_b24_pipeline.sandbox.portal import prepare_lab_portal
    from glyms_b24_pipeline.settings.model import Settings

    settings = EmulatorSettings()
    settings.rate_limit_burst, settings.rate_limit_drain_per_second = PORTAL_LIMITS[limits]
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
    def __init__(self, limits: str) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve-emulator", "--limits", limits],
                                     stdin=subprocess.PIPE,
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
    legacy: Optional[int]
    seconds: float
    peak_mb: float
    exit_code: int
    last_line: str


# Started by a small process of its own: the kernel folds the high-water mark of the memory a process
# is exec'd from (the parent's, with vfork) into the process's ru_maxrss, so a process started by this
# script would report at least this script's own peak (~370 MB at 100,000, after seeding).
_MEASURE = """
import json, os, subprocess, sys, time
started = time.monotonic()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"code": os.waitstatus_to_exitcode(status), "seconds": time.monotonic() - started,
               "maxrss_kib": usage.ru_maxrss}, out)
"""


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[int, float, float, str]:
    """Run ``argv``; returns (exit code, wall seconds, peak RSS in MB, its last output line)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryDirectory() as scratch:
        measure = Path(scratch) / "measure.json"
        wrapper = subprocess.run([sys.executable, "-c", _MEASURE, str(measure), *argv], env=env, stdout=out,
                                 stderr=subprocess.STDOUT, text=True)
        out.seek(0)
        lines = [line.rstrip() for line in out if line.strip()]
        if not measure.exists():
            print("\n".join(lines[-30:]), file=sys.stderr)
            raise RuntimeError(f"the measuring wrapper failed (exit {wrapper.returncode})")
        result = json.loads(measure.read_text(encoding="utf-8"))
    code = int(result["code"])
    if code not in (0, 1):
        print("\n".join(lines[-30:]), file=sys.stderr)
    summary = next((line for line in lines if line.startswith("Run ")), lines[-1] if lines else "")
    return code, float(result["seconds"]), result["maxrss_kib"] / 1024.0, summary  # ru_maxrss is in KiB on Linux


def glyms_b24() -> str:
    found = Path(sys.executable).with_name("glyms-b24")
    return str(found) if found.exists() else (shutil.which("glyms-b24") or "glyms-b24")


def measure_size(admin_dsn: str, n: int, kinds: list[str], limits: str) -> list[Measure]:
    from glyms_b24_pipeline.defs.services.assets import contract_parameters
    from glyms_b24_pipeline.glyms.resource import GlymsDatabase
    from glyms_b24_pipeline.runs.instance import write_instance_yaml
    from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
    from glyms_b24_pipeline.sandbox.postgres import scratch_database, scratch_glyms_database, sqlalchemy_url
    from glyms_b24_pipeline.settings.model import ServicesSettings

    home = Path(tempfile.mkdtemp(prefix="bench-scale-home-"))
    emulator: Optional[EmulatorProcess] = None
    results: list[Measure] = []
    started = time.monotonic()
    with scratch_glyms_database(admin_dsn) as dsn, scratch_database(admin_dsn) as dagster_dsn:
        try:
            seed_glyms(dsn, services=n, customers=n if {"companies", "reconcile"} & set(kinds) else 0, seed=2024)
            n_active = len(GlymsDatabase(dsn=dsn).rows("active_services", contract_parameters(ServicesSettings())))
            print(f"N={n}: seeded in {time.monotonic() - started:.1f} s ({n_active} active services)", flush=True)
            write_instance_yaml(home, sqlalchemy_url(dagster_dsn))
            config = home / "glyms_b24.yaml"
            # the client paces itself at the configured plan's limits: the emulator's
            burst, drain = PORTAL_LIMITS[limits]
            config.write_text(f"companies:\n  claim_limit: {max(n, 10_000)}\n"
                              f"bitrix24:\n  rate_limit: {{burst: {burst}, drain_per_second: {drain}}}\n", encoding="utf-8")
            emulator = EmulatorProcess(limits)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("B24_", "GLYMS_", "DAGSTER_"))}
            env.update(GLYMS_PG_DSN=dsn, B24_WEBHOOK_URL=emulator.webhook, DAGSTER_HOME=str(home),
                       GLYMS_B24_CONFIG=str(config))
            subprocess.run([glyms_b24(), "init-instance"], env=env, check=True, stdout=subprocess.DEVNULL)
            emulator.count()

            def one(sync: str, run: str, argv: list[str], floor: Optional[int], legacy: Optional[int]) -> None:
                code, seconds, peak, line = run_measured([glyms_b24(), *argv], env)
                requests, rejected = emulator.count()  # type: ignore[union-attr]
                m = Measure(n, sync, run, requests, rejected, floor, legacy, seconds, peak, code, line)
                results.append(m)
                print(f"  {sync:9} {run:12} exit {code}  {requests:6} requests  {seconds:8.1f} s  {peak:7.1f} MB  {line}",
                      flush=True)

            pages = math.ceil(n / 2500)
            if "services" in kinds:
                # the floors of bench_services_sync.py; +1 for the mapping check before the push
                one("services", "initial load", ["sync", "--type", "services"],
                    math.ceil(n_active / 25) + 2 * pages + 5, legacy_requests(n_active, 0, 0))
                one("services", "no-op", ["sync", "--type", "services"], 2 * pages + 3,
                    legacy_requests(n_active, n_active, 0))
            if "companies" in kinds:
                # ceil(C/2500) look-ups + 1 mapping check + ceil(C/50) write batches
                # the legacy consumer: a look-up and a write per log row
                one("companies", "consumer", ["sync", "--type", "companies"], pages + 1 + math.ceil(n / 50), 2 * n)
            if "reconcile" in kinds:
                # no floor: customers without a company (the seeded blank names) also cost link-candidate look-ups
                one("companies", "reconcile", ["reconcile", "companies"], None, None)  # the legacy had none
        finally:
            if emulator is not None:
                emulator.stop()
            shutil.rmtree(home, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated N (default 1000,10000,100000)")
    parser.add_argument("--runs", default=",".join(RUN_KINDS), help=f"which runs (default {','.join(RUN_KINDS)})")
    parser.add_argument("--limits", choices=sorted(PORTAL_LIMITS), default="unthrottled",
                        help="the portal's rate limit: lifted (default), or the standard plan's 50 burst / 2 per s")
    parser.add_argument("--json", metavar="FILE", help="also write the measures to FILE")
    parser.add_argument("--serve-emulator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_emulator:
        return serve_emulator(args.limits)
    # a SIGTERM still drops the bench's databases and stops the emulator (the finally blocks run)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    kinds = [k for k in args.runs.split(",") if k.strip()]
    unknown = set(kinds) - set(RUN_KINDS)
    if unknown:
        parser.error(f"unknown runs: {', '.join(sorted(unknown))}")

    from glyms_b24_pipeline.sandbox.postgres import postgres_for_tests

    measures: list[Measure] = []
    with postgres_for_tests() as admin_dsn:
        for n in sizes:
            measures += measure_size(admin_dsn, n, kinds, args.limits)

    burst, drain = PORTAL_LIMITS[args.limits]
    limit_text = "unthrottled" if args.limits == "unthrottled" else f"at {burst} burst / {drain:g} per s"
    print(f"\nglyms-b24 processes against the emulator, {limit_text} (peak RSS: the process's high-water mark)")
    print("| N | run | exit | requests (floor) | 503s | wall time | requests/s | of the limit | peak RSS "
          "| legacy requests |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in measures:
        floor = f" ({m.floor:,})" if m.floor is not None else ""
        rate = m.requests / m.seconds if m.seconds else 0.0
        share = f"{rate / drain:.0%}" if args.limits == "standard" else "-"
        legacy = f"{m.legacy:,}" if m.legacy is not None else "-"
        print(f"| {m.n:,} | {m.sync} {m.run} | {m.exit_code} | {m.requests:,}{floor} | {m.rejected} | {m.seconds:,.1f} s "
              f"| {rate:.1f} | {share} | {m.peak_mb:.0f} MB | {legacy} |")
    over = [m for m in measures if m.floor is not None and m.requests > m.floor]
    for m in over:
        print(f"N={m.n} {m.sync} {m.run}: {m.requests} requests, over the floor of {m.floor}")
    if args.json:
        Path(args.json).write_text(json.dumps([m.__dict__ for m in measures], indent=1), encoding="utf-8")
    return 1 if over or any(m.exit_code not in (0, 1) for m in measures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
