"""`glyms-b24 sync` and `glyms-b24 sandbox`: real Dagster runs, recorded in run history."""

import os
import re
import socket
import subprocess
import sys
import time

import dagster as dg
import pytest

from glyms_b24_pipeline.cli import main
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline.sync.jobs import WRITER_TAG_KEY, portal_identity
from glyms_b24_pipeline_tests.cli.test_languages import judged_lines, other_language_words


def test_sync_command_runs_the_job_on_the_configured_instance(glyms_dsn, emulator, pg_dagster_home, monkeypatch, capsys):
    seed_glyms(glyms_dsn, services=40, customers=0, seed=5)
    monkeypatch.setenv("GLYMS_PG_DSN", glyms_dsn)
    monkeypatch.setenv("B24_WEBHOOK_URL", emulator.add_webhook(user_id=1))
    monkeypatch.delenv("GLYMS_B24_CONFIG", raising=False)

    # the seed holds a service without a price: the check warns, so neither run says OK, and both exit 1
    assert main(["--lang", "en", "sync", "--type", "services", "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "dry run: nothing written" in out and "to create" in out
    assert ": DONE WITH PROBLEMS" in out and "check failed: glyms/services price_validity" in out
    assert emulator.services(iblock_id=24) == []

    assert main(["--lang", "en", "sync", "--type", "services"]) == 1
    out = capsys.readouterr().out
    created = len(emulator.services(iblock_id=24))
    assert created > 30
    assert f"push: {created} services written, 0 failed" in out

    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
    assert [run.job_name for run in runs] == ["services_sync", "services_sync"]
    assert all(run.tags.get(WRITER_TAG_KEY) == portal_identity(emulator.portal_url) for run in runs)
    assert runs[0].run_id in out
    # the steps handed their values on through files under the instance's storage (one per asset,
    # replaced by the next run), not in memory to the end of the run
    for key in ("glyms/services", "bitrix24/catalog_services", "sync/services_plan", "bitrix24/services_push"):
        assert (pg_dagster_home / "storage" / key).is_file(), key


def test_sync_command_without_dagster_home_says_so(glyms_dsn, monkeypatch, capsys):
    monkeypatch.setenv("GLYMS_PG_DSN", glyms_dsn)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["sync"]) == 2
    assert capsys.readouterr().err.startswith("error: DAGSTER_HOME no está definida: ")


def test_a_dagster_home_without_dagster_yaml_is_refused_not_silently_sqlite(glyms_dsn, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GLYMS_PG_DSN", glyms_dsn)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert main(["sync", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: DAGSTER_HOME={tmp_path} no tiene dagster.yaml") and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # no history folder, no SQLite file


def test_a_storage_url_without_the_psycopg2_driver_is_refused(glyms_dsn, pg_dagster_home, dagster_pg_url, monkeypatch, capsys):
    monkeypatch.setenv("GLYMS_PG_DSN", glyms_dsn)
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_pg_url.replace("postgresql+psycopg2://", "postgresql://"))
    assert main(["sync", "--dry-run"]) == 2
    assert capsys.readouterr().err.strip() == ("error: DAGSTER_PG_URL must start with postgresql+psycopg2:// (got "
                                               "postgresql://): other drivers are not installed")


