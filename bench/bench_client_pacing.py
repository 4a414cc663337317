"""Benchmark: how close does the client's pacing get to the portal's drain rate without a 503?

Starts the local Bitrix24 emulator with its default (standard-plan) limits, 50 burst / 2 per
second unless told otherwise, and sends ``--batches`` batch requests through one client per
thread (every thread shares the process-wide leaky bucket). Prints requests, wall time,
requests/s overall and sustained (after the initial burst), the ratio to the drain rate, and
the 503s the emulator answered.

    python bench/bench_client_pacing.py [--batches 300] [--commands 10] [--threads 1]
                                        [--burst 50] [--drain 2]

300 batches at 2/s take about two minutes. Target: sustained >= 95 % of the drain, zero 503s.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

from bitrix24_emulator import Bitrix24Emulator, EmulatorSettings
from glyms_b24_pipeline.bitrix24.auth import WebhookAuth
from glyms_b24_pipeline.bitrix24.client import BatchCommand, Bitrix24Client
from glyms_b24_pipeline.settings.limits import ClientLimits, RateLimit


def _table(rows: list[tuple[str, str]]) -> str:
    return "\n".join(["| metric | value |", "|---|---:|"] + [f"| {name} | {value} |" for name, value in rows])


def run(batches: int, commands: int, threads: int, burst: int, drain: float) -> dict:
    settings = EmulatorSettings(rate_limit_burst=burst, rate_limit_drain_per_second=drain)
    with Bitrix24Emulator(settings).start() as emu:
        hook = emu.add_webhook(user_id=1)
        clients = [
            Bitrix24Client(WebhookAuth(hook), ClientLimits(rate_limit=RateLimit(burst=burst, drain_per_second=drain)))
            for _ in range(threads)
        ]
        share = [batches // threads + (1 if i < batches % threads else 0) for i in range(threads)]
        failures: list[str] = []

        def work(client: Bitrix24Client, count: int) -> None:
            for _n in range(count):
                outcomes = client.batch(
                    [BatchCommand(f"c{i}", "crm.status.list", {"filter": {"ENTITY_ID": "COMPANY_TYPE"}}) for i in range(commands)]
                )
                failures.extend(str(o.error) for o in outcomes.values() if not o.ok)

        emu.reset_observability()
        started = time.monotonic()
        workers = [threading.Thread(target=work, args=(c, k)) for c, k in zip(clients, share, strict=False)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        wall = time.monotonic() - started
        log = sorted((e for e in emu.request_log if e.server == "portal"), key=lambda e: e.time)
        for client in clients:
            client.close()
    times = [e.time for e in log]
    statuses = [e.http_status for e in log]
    skip = min(burst, len(times) - 2) if len(times) > 2 else 0
    sustained = (len(times) - 1 - skip) / (times[-1] - times[skip]) if len(times) > 2 and times[-1] > times[skip] else float("nan")
    return {
        "requests": len(log),
        "wall": wall,
        "rps": len(log) / wall if wall else float("nan"),
        "sustained": sustained,
        "drain": drain,
        "503": statuses.count(503),
        "failures": len(failures),
        "waited": sum(c.counters.seconds_waited for c in clients),
        "retries": sum(c.counters.retries for c in clients),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300, help="batch requests to send (default 300)")
    parser.add_argument("--commands", type=int, default=10, help="commands per batch (default 10, max 50)")
    parser.add_argument("--threads", type=int, default=1, help="threads sharing the process-wide bucket (default 1)")
    parser.add_argument("--burst", type=int, default=50, help="portal burst (default 50; Enterprise 250)")
    parser.add_argument("--drain", type=float, default=2.0, help="portal drain per second (default 2; Enterprise 5)")
    args = parser.parse_args(argv)
    if not 1 <= args.commands <= 50:
        parser.error("--commands must be 1..50")
    print(f"sending {args.batches} batches of {args.commands} commands, {args.threads} thread(s), "
          f"portal limits {args.burst} burst / {args.drain:g} per s ...", flush=True)
    r = run(args.batches, args.commands, args.threads, args.burst, args.drain)
    print(f"\nClient pacing: {args.batches} batches of {args.commands} commands, {args.threads} thread(s), "
          f"portal at {args.burst} burst / {args.drain:g} per s")
    print(_table([
        ("requests", f"{r['requests']}"),
        ("wall time (s)", f"{r['wall']:.1f}"),
        ("requests/s overall", f"{r['rps']:.3f}"),
        ("requests/s sustained", f"{r['sustained']:.3f}"),
        ("drain rate (req/s)", f"{r['drain']:.3f}"),
        ("overall / drain", f"{r['rps'] / r['drain']:.1%}"),
        ("sustained / drain", f"{r['sustained'] / r['drain']:.1%}"),
        ("503s received", f"{r['503']}"),
        ("retries", f"{r['retries']}"),
        ("seconds waited (sum)", f"{r['waited']:.1f}"),
        ("failed commands", f"{r['failures']}"),
    ]))
    ok = r["503"] == 0 and r["failures"] == 0 and r["sustained"] >= 0.95 * r["drain"]
    print("target met (>= 95 % of the drain rate, zero 503s)" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
