"""`glyms-b24 history`, `audit` and `prune` on real runs, real audit rows and a PostgreSQL instance."""

import csv
import io
import json
import os
import subprocess
import sys

import dagster as dg
import psycopg2
import pytest

from glyms_b24_pipeline.cli import main
from glyms_b24_pipeline.cli.history import parse_since
from glyms_b24_pipeline.defs.services.assets import CATALOG_SERVICES, SERVICES_PLAN, SERVICES_PUSH
from glyms_b24_pipeline.runs.instance import open_instance
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms

TEXT_METADATA = {"work_order_types", "mass_deactivation_guard", "plan_recomputed", "changes", "failures", "preview",
                 "dry_run", "first_not_synced", "explain_not_synced", "explain_failed", "path"}  # path: where the IO manager stored the value


@pytest.fixture
def synced(glyms_dsn, emulator, pg_dagster_home, monkeypatch, capsys):
    """A Glyms database with 30 services pushed by one real `glyms-b24 sync` (run id returned)."""
    seed_glyms(glyms_dsn, services=30, customers=0, seed=3)
    monkeypatch.setenv("GLYMS_PG_DSN", glyms_dsn)
    monkeypatch.setenv("B24_WEBHOOK_URL", emulator.add_webhook(user_id=1))
    monkeypatch.delenv("GLYMS_B24_CONFIG", raising=False)
    main(["sync", "--type", "services"])
    capsys.readouterr()
    with open_instance() as instance:
        return instance.get_runs()[0].run_id


