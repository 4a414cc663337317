"""Benchmark: does the emulator answer as fast with 100,000 rows as with 1,000?

For each portal size a worker process starts an emulator (rate limit off) and seeds that many
services (one BASE price each) and companies (an ORIGIN_ID, a phone and an e-mail each)
through the emulator's Python seeding API. Each operation is then timed over real HTTP on
127.0.0.1 from one client thread in the worker (``requests.Session``, incoming webhook), for
at least ``--seconds`` per size, in ``--rounds`` slices that alternate between the sizes:
other work on the machine then weighs on both figures alike. Prints a markdown table:
requests per second at each size, their ratio, and whether it meets the goal, the largest
portal's figure within 20 % of the smallest's (ratio >= 0.80).

    python bench/bench_emulator.py [--sizes 1000 100000] [--seconds 2] [--rounds 4]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import multiprocessing
import random
import sys
import time
from multiprocessing.connection import Connection
from typing import Callable

import requests

from bitrix24_emulator import Bitrix24Emulator, EmulatorSettings

GOAL_RATIO = 0.80
# Price types added at set-up, so catalog.price.add never runs out of free (product, type) pairs.
EXTRA_PRICE_TYPES = range(3, 13)
OPERATIONS = [
    "catalog.product.service.add",
    "catalog.product.service.update",
    "catalog.product.service.get",
    "catalog.product.service.list (xmlId IN 50)",
    "crm.company.list (@ORIGIN_ID 50)",
    "catalog.price.add",
    "batch (25 service.add + 25 price.add)",
]


def seed(emulator: Bitrix24Emulator, size: int) -> list[int]:
    """``size`` services with a BASE price and ``size`` companies; returns the service ids."""
    service_ids = []
    for number in range(size):
        service_id = emulator.seed_service(name=f"Servicio {number}", xmlId=f"SVC-{number}", iblockSectionId=44)
        emulator.seed_price(service_id, 100 + number % 900)
        service_ids.append(service_id)
    for number in range(size):
        emulator.seed_company(TITLE=f"Empresa {number}", ORIGIN_ID=str(number),
                              PHONE=[{"VALUE": f"+54 11 {4000_0000 + number}", "VALUE_TYPE": "WORK"}],
                              EMAIL=[{"VALUE": f"empresa{number}@lab.example", "VALUE_TYPE": "WORK"}])
    for type_id in EXTRA_PRICE_TYPES:
        emulator.add_price_type(f"LISTA {type_id}", price_type_id=type_id)
    return service_ids


class Client:
    """One keep-alive session against the webhook; every answer must be a success."""

    def __init__(self, hook: str):
        self.hook = hook
        self.session = requests.Session()

    def call(self, method: str, params: dict) -> dict:
        response = self.session.post(self.hook + method, json=params, timeout=30)
        body = response.json()
        if response.status_code != 200 or "error" in body:
            raise RuntimeError(f"{method}: HTTP {response.status_code} {body}")
        return body


def operations(client: Client, service_ids: list[int], size: int, rng: random.Random) -> dict[str, Callable[[], None]]:
    counter = itertools.count()
    # each (product, type) once: catalog.price.add must succeed every time
    free_pairs = ((product_id, type_id) for type_id in EXTRA_PRICE_TYPES for product_id in service_ids)

    def service_add() -> None:
        client.call("catalog.product.service.add", {"fields": {
            "iblockId": 24, "name": "Servicio nuevo", "xmlId": f"NEW-{next(counter)}", "iblockSectionId": 46}})

    def service_update() -> None:
        client.call("catalog.product.service.update", {"id": rng.choice(service_ids), "fields": {
            "name": f"Servicio cambiado {next(counter)}", "sort": rng.randrange(1000)}})

    def service_get() -> None:
        client.call("catalog.product.service.get", {"id": rng.choice(service_ids)})

    def service_list() -> None:
        wanted = [f"SVC-{n}" for n in rng.sample(range(size), 50)]
        body = client.call("catalog.product.service.list", {
            "select": ["id", "iblockId", "name", "xmlId"], "filter": {"iblockId": 24, "xmlId": wanted}})
        assert len(body["result"]["services"]) == 50

    def company_list() -> None:
        wanted = [str(n) for n in rng.sample(range(size), 50)]
        body = client.call("crm.company.list", {"filter": {"@ORIGIN_ID": wanted}, "select": ["ID", "TITLE", "ORIGIN_ID"]})
        assert len(body["result"]) == 50

    def price_add() -> None:
        product_id, type_id = next(free_pairs)
        client.call("catalog.price.add", {"fields": {"productId": product_id, "catalogGroupId": type_id,
                                                     "price": 150, "currency": "ARS"}})

    def batch() -> None:
        commands = {}
        for _ in range(25):
            number = next(counter)
            commands[f"s{number}"] = ("catalog.product.service.add?fields[iblockId]=24&fields[name]=Lote"
                                      f"&fields[xmlId]=BATCH-{number}")
            commands[f"p{number}"] = (f"catalog.price.add?fields[productId]=$result[s{number}][service][id]"
                                      "&fields[catalogGroupId]=1&fields[price]=200&fields[currency]=ARS")
        body = client.call("batch", {"halt": 0, "cmd": commands})
        if body["result"]["result_error"]:
            raise RuntimeError(f"batch: {body['result']['result_error']}")

    return dict(zip(OPERATIONS, [service_add, service_update, service_get, service_list, company_list, price_add,
                                 batch], strict=True))


def timed_calls(operation: Callable[[], None], seconds: float) -> tuple[int, float]:
    """(calls, elapsed) of calling ``operation`` for at least ``seconds``."""
    calls, started = 0, time.perf_counter()
    while True:
        operation()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return calls, elapsed


def worker(size: int, connection: Connection, seed_value: int = 13) -> None:
    """Seed a portal of ``size`` rows, then time whichever operation the parent names, for as long as it says."""
    with Bitrix24Emulator(EmulatorSettings(rate_limit_enabled=False)).start() as emulator:
        started = time.perf_counter()
        service_ids = seed(emulator, size)
        seeded = time.perf_counter() - started
        # CPython's cyclic collector makes a full pass, costing time in proportion to every
        # container alive, each time long-lived objects have grown by a quarter since the last.
        # Seeding leaves that count anywhere in its cycle; starting every portal right after a
        # pass keeps a pass due to seeding out of the timed windows. Its cost is reported.
        gc.collect()
        started = time.perf_counter()
        gc.collect()
        full_pass = time.perf_counter() - started
        print(f"seeded {size:,} services, prices and companies in {seeded:.1f} s; "
              f"{len(gc.get_objects()):,} objects tracked by the garbage collector, a full pass takes "
              f"{full_pass:.3f} s", file=sys.stderr, flush=True)
        client = Client(emulator.add_webhook(user_id=1))
        table_of_operations = operations(client, service_ids, size, random.Random(seed_value))
        connection.send("ready")
        while (request := connection.recv()) is not None:
            name, seconds = request
            operation = table_of_operations[name]
            for _ in range(5):
                operation()  # warm the connection and the code paths
            connection.send(timed_calls(operation, seconds))
        client.session.close()


def measure(sizes: list[int], seconds: float, rounds: int) -> dict[int, dict[str, float]]:
    """Requests per second by size and operation, the sizes taking turns slice by slice."""
    context = multiprocessing.get_context("spawn")
    workers = {}
    for size in sizes:
        parent_end, child_end = context.Pipe()
        process = context.Process(target=worker, args=(size, child_end), daemon=True)
        process.start()
        workers[size] = (process, parent_end)
    for _process, connection in workers.values():
        if connection.recv() != "ready":
            raise RuntimeError("a benchmark worker failed to start")
    figures: dict[int, dict[str, float]] = {size: {} for size in sizes}
    for name in OPERATIONS:
        totals = {size: [0, 0.0] for size in sizes}
        for round_number in range(rounds):
            turn = sizes if round_number % 2 == 0 else list(reversed(sizes))
            for size in turn:
                connection = workers[size][1]
                connection.send((name, seconds / rounds))
                calls, elapsed = connection.recv()
                totals[size][0] += calls
                totals[size][1] += elapsed
        for size in sizes:
            figures[size][name] = totals[size][0] / totals[size][1]
        print("  " + name + ": " + ", ".join(f"{figures[s][name]:.1f} req/s @{s:,}" for s in sizes),
              file=sys.stderr, flush=True)
    for process, connection in workers.values():
        connection.send(None)
        process.join(timeout=60)
    return figures


def table(sizes: list[int], figures: dict[int, dict[str, float]]) -> str:
    small, large = sizes[0], sizes[-1]
    label = {size: f"{size // 1000}k" if size % 1000 == 0 else str(size) for size in sizes}
    lines = ["| operation | " + " | ".join(f"rps @{label[s]}" for s in sizes)
             + f" | ratio ({label[large]}/{label[small]}) | goal (>= {GOAL_RATIO:.2f}) |",
             "|---|" + "---:|" * len(sizes) + "---:|---|"]
    for name in OPERATIONS:
        ratio = figures[large][name] / figures[small][name]
        lines.append(f"| {name} | " + " | ".join(f"{figures[s][name]:,.0f}" for s in sizes)
                     + f" | {ratio:.2f} | {'yes' if ratio >= GOAL_RATIO else 'no'} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100000], help="portal sizes (rows)")
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum timing per operation and size")
    parser.add_argument("--rounds", type=int, default=4, help="slices per operation, alternating between sizes")
    args = parser.parse_args()
    sizes = sorted(args.sizes)
    print(table(sizes, measure(sizes, args.seconds, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
