"""The deployment of `deploy/` end to end: PostgreSQL storage, a code server, the daemon and the UI."""

import subprocess
import sys
import time
from datetime import datetime

import pytest

from glyms_b24_pipeline.sandbox.deployment import LocalDeployment
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline.sync.jobs import portal_identity
from glyms_b24_pipeline_tests.defs.companies.conftest import add_customer, by_origin

pytestmark = pytest.mark.slow

RUNS = """query ($job: String!) { runsOrError(filter: {pipelineName: $job}) {
  ... on Runs { results { runId status startTime endTime tags { key value } } } } }"""
PUSH = """{ assetOrError(assetKey: {path: ["bitrix24", "companies_push"]}) {
  ... on Asset { assetMaterializations(limit: 1) { runId metadataEntries { label ... on IntMetadataEntry { intValue } } } } } }"""


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_sensor_launches_the_companies_run_and_the_queue_serialises_writers(glyms_dsn, portal, dagster_pg_url,
                                                                                 tmp_path):
    seed_glyms(glyms_dsn, services=40, customers=0, seed=31)
    env = {"GLYMS_PG_DSN": glyms_dsn, "B24_WEBHOOK_URL": portal.add_webhook(user_id=1), "DAGSTER_PG_URL": dagster_pg_url}
    deployment = LocalDeployment(tmp_path / "deployment", env)
    with deployment:
        customers = [add_customer(glyms_dsn, codigo=f"E{n}", razon_social=f"Empresa {n}") for n in range(5)]
        edited_at = time.monotonic()
        arrived = _wait(lambda: len(by_origin(portal)) == 5, 150, "the sensor's run to create the companies")
        assert sorted(by_origin(portal)) == sorted(map(str, customers))
        assert arrived - edited_at < 90

        def finished():
            runs = deployment.graphql(RUNS, {"job": "companies_sync"})["runsOrError"]["results"]
            return runs and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs)

        _wait(finished, 60, "the companies run to finish")
        runs = deployment.graphql(RUNS, {"job": "companies_sync"})["runsOrError"]["results"]
        assert [r["status"] for r in runs] == ["SUCCESS"]  # one run: the sensor never launched the work twice
        sensor_run = runs[0]
        tags = {t["key"]: t["value"] for t in sensor_run["tags"]}
        assert tags["dagster/sensor_name"] == "companies_pending_log_sensor" and tags["glyms_b24/bitrix24"] == portal_identity(portal.portal_url)
        push = deployment.graphql(PUSH)["assetOrError"]["assetMaterializations"][0]
        assert push["runId"] == sensor_run["runId"]
        assert {e["label"]: e.get("intValue") for e in push["metadataEntries"]}["succeeded"] == 5

        # two syncs started together go through the daemon's queue, one writer at a time
        cli = [sys.executable, "-m", "glyms_b24_pipeline.cli", "sync", "--type", "services"]
        started = [subprocess.Popen(cli, env=deployment._environment(), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [p.communicate(timeout=240) for p in started]
        assert all("en cola del daemon" in out for out, _ in outputs), outputs  # Spanish: the default
        services_runs = deployment.graphql(RUNS, {"job": "services_sync"})["runsOrError"]["results"]
        assert [r["status"] for r in services_runs] == ["SUCCESS", "SUCCESS"]
        first, second = sorted(services_runs, key=lambda r: r["startTime"])
        assert first["endTime"] <= second["startTime"], (
            f"{datetime.fromtimestamp(first['endTime'])} > {datetime.fromtimestamp(second['startTime'])}")
        assert len({s["xmlId"] for s in portal.services(iblock_id=24)}) == len(portal.services(iblock_id=24))
    codes = deployment.stop()
    assert all(code is not None for code in codes.values()), codes