def test_history_lists_runs_newest_first_with_their_counts(synced, emulator, capsys):
    assert main(["sync", "--type", "services", "--dry-run"]) in (0, 1)  # 1 when the seed's invalid rows warn
    capsys.readouterr()
    assert main(["history", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in rows][1] == synced
    dry, real = rows
    written = len(emulator.services(iblock_id=24))
    assert (real["job"], real["status"], real["written"], real["failed"]) == ("services_sync", "SUCCESS", written, 0)
    assert real["requests"] > 0 and real["duration_seconds"] > 0
    assert dry["written"] is None and dry["requests"] > 0  # a dry run writes nothing but reads the portal

    assert main(["history", "--type", "services", "--limit", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ejecución", "job", "estado", "resultado", "inicio", "duración", "escritos", "fallidos",
                                "en_error", "peticiones"]
    assert set(lines[1]) <= {"-", " "} and lines[2].startswith(dry["run_id"] + "  services_sync  SUCCESS  OK")
    assert real["outcome"] in ("done", "done with problems") and real["in_error"] == 0
    assert lines[3].startswith("services: último push hace 0.0 h, al día (límite 26 h)")
    assert main(["history", "--since", "2099-01-01"]) == 0
    assert capsys.readouterr().out.startswith("sin ejecuciones desde 2099-01-01")

    # every count of the run is numeric metadata, which the UI plots over time
    with open_instance() as instance:
        for key in (CATALOG_SERVICES, SERVICES_PLAN, SERVICES_PUSH):
            event = instance.get_records_for_run(synced, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
            metadata = next(r.asset_materialization.metadata for r in event
                            if r.asset_materialization and r.asset_materialization.asset_key == key)
            not_numeric = {name for name, value in metadata.items()
                           if not isinstance(value, (dg.IntMetadataValue, dg.FloatMetadataValue))
                           and not name.endswith("_rows")} - TEXT_METADATA  # _rows: a table of the rows counted
            assert not_numeric == set(), key


def test_audit_filters_rows_and_prints_table_json_or_csv(synced, capsys):
    assert main(["audit", "--run", synced, "--status", "success", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and {r["run_id"] for r in rows} == {synced} and {r["outcome"] for r in rows} == {"success"}
    key = rows[0]["glyms_key"]
    assert main(["audit", "--key", key, "--entity", "service", "--since", "1h", "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [(r["glyms_key"], r["entity"]) for r in found] == [(key, "service")]
    assert main(["audit", "--key", key, "--since", "2099-01-01"]) == 0
    assert capsys.readouterr().out.strip() == "sin filas de auditoría"
    assert main(["audit", "--status", "skipped"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["recorded_at", "run_id", "entity"] and "skipped" in table[2]
    assert main(["audit", "--since", "ayer"]) == 2
    assert capsys.readouterr().err.startswith("error: --since 'ayer': use una fecha (2026-11-01), horas (24h) o días (7d)")


def test_a_closed_pipe_ends_the_listing_quietly(glyms_dsn):
    env = {**os.environ, "GLYMS_PG_DSN": glyms_dsn}
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:  # enough rows to overflow the pipe
        cur.execute("INSERT INTO glyms_b24.sync_audit (run_id, entity, glyms_key, operation, outcome) "
                    "SELECT 'bulk', 'service', g::text, 'update', 'success' FROM generate_series(1, 3000) g")
    conn.close()
    reader = subprocess.Popen([sys.executable, "-m", "glyms_b24_pipeline.cli", "audit", "--limit", "3000",
                               "--format", "json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout is not None and reader.stderr is not None
    assert reader.stdout.read(100)
    reader.stdout.close()
    assert reader.wait(timeout=60) == 0
    assert reader.stderr.read() == b""


def test_prune_deletes_old_audit_rows_and_old_runs_dry_run_only_counts(synced, glyms_dsn, dagster_pg_url, capsys):
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO glyms_b24.sync_audit (run_id, entity, glyms_key, operation, outcome, recorded_at) "
                    "SELECT 'old', 'service', g::text, 'update', 'success', now() - interval '401 days' "
                    "FROM generate_series(1, 12) g")
        cur.execute("SELECT count(*) FROM glyms_b24.sync_audit WHERE run_id <> 'old'")
        recent_rows = cur.fetchone()[0]
    conn.close()
    old_run = synced  # made 401 days old in Dagster's own storage
    storage = psycopg2.connect(dagster_pg_url.replace("postgresql+psycopg2://", "postgresql://"))
    with storage, storage.cursor() as cur:
        cur.execute("UPDATE runs SET create_timestamp = now() - interval '401 days' WHERE run_id = %s", (old_run,))
    storage.close()

    assert main(["prune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "auditoría: 12 filas anteriores a" in out and "historial: 1 ejecuciones anteriores a" in out
    assert "se borrarían" in out
    assert main(["prune"]) == 0
    assert "borradas" in capsys.readouterr().out
    with open_instance() as instance:
        assert instance.get_run_by_id(old_run) is None and instance.all_logs(old_run) == []
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FILTER (WHERE run_id = 'old'), count(*) FROM glyms_b24.sync_audit")
        assert cur.fetchone() == (0, recent_rows)
    conn.close()


def test_the_nightly_maintenance_job_prunes_with_the_configured_retention(glyms_dsn, pg_dagster_home, monkeypatch,
                                                                         tmp_path):
    from glyms_b24_pipeline.definitions import build_definitions

    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO glyms_b24.sync_audit (run_id, entity, glyms_key, operation, outcome, recorded_at) "
                    "VALUES ('a', 'service', '1', 'update', 'success', now() - interval '3 days'), "
                    "('b', 'service', '2', 'update', 'success', now() - interval '1 day')")
    conn.close()
    settings = tmp_path / "glyms_b24.yaml"
    settings.write_text("history: {audit_days: 2, runs_days: 30}\n")
    monkeypatch.setenv("GLYMS_B24_CONFIG", str(settings))
    monkeypatch.setenv("GLYMS_PG_DSN", glyms_dsn)
    monkeypatch.setenv("B24_WEBHOOK_URL", "http://127.0.0.1:1/rest/1/x/")
    with open_instance() as instance:
        result = build_definitions().resolve_job_def("maintenance_prune").execute_in_process(instance=instance)
    assert result.success
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id FROM glyms_b24.sync_audit")
        assert cur.fetchall() == [("b",)]
    conn.close()


def test_since_accepts_dates_hours_and_days():
    import datetime as dt

    now = dt.datetime(2026, 11, 28, 12, tzinfo=dt.timezone.utc)
    assert parse_since("24h", now=now) == now - dt.timedelta(hours=24)
    assert parse_since("7d", now=now) == now - dt.timedelta(days=7)
    assert parse_since("2026-11-01").replace(tzinfo=None) == dt.datetime(2026, 11, 1)  # type: ignore[union-attr]
    assert parse_since(None) is None


def test_history_of_one_location_or_all_and_the_history_written_before_still_shows(synced, tmp_path, monkeypatch,
                                                                                    capsys):
    # the same instance gains a second code location (here on the same portal and Glyms database)
    (tmp_path / "portal_a.yaml").write_text("location: {name: portal_a}\n")
    monkeypatch.setenv("GLYMS_B24_CONFIG", str(tmp_path / "portal_a.yaml"))
    # its own process, as a CLI command is: Dagster keeps the last job it loaded for this process
    done = subprocess.run([sys.executable, "-m", "glyms_b24_pipeline.cli", "--lang", "en", "sync", "--type", "services"],
                          env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "services push: 0 services written, 0 failed" in done.stdout  # the summary reads the prefixed keys
    assert main(["history", "--format", "json"]) == 0  # a named location's environment: its own runs
    own = json.loads(capsys.readouterr().out)
    assert [(r["location"], r["job"]) for r in own] == [("portal_a", "services_sync")]
    assert main(["history", "--location", "all"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["ejecución", "ubicación", "job"]
    assert {line.split()[1] for line in out[2:4]} == {"portal_a", "glyms_b24_pipeline"}
    assert any(line.startswith("services: último push hace") for line in out)
    assert any(line.startswith("portal_a/services: último push hace") for line in out), out

    # the run of before, from the single-portal location, is still listed under its location
    assert main(["history", "--location", "glyms_b24_pipeline", "--format", "json"]) == 0
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)] == [synced]
    monkeypatch.delenv("GLYMS_B24_CONFIG")
    assert main(["history", "--format", "json"]) == 0  # no location.name: every run, as before
    assert {r["location"] for r in json.loads(capsys.readouterr().out)} == {"portal_a", "glyms_b24_pipeline"}


def test_audit_of_several_locations_reads_each_ones_glyms_database(synced, glyms_dsn, sandbox_glyms_dsn, tmp_path,
                                                                   monkeypatch, capsys):
    with psycopg2.connect(sandbox_glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO glyms_b24.sync_audit (run_id, entity, glyms_key, operation, outcome) "
                    "VALUES ('run-of-b', 'service', 'B-1', 'create', 'success')")
    conn.close()
    (tmp_path / "b.yaml").write_text("location: {name: portal_b}\n")
    (tmp_path / "a.env").write_text(f"# portal a\nGLYMS_PG_DSN={glyms_dsn}\n")
    (tmp_path / "b.env").write_text(f'GLYMS_PG_DSN="{sandbox_glyms_dsn}"\nGLYMS_B24_CONFIG={tmp_path / "b.yaml"}\n')
    monkeypatch.delenv("GLYMS_PG_DSN")
    args = ["audit", "--env-file", str(tmp_path / "a.env"), "--env-file", str(tmp_path / "b.env")]
    assert main([*args, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["location"], r["run_id"]) for r in rows if r["run_id"] != synced} == {("portal_b", "run-of-b")}
    assert {r["location"] for r in rows if r["run_id"] == synced} == {"glyms_b24_pipeline"}
    assert main([*args, "--key", "B-1"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["location", "recorded_at"] and table[2].startswith("portal_b")
    assert main(["audit", "--env-file", str(tmp_path / "b.yaml")]) == 2
    assert "GLYMS_PG_DSN is not set there" in capsys.readouterr().err


def test_history_of_one_run_shows_its_steps_outcome_and_failing_rows(synced, glyms_dsn, capsys):
    from glyms_b24_pipeline.sandbox.glyms_seed import add_service_version

    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT min(id_prestacion) FROM lims.v_prestacion_max_version "
                    "WHERE activa = 1 AND btrim(coalesce(descripcion, '')) <> ''")
        (blank,) = cur.fetchone()
    add_service_version(glyms_dsn, blank, descripcion="   ")  # a service Bitrix24 cannot take
    assert main(["--lang", "en", "sync", "--type", "services"]) == 1
    out = capsys.readouterr().out
    run_id = out.split("Run ", 1)[1].split(":", 1)[0]
    assert out.rstrip().splitlines()[-1] == f"  details: glyms-b24 history --run {run_id}"
    assert main(["--lang", "en", "history", "--run", run_id]) == 0
    report = capsys.readouterr().out.splitlines()
    assert report[0] == f"Run {run_id} (services_sync): DONE WITH PROBLEMS"
    assert report[1].startswith("  written 0, failed 0, skipped ")
    assert any(line.startswith("bitrix24__services_push") and "SUCCESS" in line for line in report)
    table = report[report.index("bitrix24/services_push: rows not synced") + 1:]
    assert table[0].split() == ["glyms_key", "action", "reason"]
    assert any(line.startswith(f"{blank} ") and "invalid" in line and "blank" in line for line in table[2:])
