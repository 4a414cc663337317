"""What an operator sees in the Dagster UI after `glyms-b24 sandbox --ui` (starts the real webserver)."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

PLAN_QUERY = """{ assetOrError(assetKey: {path: ["sync", "services_plan"]}) {
  ... on Asset { assetMaterializations(limit: 1) { runId metadataEntries { label ... on IntMetadataEntry { intValue } } } } } }"""


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
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(1)
        graphql = f"{base}/graphql"
        nodes = requests.post(graphql, json={"query": "{ assetNodes { assetKey { path } groupName } }"}, timeout=30).json()
        keys = {(tuple(n["assetKey"]["path"]), n["groupName"]) for n in nodes["data"]["assetNodes"]}
        assert {(("glyms", "services"), "services"), (("bitrix24", "catalog_services"), "services"),
                (("sync", "services_plan"), "services"), (("bitrix24", "services_push"), "services")} <= keys
        plan = requests.post(graphql, json={"query": PLAN_QUERY}, timeout=30).json()
        entries = {e["label"]: e.get("intValue") for e in
                   plan["data"]["assetOrError"]["assetMaterializations"][0]["metadataEntries"]}
        assert entries["create"] > 30 and entries["writes"] >= entries["create"]
    finally:
        os.killpg(process.pid, signal.SIGINT)  # dagster dev only stops on SIGINT
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
