"""A `glyms-b24 sync` killed with SIGKILL is failed, with the reason, by the next writer."""

import os
import signal
import subprocess
import sys
import time

import dagster as dg
import pytest

from bitrix24_emulator import Fault
from glyms_b24_pipeline.cli import main
from glyms_b24_pipeline.runs.instance import open_instance
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline.sync.liveness import LIVENESS_TAG, reap_dead_runs


def _wait_for_started_run(instance: dg.DagsterInstance, timeout: float = 90) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        if runs and LIVENESS_TAG in runs[0].tags:
            return runs[0]
        time.sleep(0.3)
    raise AssertionError("the sync never started")


@pytest.mark.slow
@pytest.mark.parametrize("next_writer", ["cli", "run"])
def test_a_killed_sync_is_reported_failed_by_the_next_one_and_frees_the_writer_slot(
        next_writer, glyms_dsn, emulator, pg_dagster_home, monkeypatch, capsys):
    """The next writer: `glyms-b24 sync` before it launches, or any run when it takes the portal lock."""
    seed_glyms(glyms_dsn, services=20, customers=0, seed=4)
    monkeypatch.setenv("GLYMS_PG_DSN", glyms_dsn)
    monkeypatch.setenv("B24_WEBHOOK_URL", emulator.add_webhook(user_id=1))
    monkeypatch.delenv("GLYMS_B24_CONFIG", raising=False)
    # the first sync hangs on its first catalog read, mid-run, holding the portal lock
    emulator.add_fault(Fault(kind="slow", method="catalog.product.service.list", nth=1, delay_seconds=45))
    victim = subprocess.Popen([sys.executable, "-m", "glyms_b24_pipeline.cli", "sync", "--type", "services"],
                              env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with open_instance() as instance:
            run = _wait_for_started_run(instance)
            time.sleep(1)
            # alive: nobody may fail it
            assert reap_dead_runs(instance, glyms_dsn, found_by="a test", portal_url=emulator.portal_url) == []
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
            time.sleep(0.5)
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]
    finally:
        if victim.poll() is None:
            victim.kill()

    if next_writer == "cli":
        assert main(["sync", "--type", "services"]) in (0, 1)  # 1: the seed plants services without a price
        out = capsys.readouterr().out
        assert "servicios escritos, 0 fallidos" in out
        found_by = "glyms-b24 sync"
    else:  # a run started any other way (schedule, UI) finds it when it takes the portal lock
        from glyms_b24_pipeline.definitions import build_definitions

        with open_instance() as instance:
            result = build_definitions().resolve_job_def("services_sync").execute_in_process(instance=instance)
        assert result.success
        found_by = f"run {result.run_id}"
    with open_instance() as instance:
        dead = instance.get_run_by_id(run.run_id)
        assert dead is not None and dead.status == dg.DagsterRunStatus.FAILURE
        failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[-1]
        assert failure.dagster_event.message == (  # type: ignore[union-attr]
            f"the process of this run died; reported failed by {found_by}")
        # no run of the writer tag is left holding the queue's single slot
        assert instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])) == []