@pytest.mark.slow
def test_sandbox_command_runs_the_sync_end_to_end_and_survives_a_restart(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("B24_", "GLYMS_", "DAGSTER_"))}
    command = [sys.executable, "-m", "glyms_b24_pipeline.cli", "--lang", "en", "sandbox", "--dir", str(tmp_path / "sbx"),
               "--services", "60", "--customers", "5"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert first.returncode == 0, first.stderr[-2000:]
    # the seed plants invalid rows: the summary names the checks that warn, and every write landed
    assert ": DONE WITH PROBLEMS" in first.stdout and "services written, 0 failed" in first.stdout
    assert "check failed: glyms/services price_validity" in first.stdout
    assert "INFO" not in first.stdout + first.stderr
    created = int(first.stdout.split("plan: ")[1].split(" to create")[0])
    assert created > 40
    # the emulator's portal and the database persist in the folder: a second run has nothing to do; it
    # speaks the product's language (Spanish) all through, its run's summary too
    second = subprocess.run([arg for arg in command if arg not in ("--lang", "en")], env=env, capture_output=True,
                            text=True, timeout=240)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "plan de services: 0 a crear" in second.stdout and f"{created} sin cambios" in second.stdout
    english = [line for line in judged_lines(second.stdout + second.stderr) if other_language_words(line, "es")]
    assert not english, english


def test_a_failed_run_ends_with_one_line_per_cause_and_no_secret(emulator, sqlite_dagster_home, monkeypatch, capsys):
    monkeypatch.setenv("GLYMS_PG_DSN", "postgresql://glyms:s3cr3t@127.0.0.1:1/glyms")
    monkeypatch.setenv("B24_WEBHOOK_URL", emulator.add_webhook(user_id=1))
    assert main(["sync"]) == 2
    captured = capsys.readouterr()
    errors = [line for line in captured.out.splitlines() if line.strip().startswith("error:")]
    assert errors == ["  error: no se puede conectar a la base de Glyms 127.0.0.1:1/glyms: el servidor rechaza la "
                      "conexión: ¿está PostgreSQL corriendo en ese puerto?"]
    assert "Traceback" not in captured.out + captured.err and "s3cr3t" not in captured.out + captured.err


def test_the_guard_message_reaches_the_operator(glyms_dsn, emulator, sqlite_dagster_home, monkeypatch, capsys):
    emulator.seed_service(iblockId=24, name="Hemograma", xmlId="1")
    monkeypatch.setenv("GLYMS_PG_DSN", glyms_dsn)
    monkeypatch.setenv("B24_WEBHOOK_URL", emulator.add_webhook(user_id=1))
    assert main(["sync"]) == 1
    out = capsys.readouterr().out
    assert "error: Envío detenido, no se escribió nada: Glyms no devolvió ningún servicio activo" in out
    assert emulator.services(iblock_id=24)[0]["active"] == "Y"
    assert main(["sync", "--allow-mass-deactivation"]) == 0
    assert emulator.services(iblock_id=24)[0]["active"] == "N"


def test_client_retries_show_in_the_run_event_log(glyms_dsn, emulator, pg_dagster_home, monkeypatch, capsys):
    from bitrix24_emulator import Fault

    seed_glyms(glyms_dsn, services=10, customers=0, seed=8)
    monkeypatch.setenv("GLYMS_PG_DSN", glyms_dsn)
    monkeypatch.setenv("B24_WEBHOOK_URL", emulator.add_webhook(user_id=1))
    emulator.add_fault(Fault(kind="http_502", method="catalog.product.service.list", nth=1))
    assert main(["sync", "--dry-run"]) == 0
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs()[0]
        messages = [entry.user_message for entry in instance.all_logs(run.run_id)]
    assert any(re.search(r"ServerError \(.*\); retry 1/", message) for message in messages)


def test_an_unreachable_portal_ends_the_run_in_bounded_time_with_exit_2_and_the_wait_named(glyms_dsn, tmp_path,
                                                                                           dagster_home, glyms_cli):
    seed_glyms(glyms_dsn, services=5, customers=3, seed=8)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    config = tmp_path / "glyms_b24.yaml"
    config.write_text("bitrix24:\n  unreachable_timeout_seconds: 6\n  backoff_base_seconds: 1\n"
                      "  backoff_max_seconds: 2\n  max_retries: 20\n")
    started = time.monotonic()
    result = glyms_cli("sync", "--type", "all", "--config", str(config), timeout=240, env={
        "GLYMS_PG_DSN": glyms_dsn, "DAGSTER_HOME": str(dagster_home),
        "B24_WEBHOOK_URL": f"http://127.0.0.1:{port}/rest/1/abcdefgh/"})
    elapsed = time.monotonic() - started
    out = result.stdout
    assert result.returncode == 2, out + result.stderr
    # both syncs' reads share one bound (6 s) instead of 20 retries each, and no step is retried
    assert elapsed < 60, f"{elapsed:.0f} s"
    assert "esperando 1 s para reintentar tras no poder conectar con el portal" in out or \
        "esperando 2 s para reintentar tras no poder conectar con el portal" in out, out
    assert "límite de pedidos" not in out  # not the rate limit: nothing was ever answered
    errors = [line for line in out.splitlines() if line.strip().startswith("error:")]
    assert errors and "no se puede conectar" in errors[0] and "inalcanzable durante" in errors[0], out
    assert "bitrix24.unreachable_timeout_seconds" in errors[0]
