"""CLI runs: in this process when no daemon serves the instance, through the daemon's queue when one does."""

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._daemon.types import DaemonHeartbeat

from glyms_b24_pipeline.cli import main
from glyms_b24_pipeline.runs.instance import QUEUE_DAEMON, daemon_is_live, open_instance
from glyms_b24_pipeline.runs.launch import CODE_LOCATION_NAME, LAUNCHED_BY_TAG, launch
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline.sync.failures import EXIT_CODE_KEY
from glyms_b24_pipeline.sync.jobs import WRITER_TAG_KEY, portal_identity
from glyms_b24_pipeline_tests.processes import stop_process_group

REPO = Path(__file__).resolve().parents[2]
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
#: the tag by which Dagster's UI lists the runs of a job (set from the run's origin)
UI_REPOSITORY_TAG = ".dagster/repository"


def test_a_daemon_counts_as_live_only_while_its_queue_beats(pg_dagster_home):
    with open_instance() as instance:
        assert not daemon_is_live(instance)
        instance.add_daemon_heartbeat(DaemonHeartbeat(time.time() - 600, QUEUE_DAEMON, "old", None))
        assert not daemon_is_live(instance)
        instance.add_daemon_heartbeat(DaemonHeartbeat(time.time(), QUEUE_DAEMON, "new", None))
        assert daemon_is_live(instance)


def test_without_a_daemon_the_run_executes_here_and_its_outcome_comes_from_run_storage(emulator, pg_dagster_home,
                                                                                       monkeypatch):
    monkeypatch.setenv("GLYMS_PG_DSN", "postgresql://glyms:s3cr3t@127.0.0.1:1/glyms")
    monkeypatch.setenv("B24_WEBHOOK_URL", emulator.add_webhook(user_id=1))
    with open_instance() as instance:
        outcome = launch(instance, "services_sync", QUIET, {"glyms_b24/test": "yes"})
        run = instance.get_run_by_id(outcome.run_id)
    assert (outcome.executed_by, outcome.status, outcome.success) == ("in-process", "FAILURE", False)
    failure = outcome.step_failures[0]
    assert failure.description.startswith("cannot connect to the Glyms database 127.0.0.1:1/glyms")
    assert failure.metadata[EXIT_CODE_KEY] == 2 and "s3cr3t" not in failure.description
    assert run is not None and run.tags[LAUNCHED_BY_TAG] == "cli" and run.tags["glyms_b24/test"] == "yes"
    assert run.tags[WRITER_TAG_KEY] == portal_identity(emulator.portal_url)
    # created from the code location, as the UI creates a run: the UI lists it under its job
    assert run.remote_job_origin is not None
    label = run.remote_job_origin.repository_origin.get_label()
    assert label == f"__repository__@{CODE_LOCATION_NAME}"
    with open_instance() as instance:
        listed = instance.get_runs(filters=dg.RunsFilter(job_name="services_sync", tags={UI_REPOSITORY_TAG: label}))
    assert [r.run_id for r in listed] == [outcome.run_id]


@pytest.mark.slow
def test_with_a_daemon_serving_the_instance_the_cli_run_goes_through_its_queue(glyms_dsn, emulator, pg_dagster_home,
                                                                               monkeypatch, capsys, tmp_path):
    seed_glyms(glyms_dsn, services=25, customers=0, seed=6)
    monkeypatch.setenv("GLYMS_PG_DSN", glyms_dsn)
    monkeypatch.setenv("B24_WEBHOOK_URL", emulator.add_webhook(user_id=1))
    monkeypatch.delenv("GLYMS_B24_CONFIG", raising=False)
    log = open(tmp_path / "daemon.log", "w")
    daemon = subprocess.Popen([str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", "workspace.yaml"],
                              cwd=REPO, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        with open_instance() as instance:
            deadline = time.monotonic() + 120
            while not daemon_is_live(instance):
                assert daemon.poll() is None and time.monotonic() < deadline, (tmp_path / "daemon.log").read_text()[-3000:]
                time.sleep(1)
        assert main(["sync", "--type", "services"]) in (0, 1)  # 1: the seed's invalid rows warn
        out = capsys.readouterr().out
        assert "en cola del daemon" in out and "servicios escritos, 0 fallidos" in out
        assert len(emulator.services(iblock_id=24)) > 15
        with open_instance() as instance:
            run = instance.get_runs(filters=dg.RunsFilter(job_name="services_sync"))[0]
            kinds = {entry.dagster_event.event_type for entry in instance.all_logs(run.run_id) if entry.dagster_event}
        assert run.status == dg.DagsterRunStatus.SUCCESS and run.tags[LAUNCHED_BY_TAG] == "cli"
        # queued, then launched by the daemon through the code server (the UI's path), not executed here
        assert {dg.DagsterEventType.RUN_ENQUEUED, dg.DagsterEventType.RUN_STARTING} <= kinds
        assert ".dagster/grpc_info" in run.tags  # set by the DefaultRunLauncher
        assert run.run_id in out
    finally:
        stop_process_group(daemon)
        log.close()
