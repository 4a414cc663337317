"""Run every benchmark and write bench/RESULTS.md from what they print.

Each benchmark runs as its own process (its output streams to this terminal); the markdown
tables it prints become its section of RESULTS.md, between the context that says what was
measured and the notes that say how to read it. A benchmark that fails keeps its previous
section, is named at the end, and makes the exit status 1.

    python bench/run_all.py                      # everything (about 2 h 30 min, mostly the 100,000 series)
    python bench/run_all.py --only services companies
    python bench/run_all.py --list
    python bench/run_all.py --record scale_limits out.txt   # a benchmark run alone earlier, from its output

PostgreSQL: $GLYMS_B24_TEST_PG_DSN when set, else each benchmark starts an embedded server.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"

HEADER = """# Benchmark results

Written by `python bench/run_all.py` (one section with `--only NAME`); each section says when it
was measured. On the project's 2-core machine, against the local Bitrix24 emulator over real HTTP
on 127.0.0.1 (at the standard plan's limits, leaky bucket 50 burst / 2 requests/s drain, unless a
section says otherwise), PostgreSQL 15 on 127.0.0.1. Each script also runs alone and prints its
own tables.
"""


SCALE_NOTES = """Floors: services initial load ceil(active/25) + 2·ceil(N/2500) + 5, no-op 2·ceil(N/2500) + 3;
companies consumer ceil(C/2500) look-ups + 1 mapping check + ceil(C/50) write batches; the
reconciliation has none (customers without a company also cost link-candidate look-ups).

Before the work on memory (commit `e02932d`, same script), the 100,000 runs peaked at 845 / 568 /
819 / 841 MB and the consumer took 1,020 s; the 10,000 runs at 210–239 MB. What changed (see
[docs/write_path.md](../docs/write_path.md), "Memory at 100,000 rows"):

- `glyms-b24 sync` ran its job with `execute_in_process`, which keeps every step's output in
  memory to the end of the run; it now runs through `execute_job` (still one process) with a
  `FilesystemIOManager`, so a step's value is a file once the next step has read it.
- Large values between steps pickle 5,000 items at a time (`rows.pack`): a pickler remembers every
  object it writes, ~80 MB on top of a 100,000-row value; now ~30 MB.
- Listings stream a request at a time (`iter_fast`) into slotted records or `Row`s; Glyms rows come
  through server-side cursors as tuples (`RowTable`); plans are slotted records whose fields share
  one index per key set; a settled successful write keeps neither its commands nor the answer;
  previews build only the 40 rows they show.
- The consumer renewed every claim before every 250-row slice (400 × up to 100,000 rows); claims
  are now renewed before the first slice and then once a tenth of the lease has passed.

- The reconciliation (424 MB before): `find_link_candidates` reads the companies the portal's
  matching names one request at a time, not all at once (~40 MB of dicts); the company directory
  holds each repeated string value once (`rows.SharedValues`: types, industries, `WORK`, ...;
  120 -> 84 MB); the planner's ORIGIN_ID index holds the company itself, not a one-item list, and
  no set of seen ids; a `RowTable` read as a step's input keeps its pickled chunks and unpacks one
  at a time (17 MB, not 60 MB of tuples).

