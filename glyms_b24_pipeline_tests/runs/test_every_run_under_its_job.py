"""Every run, whatever started it, is listed under its job in Dagster's UI with its verdict (slow).

One instance in PostgreSQL, the real daemon and webserver. Runs are started by: ``glyms-b24 sync``
without a daemon and through the daemon's queue, ``dagster asset materialize``, the UI's
launchpad (GraphQL ``launchRun``), the change-log sensor and the full_sync schedule. Each is then
found through GraphQL ``pipelineOrError(...).runs``, as the job's Runs tab finds it, with the
``glyms_b24/outcome`` tag.
"""

import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
import requests

from glyms_b24_pipeline.runs.instance import daemon_is_live, open_instance
from glyms_b24_pipeline.runs.launch import CODE_LOCATION_NAME
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline.sync.outcome import COUNTS_TAG, OUTCOME_TAG
from glyms_b24_pipeline_tests.cli.conftest import CLI, clean_env
from glyms_b24_pipeline_tests.processes import stop_process_group
from glyms_b24_pipeline_tests.test_ui import _free_port

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

JOB_RUNS = """query ($job: String!, $location: String!) {
  pipelineOrError(params: {pipelineName: $job, repositoryName: "__repository__", repositoryLocationName: $location}) {
    __typename ... on Pipeline { runs { runId status tags { key value } } } } }"""
LAUNCH = """mutation ($location: String!) {
  launchRun(executionParams: {selector: {repositoryLocationName: $location, repositoryName: "__repository__",
                                         pipelineName: "services_sync"},
                              runConfigData: "{}"}) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""


def _wait(what, predicate, timeout=180, every=1.0, missing=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what} {missing()}")


def _start(args, env, log):
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_runs_started_in_every_way_are_listed_under_their_job_with_their_verdict(glyms_dsn, portal, dagster_home,
                                                                                 tmp_path):
    seed_glyms(glyms_dsn, services=12, customers=4, seed=3)
    config = tmp_path / "glyms_b24.yaml"
    # the schedule ticks every minute here, so that its run comes during the test
    config.write_text("schedules:\n  full_sync_cron: '* * * * *'\n")
    env = clean_env(GLYMS_PG_DSN=glyms_dsn, B24_WEBHOOK_URL=portal.add_webhook(user_id=1),
                    DAGSTER_HOME=str(dagster_home), GLYMS_B24_CONFIG=str(config))
    started: dict[str, tuple[str, str]] = {}  # how -> (job, run id)

    def cli(*args):
        result = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
        assert result.returncode in (0, 1), result.stdout + result.stderr
        return result.stdout

    def newest_run(job, exclude=()):
        with open_instance(dagster_home) as instance:
            runs = [r for r in instance.get_runs() if r.job_name == job and r.run_id not in exclude]
        return runs[0].run_id if runs else None

    out = cli("sync", "--type", "services")
    assert "en cola del daemon" not in out
    started["cli, no daemon"] = ("services_sync", newest_run("services_sync"))

    materialize = subprocess.run([str(BIN / "dagster"), "asset", "materialize", "-m", "glyms_b24_pipeline.definitions",
                                  "--select", "glyms/services"], env=env, capture_output=True, text=True, timeout=300,
                                 cwd=REPO)
    assert materialize.returncode == 0, materialize.stdout[-2000:] + materialize.stderr[-2000:]
    started["dagster asset materialize"] = ("__ASSET_JOB", newest_run("__ASSET_JOB"))

    logs = open(tmp_path / "services.log", "w")
    port = _free_port()
    daemon = _start([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], env, logs)
    webserver = _start([str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                       env, logs)
    graphql = f"http://127.0.0.1:{port}/graphql"

    def ask(query, **variables):
        answer = requests.post(graphql, json={"query": query, "variables": variables}, timeout=60).json()
        assert "errors" not in answer, answer
        return answer["data"]

    try:
        with open_instance(dagster_home) as instance:
            _wait("the daemon", lambda: daemon_is_live(instance))

        def ui_up():
            try:
                return requests.get(f"http://127.0.0.1:{port}/server_info", timeout=5).ok
            except requests.ConnectionError:
                return False

        _wait("the webserver", ui_up)

        out = cli("sync", "--type", "services")
        assert "en cola del daemon" in out
        started["cli, through the daemon"] = ("services_sync", re.search(r"([0-9a-f-]{36}): en cola", out).group(1))

        launched = ask(LAUNCH, location=CODE_LOCATION_NAME)["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        started["the UI's launchpad"] = ("services_sync", launched["run"]["runId"])

        before = {run_id for _, run_id in started.values()}
        with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:  # a change the triggers log
            cur.execute("UPDATE public.cliente SET razon_social = razon_social || ' SA' "
                        "WHERE id_cliente = (SELECT min(id_cliente) FROM public.cliente)")
        started["the change-log sensor"] = ("companies_sync",
                                            _wait("the sensor's run", lambda: newest_run("companies_sync", before)))
        started["the full_sync schedule"] = ("full_sync", _wait("the schedule's run", lambda: newest_run("full_sync"),
                                                                timeout=150))

        listed: dict = {}

        def listed_with_verdict():
            listed.clear()
            for how, (job, run_id) in started.items():
                data = ask(JOB_RUNS, job=job, location=CODE_LOCATION_NAME)["pipelineOrError"]
                assert data["__typename"] == "Pipeline", (how, data)
                runs = {run["runId"]: {t["key"]: t["value"] for t in run["tags"]} for run in data["runs"]}
                if run_id in runs and OUTCOME_TAG in runs[run_id]:
                    listed[how] = runs[run_id]
            return listed if len(listed) == len(started) else None

        _wait("every run listed with its verdict", listed_with_verdict, timeout=240, every=3,
              missing=lambda: {how: started[how] for how in set(started) - set(listed)})
    finally:
        stop_process_group(webserver)
        stop_process_group(daemon)
        logs.close()
    for how, tags in listed.items():
        assert tags[OUTCOME_TAG] in ("done", "done with problems"), (how, tags)
        assert tags[COUNTS_TAG].startswith("written "), (how, tags)
