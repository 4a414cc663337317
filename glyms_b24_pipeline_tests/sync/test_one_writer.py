"""The everyday actions that used to duplicate the catalog: two syncs at once, the push alone,
re-execution from a failed push, and Glyms text that looks like a batch placeholder."""

import subprocess
import sys
import threading
import time
from collections import Counter

import dagster as dg
import psycopg2
import pytest

from bitrix24_emulator import Fault
from glyms_b24_pipeline.definitions import build_definitions
from glyms_b24_pipeline.defs.services.assets import SERVICES_PUSH
from glyms_b24_pipeline.sandbox.glyms_seed import add_service_version, seed_glyms


def services_sync_job():
    """Module level, so Dagster can reconstruct the job for re-execution."""
    return build_definitions().resolve_job_def("services_sync")


def _xml_id_counts(emulator):
    return Counter(s["xmlId"] for s in emulator.services(iblock_id=24))


def _valid_services(dsn):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM lims.v_prestacion_max_version WHERE activa = 1 AND "
                    "length(btrim(coalesce(descripcion, ''))) BETWEEN 1 AND 255")
        return cur.fetchone()[0]


def _start_sync(env, *args):
    return subprocess.Popen([sys.executable, "-m", "glyms_b24_pipeline.cli", "sync", "--type", "services", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_cli_syncs_started_together_write_each_service_once(glyms_dsn, emulator, cli_env):
    seed_glyms(glyms_dsn, services=120, customers=0, seed=3)
    # the first writer's first batch takes 6 s: the second is certainly at the lock meanwhile
    emulator.add_fault(Fault(kind="slow", method="catalog.product.service.add", nth=1, delay_seconds=6))
    runs = [_start_sync(cli_env), _start_sync(cli_env)]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [1, 1], outputs  # the seed's price check warns in both
    counts = _xml_id_counts(emulator)
    assert len(counts) == _valid_services(glyms_dsn) and set(counts.values()) == {1}
    waited = [out for out, _ in outputs if "esperó" in out and "a otra sincronización que escribía" in out]
    assert len(waited) == 1, outputs
    assert "push de services: 0 servicios escritos" in waited[0]  # it found the catalog already right
    assert all("Traceback" not in out + err for out, err in outputs)


@pytest.mark.slow
def test_a_busy_portal_refuses_the_second_sync_with_exit_code_3(glyms_dsn, emulator, cli_env, tmp_path):
    seed_glyms(glyms_dsn, services=60, customers=0, seed=4)
    config = tmp_path / "glyms_b24.yaml"
    config.write_text("writer:\n  lock_wait_seconds: 0\n")
    # the first sync's first write batch takes 20 s: the second is certainly refused meanwhile, even on a loaded machine
    emulator.add_fault(Fault(kind="slow", method="catalog.product.service.add", nth=1, delay_seconds=20))
    first = _start_sync(cli_env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(e.method == "batch" for e in emulator.request_log):
        time.sleep(0.2)  # the first sync is writing
    second = subprocess.run([sys.executable, "-m", "glyms_b24_pipeline.cli", "--config", str(config), "sync",
                             "--type", "services"], env=cli_env, capture_output=True, text=True, timeout=120)
    first.communicate(timeout=120)
    assert second.returncode == 3, second.stdout + second.stderr
    errors = [line.strip() for line in second.stdout.splitlines() if line.strip().startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: otra sincronización está escribiendo en {emulator.portal_url} (")
    assert set(_xml_id_counts(emulator).values()) == {1}


@pytest.fixture
def in_process_env(glyms_dsn, emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("GLYMS_PG_DSN", glyms_dsn)
    monkeypatch.setenv("B24_WEBHOOK_URL", emulator.add_webhook(user_id=1))
    config = tmp_path / "glyms_b24.yaml"
    # a run whose lock was cut is not killed: its requests are over when the next run starts
    config.write_text("writer:\n  in_flight_grace_seconds: 3\n")
    monkeypatch.setenv("GLYMS_B24_CONFIG", str(config))
    (tmp_path / "instance").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "instance")) as instance:
        yield instance


def _push_metadata(result):
    for event in result.all_events:
        if event.is_step_materialization:
            mat = event.event_specific_data.materialization
            if mat.asset_key == SERVICES_PUSH:
                return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    return None


def test_the_push_materialised_alone_replans_and_writes_no_duplicate(glyms_dsn, emulator, in_process_env):
    seed_glyms(glyms_dsn, services=80, customers=0, seed=6)
    job = dg.reconstructable(services_sync_job)
    first = dg.execute_job(job, instance=in_process_env)
    assert first.success
    created = _xml_id_counts(emulator)
    emulator.reset_observability()

    alone = dg.execute_job(job, instance=in_process_env, asset_selection=[SERVICES_PUSH])
    assert alone.success
    push = _push_metadata(alone)
    assert push["plan_recomputed"] == f"the stored plan was computed by run {first.run_id}"
    assert push["succeeded"] == 0 and push["failed"] == 0
    assert _xml_id_counts(emulator) == created and set(created.values()) == {1}


def test_reexecution_from_a_failed_push_resends_nothing_that_succeeded(glyms_dsn, emulator, in_process_env):
    seed_glyms(glyms_dsn, services=320, customers=0, seed=9)  # more than one slice of 250 writes
    # the first write batch takes 6 s: time enough, even on a loaded machine, to cut the lock meanwhile
    slow_batch = Fault(kind="slow", method="catalog.product.service.add", nth=1, delay_seconds=6)
    emulator.add_fault(slow_batch)

    def cut_the_lock_mid_push():  # the database session holding the lock dies while slice 1 is out
        deadline = time.monotonic() + 60
        # the batch must have reached the portal: cut between the 'sent' audit rows and the send,
        # and the writer rightly sends nothing at all
        while time.monotonic() < deadline and not slow_batch.fired:
            time.sleep(0.05)
        with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
            # only this test's database: other suites on the server hold writer locks too
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name LIKE 'glyms-b24 writer %%' AND datname = current_database()")

    cutter = threading.Thread(target=cut_the_lock_mid_push)
    cutter.start()
    job = dg.reconstructable(services_sync_job)
    failed = dg.execute_job(job, instance=in_process_env, raise_on_error=False)
    cutter.join(timeout=60)
    assert not cutter.is_alive()
    assert not failed.success
    failure = [e for e in failed.all_events if e.is_step_failure][0].event_specific_data.user_failure_data
    assert "writer lock" in failure.description and "stopped before the next write" in failure.description, failure.description
    written_first = _xml_id_counts(emulator)
    assert 0 < len(written_first) < _valid_services(glyms_dsn)

    again = dg.execute_job(job, instance=in_process_env,
                           reexecution_options=dg.ReexecutionOptions.from_failure(failed.run_id, in_process_env))
    assert again.success, [e.event_specific_data for e in again.all_events if e.is_step_failure]
    push = _push_metadata(again)
    assert push["plan_recomputed"] == f"the stored plan was computed by run {failed.run_id}"
    counts = _xml_id_counts(emulator)
    assert len(counts) == _valid_services(glyms_dsn) and set(counts.values()) == {1}
    assert push["create_success"] == len(counts) - len(written_first)


def test_placeholder_text_in_glyms_is_stored_exactly_and_the_run_goes_on(glyms_dsn, emulator, in_process_env):
    seed_glyms(glyms_dsn, services=200, customers=0, seed=12)
    names = {"Análisis $result[s1]", "Cultivo $next[p0][services][49][id]", "Perfil $error[s5] y $total[x]"}
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT id_prestacion FROM lims.v_prestacion_max_version WHERE activa = 1 "
                    "AND length(btrim(coalesce(descripcion, ''))) > 0 ORDER BY id_prestacion LIMIT 3")
        ids = [row[0] for row in cur.fetchall()]
    for service_id, name in zip(ids, sorted(names), strict=False):
        add_service_version(glyms_dsn, service_id, descripcion=name, comentario=name, activa=1)
    result = dg.execute_job(dg.reconstructable(services_sync_job), instance=in_process_env)
    assert result.success and _push_metadata(result)["failed"] == 0
    stored = {s["xmlId"]: s for s in emulator.services(iblock_id=24)}
    assert {stored[str(i)]["name"] for i in ids} == names
    assert {stored[str(i)]["detailText"] for i in ids} == names
    assert len(stored) == _valid_services(glyms_dsn)
    # a second run finds every name equal: nothing to write
    second = dg.execute_job(dg.reconstructable(services_sync_job), instance=in_process_env)
    assert _push_metadata(second)["dagster/row_count"] == 0