Peak RSS is measured through a small wrapper process. Until 2026-11-29 the runs were started
straight from this script, and the kernel carries the high-water mark of the memory a process is
exec'd from into its `ru_maxrss`: every 100,000 run reported at least the script's own ~374 MB
after seeding (the 373 MB of both services runs then was that floor, not the sync's).

Where the memory goes now, at 100,000 (`tracemalloc` on the same data): the Dagster process with the
code location loaded is ~172 MB (the 1,000-row figures). Reconciliation, at its peak (the planning
step): customer chunks 17 MB, companies 86 MB, the plan 17 MB (+7 MB while planning), ~25 MB the
allocator keeps after freeing. The seed repeats some free-text values (6 distinct COMMENTS), which
the shared strings profit from; with unique comments the estimate is ~340 MB. Growth above the
baseline is still about linear above 10,000 rows (the rows themselves, held once): a full
comparison holds both sides; comparing them as sorted streams by `ORIGIN_ID` would make it
sub-linear, and is not done."""


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    script: str
    args: tuple[str, ...]
    context: str
    notes: str = ""

    @property
    def command(self) -> str:
        return " ".join(["python", f"bench/{self.script}", *self.args])


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        "pacing", "Client pacing", "bench_client_pacing.py", (),
        "300 batches of 10 commands through one client. Target: sustained rate >= 95 % of the drain "
        "rate, zero 503s.",
    ),
    Benchmark(
        "services", "Services sync", "bench_services_sync.py", ("--services", "10000"),
        "10,000 seeded services, about 95 % active (a share invalid on purpose): the initial load, a "
        "no-op run and a run after 1 % of the services changed (half names, half prices), each with "
        "the legacy script's request pattern for the same N.",
        "The initial load is bound by the portal's drain rate (2/s after a burst of 50). The legacy "
        "pattern (a list call per 50 rows, then a price look-up and a price write per service, an "
        "update when fields differ, 0.3 s sleep per service) is computed for the same N. The no-op "
        "run's requests over the two listings are the mapping check made before every push.",
    ),
    Benchmark(
        "companies", "Companies sync", "bench_companies_sync.py", (),
        "The consumer takes 10,000 pending log rows (an INSERT and an UPDATE for each of 5,000 "
        "customers) in one run; the database-side line claims, coalesces and settles 100,000 log "
        "rows (20,000 customers, five changes each) with no portal involved; then a reconciliation of "
        "10,000 customers against an up-to-date portal and after 1 % drift edited by hand.",
        "The legacy consumer makes two calls per log row (a look-up and a write) and never retries; "
        "it has no reconciliation at all. The database-side figure was 15.6 s at first: six array "
        "parameters of 100,000 elements and dict-building cursors cost more than the updates; one JSON "
        "parameter and tuple cursors brought it under 10 s.",
    ),
    Benchmark(
        "emulator", "Emulator at scale", "bench_emulator.py", (),
        "Requests per second the emulator answers on a portal of 1,000 and of 100,000 rows (that many "
        "services, each with a BASE price, and that many companies with an ORIGIN_ID, a phone and an "
        "e-mail), from one client thread, rate limit off. Each portal lives in its own worker process; "
        "every figure is at least 2 s of calls, in four slices alternating between the portals so "
        "background load weighs on both alike. The lists ask for 50 random `xmlId`s and 50 random "
        "`@ORIGIN_ID`s; the batch is the initial-load pattern, 25 `service.add` each followed by a "
        "`price.add` on `$result[...]`. Goal: the 100,000 figure within 20 % of the 1,000 figure "
        "(ratio >= 0.80).",
        "Before the indexes, `catalog.price.add` scanned every price to enforce one price per product "
        "and type, so writes fell from ~85/s to ~28/s as a portal filled to 100,000 services. Runs "
        "differ by about ±10 % on this shared machine. Not in the figures: CPython's cyclic garbage "
        "collector makes a full pass over every live container each time long-lived ones grow by a "
        "quarter (0.43 s at 100,000 rows, about 7 µs a write amortised).",
    ),
    Benchmark(
        "scale", "Scale: memory and time at 1,000 / 10,000 / 100,000 rows", "bench_scale.py", (),
        "Real `glyms-b24` processes at N services and N customers. Each N gets a fresh Glyms database "
        "(N services with their price history, N customers inserted through the triggers: N pending "
        "change-log rows; a share of both invalid on purpose, so every run ends \"done with problems\", "
        "exit 1) and Dagster's run history in PostgreSQL. The emulator runs unthrottled in its own "
        "process and the client's pacing is lifted too, so the figures are the sync's own cost. Runs in "
        "order: services initial load, services no-op, the companies consumer (creates N companies), "
        "`reconcile companies` (portal up to date). Peak RSS is the process's high-water mark (`wait4`). "
        "Goals: under 400 MB at 100,000, growing less than linearly above Dagster's own ~170 MB.",
        SCALE_NOTES,
    ),
    Benchmark(
        "scale_limits", "Scale at the portal's real limits", "bench_scale.py", ("--limits", "standard"),
        "The same series with the emulator at the standard plan's limits (50 burst, 2 requests/s) and "
        "the client pacing itself to match: the requests stay at their floors, the achieved rate is "
        "set against the limit, and the legacy script's request count is beside each run. Targets at "
        "100,000: services no-op <= 83 requests (2·ceil(N/2500)+3), initial load <= 4,013, peak RSS "
        "under 500 MB, 0 × 503.",
        "\"of the limit\" is requests per second of wall time against the 2/s drain: above 100 % where "
        "the burst of 50 weighs on a short run, below it where the run also waits for Glyms, PostgreSQL "
        "and Dagster. The runs follow each other with no pause, and the portal's counter does not empty "
        "when a process ends: each writer leaves its bucket's level beside the portal lock "
        "(`glyms_b24.portal_writer`), and the next one starts from it, drained by the time between. "
        "Before that, each process started with an empty bucket, and three of the four 100,000 runs and "
        "the 10,000 consumer each opened with a burst the portal no longer had: one 503 each (retried, "
        "no write failed). Peak RSS is measured through a small wrapper process: started straight from "
        "this script, a run inherited the script's own high-water mark (~374 MB at 100,000) in its "
        "`ru_maxrss`.",
    ),
    Benchmark(
        "latency", "Customer edit -> Bitrix24 company, real daemon", "bench_latency.py", (),
        "The deployment of `deploy/` started on this machine (code server, `dagster-daemon`, UI; "
        "Dagster's history in PostgreSQL), default settings (pending-log sensor every 15 s, "
        "`companies.sensor.min_pending: 1`). One customer edited at a time, at a random moment; the "
        "latency runs from the `UPDATE` in Glyms to the moment `crm.company.get` returns the edit. "
        "Goal: p95 within 60 s (the legacy script waited for its cron line).",
        "Where the time goes: up to 15 s until the sensor's next tick, the daemon's queue and run "
        "launch (a fresh process that loads the code location, ~6–10 s here), then the run itself "
        "(claim, one look-up, one write, settle: under a second of requests).",
    ),
    Benchmark(
        "portals", "Two portals on one instance, real daemon", "bench_portals.py", (),
        "`deploy/portals/` started on this machine: one code server per portal, one `dagster-daemon`, "
        "one UI, Dagster's history in PostgreSQL; two emulators at the standard plan's limits (50 burst, "
        "2 requests/s), two Glyms databases with 3,000 services each. One `glyms-b24 sync --type services` "
        "per portal (the initial load), both started at once through the daemon's queue; twice, on fresh "
        "portals: with the repository's `dagster.yaml` (one writer slot per portal), and with one slot "
        "for every portal. A run's time is Dagster's start to end of the run (not its process launch); "
        "the wall time runs from the first run's start to the last one's end.",
        "Alone, a run takes about 54 s, of which about 33 s wait for its portal's limit (115 requests: 50 "
        "at once, then 2/s); side by side each takes about 72 s, because both share this machine's 2 cores "
        "with the emulators, PostgreSQL and Dagster, so the ratio is 1.5 rather than 2. The portal's limit "
        "is per portal: on hosts of their own (containers, pods) the portals' runs share only the "
        "instance's database. With one slot for all, the second run also waits for the queue's next pass "
        "and its run worker's start after the first ends.",
    ),
)

MARKER = re.compile(r"^<!-- bench:(\w+) -->$", re.M)


def previous_sections(text: str) -> dict[str, str]:
    """The sections of an earlier RESULTS.md, by benchmark name."""
    marks = list(MARKER.finditer(text))
    return {m.group(1): text[m.start():marks[i + 1].start() if i + 1 < len(marks) else len(text)].rstrip() + "\n"
            for i, m in enumerate(marks)}


def markdown_tables(output: str) -> str:
    """The markdown tables in a benchmark's output, each with the line that introduces it."""
    blocks: list[list[str]] = []
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("|"):
            continue
        if i == 0 or not lines[i - 1].startswith("|"):
            caption = lines[i - 1].strip() if i > 0 and lines[i - 1].strip() else ""
            blocks.append([caption, ""] if caption else [])
        blocks[-1].append(line)
    return "\n\n".join("\n".join(block) for block in blocks)


def write_section(bench: Benchmark, text: str) -> None:
    """Replace ``bench``'s section of RESULTS.md, read again now: other sections may have changed meanwhile."""
    sections = previous_sections(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    sections[bench.name] = text
    RESULTS.write_text(HEADER + "".join("\n" + sections[b.name] for b in BENCHMARKS if b.name in sections),
                       encoding="utf-8")


def section(bench: Benchmark, tables: str, seconds: float | None) -> str:
    took = f"; the script took {seconds:,.0f} s" if seconds is not None else ""
    measured = f"Measured {date.today().isoformat()} on {os.cpu_count()} cores{took}."
    parts = [f"<!-- bench:{bench.name} -->", f"## {bench.title}: `{bench.command}`", "", bench.context, "",
             measured, "", tables]
    if bench.notes:
        parts += ["", bench.notes]
    return "\n".join(parts) + "\n"


def run(bench: Benchmark) -> tuple[int, str, float]:
    """Run one benchmark, echoing its output; return its status, stdout and wall time."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, str(BENCH / bench.script), *bench.args],
                               stdout=subprocess.PIPE, text=True, cwd=BENCH.parent)
    assert process.stdout is not None
    captured = []
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        captured.append(line)
    return process.wait(), "".join(captured), time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [b.name for b in BENCHMARKS]
    parser.add_argument("--only", nargs="+", choices=names, metavar="NAME", help=f"some of: {', '.join(names)}")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and their commands")
    parser.add_argument("--record", nargs=2, metavar=("NAME", "FILE"),
                        help="write NAME's section from FILE, the output of its command run alone")
    args = parser.parse_args(argv)
    if args.list:
        for bench in BENCHMARKS:
            print(f"{bench.name:<13} {bench.command}")
        return 0

    if args.record:
        name, output = args.record
        bench = next((b for b in BENCHMARKS if b.name == name), None)
        tables = markdown_tables(Path(output).read_text(encoding="utf-8"))
        if bench is None or not tables:
            parser.error(f"{name}: {'no such benchmark' if bench is None else 'no table in ' + output}")
        write_section(bench, section(bench, tables, None))
        return 0

    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    failed: list[str] = []
    for bench in chosen:
        print(f"\n=== {bench.name}: {bench.command}", flush=True)
        status, output, seconds = run(bench)
        tables = markdown_tables(output)
        if status != 0 or not tables:
            failed.append(f"{bench.name} (exit {status}{', no table' if not tables else ''})")
            continue
        # written after each benchmark, so a long series interrupted later keeps what it measured
        write_section(bench, section(bench, tables, seconds))
    if failed:
        print(f"\nrun_all: failed, previous sections kept: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"\nrun_all: {len(chosen)} benchmark(s) written to {RESULTS.relative_to(BENCH.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
