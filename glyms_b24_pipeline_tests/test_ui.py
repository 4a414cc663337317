"""What an operator sees in the Dagster UI after `glyms-b24 sandbox --ui` (starts the real webserver)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from glyms_b24_pipeline_tests.processes import stop_process_group

PLAN_QUERY = """{ assetOrError(assetKey: {path: ["sync", "services_plan"]}) {
  ... on Asset { assetMaterializations(limit: 1) { runId metadataEntries { label ... on IntMetadataEntry { intValue } } } } } }"""


FULL_SYNC_RUNS = """{ pipelineOrError(params: {pipelineName: "full_sync", repositoryName: "__repository__",
  repositoryLocationName: "%s"}) { ... on Pipeline { runs { runId tags { key value } } } } }"""
LOCATIONS_QUERY = "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"


def workspace_location_name():
    """The location name of the project's workspace.yaml: the UI of the sandbox must show the same."""
    workspace = yaml.safe_load((Path(__file__).resolve().parent.parent / "workspace.yaml").read_text())
    return workspace["load_from"][0]["python_module"]["location_name"]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_sandbox_ui_shows_the_assets_and_the_plan(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("B24_", "GLYMS_", "DAGSTER_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "glyms_b24_pipeline.cli", "sandbox", "--dir", str(tmp_path), "--services", "40", "--ui",
         "--ui-port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    output = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "the sandbox ended before the UI was ready:\n" + "".join(output[-40:])
            output.append(line)
            if line.startswith("interfaz de Dagster en "):  # the sandbox speaks Spanish by default
                break
        assert output[-1].startswith(f"interfaz de Dagster en {base} ")
        # said only once it is so: the UI answers at once, no retry
        assert requests.get(f"{base}/server_info", timeout=5).ok
        graphql = f"{base}/graphql"
        nodes = requests.post(graphql, json={"query": "{ assetNodes { assetKey { path } groupName } }"}, timeout=30).json()
        keys = {(tuple(n["assetKey"]["path"]), n["groupName"]) for n in nodes["data"]["assetNodes"]}
        assert {(("glyms", "services"), "services"), (("bitrix24", "catalog_services"), "services"),
                (("sync", "services_plan"), "services"), (("bitrix24", "services_push"), "services")} <= keys
        plan = requests.post(graphql, json={"query": PLAN_QUERY}, timeout=30).json()
        entries = {e["label"]: e.get("intValue") for e in
                   plan["data"]["assetOrError"]["assetMaterializations"][0]["metadataEntries"]}
        assert entries["create"] > 30 and entries["writes"] >= entries["create"]
        locations = requests.post(graphql, json={"query": LOCATIONS_QUERY}, timeout=30).json()
        names = [entry["name"] for entry in locations["data"]["workspaceOrError"]["locationEntries"]]
        assert names == [workspace_location_name()]
        # the sandbox's run is on its job's Runs tab, with its verdict
        runs = requests.post(graphql, json={"query": FULL_SYNC_RUNS % workspace_location_name()}, timeout=30).json()
        (run,) = runs["data"]["pipelineOrError"]["runs"]
        assert {t["key"]: t["value"] for t in run["tags"]}["glyms_b24/outcome"] in ("done", "done with problems")
        assert f"set -a; . {tmp_path / 'sandbox.env'}; set +a" in "".join(output)
        assert "GLYMS_PG_DSN=" in (tmp_path / "sandbox.env").read_text()
    finally:
        os.killpg(process.pid, signal.SIGINT)  # dagster dev only stops on SIGINT
        try:
            rest, _ = process.communicate(timeout=30)
            output.append(rest)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    # run from the instance folder: no warning about a dagster.yaml beside it
    assert "Found a dagster instance configuration" not in "".join(output)


@pytest.mark.slow
def test_dagster_dev_in_a_fresh_checkout_comes_up_without_any_setting(tmp_path):
    """The first thing a Dagster user types: no DAGSTER_HOME, no DAGSTER_PG_URL, no traceback."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("B24_", "GLYMS_", "DAGSTER_"))}
    repo = Path(__file__).resolve().parent.parent
    log = tmp_path / "dev.log"
    with open(log, "w") as out:
        process = subprocess.Popen([str(Path(sys.executable).with_name("dagster")), "dev", "-h", "127.0.0.1",
                                    "-p", str(port)], cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(1)
        else:
            raise AssertionError(log.read_text()[-3000:])
        locations = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": LOCATIONS_QUERY}, timeout=30).json()
        assert [e["name"] for e in locations["data"]["workspaceOrError"]["locationEntries"]] == [workspace_location_name()]
    finally:
        stop_process_group(process)
    # the instance needs no setting (the syncs' sensors still say which variables their runs need)
    assert "DAGSTER_PG_URL" not in log.read_text() and "DagsterHomeException" not in log.read_text()
