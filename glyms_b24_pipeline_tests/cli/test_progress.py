"""`glyms-b24 sync` at a terminal: the environment checked first, progress shown, nothing of it in the run's logs."""

import io
import os
import pty
import re
import subprocess
import time

import pytest

from glyms_b24_pipeline.bitrix24 import progress
from glyms_b24_pipeline.cli.terminal import PlainLines
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline_tests.cli.conftest import CLI, clean_env


def sqlite_home(tmp_path):
    """A DAGSTER_HOME with the project's instance settings and SQLite storage."""
    from glyms_b24_pipeline.runs.instance import write_instance_yaml

    home = tmp_path / "dagster_home"
    write_instance_yaml(home, None)
    return home


def test_sync_without_the_client_secret_says_so_in_the_same_line_as_price_types(emulator, glyms_dsn, glyms_cli, tmp_path):
    env = {"GLYMS_PG_DSN": glyms_dsn, "DAGSTER_HOME": str(sqlite_home(tmp_path)), "B24_PORTAL_URL": emulator.portal_url,
           "B24_CLIENT_ID": "local.test.app"}
    sync = glyms_cli("sync", "--type", "services", env=env)
    price_types = glyms_cli("price-types", env=env)
    assert sync.returncode == price_types.returncode == 2
    assert sync.stderr == price_types.stderr == (
        "error: la variable de entorno B24_CLIENT_SECRET no está definida (clave de cliente de la aplicación local)\n")
    assert sync.stdout == ""


def test_sync_prints_plain_progress_lines_when_stdout_is_not_a_terminal(emulator, glyms_dsn, glyms_cli, tmp_path):
    seed_glyms(glyms_dsn, services=30, customers=0, seed=6)
    env = {"GLYMS_PG_DSN": glyms_dsn, "DAGSTER_HOME": str(sqlite_home(tmp_path)), "B24_WEBHOOK_URL": emulator.add_webhook(user_id=1)}
    done = glyms_cli("sync", "--type", "services", env=env)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    lines = done.stdout.splitlines()
    written = len(emulator.services(iblock_id=24))
    assert lines[0] == f"  services: 0/{written} cambios escritos, 0 peticiones"
    assert re.fullmatch(rf"  services: {written}/{written} cambios escritos, [1-9]\d* peticiones", lines[1])
    assert lines[2].startswith("Ejecución ")
    captured = [p for p in tmp_path.rglob("compute_logs/*.out")]
    assert captured and all("cambios escritos" not in p.read_text() for p in captured)


@pytest.mark.slow
def test_sync_draws_a_live_bar_with_the_wait_on_a_terminal(emulator, glyms_dsn, tmp_path):
    seed_glyms(glyms_dsn, services=30, customers=0, seed=6)
    config = tmp_path / "slow.yaml"
    config.write_text("bitrix24:\n  rate_limit: {burst: 2, drain_per_second: 0.5}\n", encoding="utf-8")
    env = clean_env(GLYMS_PG_DSN=glyms_dsn, DAGSTER_HOME=str(sqlite_home(tmp_path)), B24_WEBHOOK_URL=emulator.add_webhook(user_id=1),
                    COLUMNS="160")
    controller, terminal = pty.openpty()
    process = subprocess.Popen([*CLI, "--config", str(config), "sync", "--type", "services"], env=env,
                               stdout=terminal, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(terminal)
    screen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(controller)
    assert process.wait(timeout=60) in (0, 1)
    text = screen.decode("utf-8", "replace")
    written = len(emulator.services(iblock_id=24))
    assert f"{written}/{written}" in text and " peticiones" in text
    assert re.search(r"esperando \d+ s por el límite de pedidos por segundo de Bitrix24", text)
    assert "\x1b[" in text  # drawn in place, not printed line by line
    assert "Ejecución " in text and "push de services:" in text


def test_progress_is_a_no_op_without_a_reporter_and_plain_lines_are_throttled():
    assert progress.set_reporter(None) is None
    progress.report("services", 1, 2, 3)  # nothing installed: nothing happens, nothing fails
    progress.waiting(10)

    stream = io.StringIO()
    now = [0.0]
    with progress.reporting(PlainLines(stream, clock=lambda: now[0])):
        progress.report("services", 0, 500, 0)
        now[0] = 3
        progress.report("services", 250, 500, 6)  # within 10 s of the last line: skipped
        progress.waiting(2)  # ordinary pacing: not news
        progress.waiting(30)
        progress.waiting(2, progress.RETRY, "ConnectError")  # a retry is news, however short
        progress.waiting(7, progress.OPERATING_WINDOW, "crm.company.list")
        progress.waiting(120, progress.PORTAL_LOCK, "run 1234abcd")
        now[0] = 4
        progress.report("services", 500, 500, 11)  # the last one always shows
    assert stream.getvalue().splitlines() == [
        "  services: 0/500 cambios escritos, 0 peticiones",
        "  esperando 30 s por el límite de pedidos por segundo de Bitrix24",
        "  esperando 2 s para reintentar tras no poder conectar con el portal",
        "  esperando 7 s a que Bitrix24 libere crm.company.list (límite de tiempo de operación)",
        "  esperando 120 s a que termine otra sincronización que escribe en el portal (ejecución 1234abcd)",
        "  services: 500/500 cambios escritos, 11 peticiones",
    ]
    assert progress.set_reporter(None) is None


@pytest.mark.parametrize("total", [None, 4])
def test_push_progress_counts_the_clients_requests_from_its_creation(total):
    class Counters:
        requests = 7

    class Client:
        counters = Counters()

    seen = []

    class Recorder:
        def update(self, p):
            seen.append((p.sync, p.done, p.total, p.requests))

        def waiting(self, wait):
            pass

    with progress.reporting(Recorder()):
        on_progress = progress.push_progress("companies", Client(), total=total)
        Client.counters.requests = 12
        on_progress(4, 4)
    assert seen == ([("companies", 0, 4, 0)] if total else []) + [("companies", 4, 4, 5)]

    seen.clear()
    with progress.reporting(Recorder()):
        progress.push_progress("services", Client(), total=0)(0, 0)
    assert seen == []  # a run with nothing to write prints no "0/0"
