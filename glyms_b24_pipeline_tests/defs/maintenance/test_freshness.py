"""Freshness: the push asset's check fails when the last successful push is older than the limit."""

import datetime as dt
import time

import dagster as dg

from glyms_b24_pipeline.definitions import build_definitions
from glyms_b24_pipeline.defs.maintenance.freshness import freshness_checks, freshness_sensor
from glyms_b24_pipeline.defs.services.assets import SERVICES_PUSH
from glyms_b24_pipeline.runs.instance import open_instance


def _evaluate(defs: dg.Definitions, instance: dg.DagsterInstance) -> dict[str, bool]:
    """Run the freshness checks as the sensor's runs do; check key -> passed."""
    job = dg.Definitions.merge(defs, dg.Definitions(jobs=[dg.define_asset_job(
        "check_freshness", selection=dg.AssetSelection.checks(*[c for c in defs.asset_checks or []
                                                                 if "freshness_check" in str(c.check_keys)]))])
    ).resolve_job_def("check_freshness")
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e.passed for e in result.get_asset_check_evaluations()}


def test_the_code_location_check_fails_before_any_push_and_passes_after_one(pg_dagster_home, monkeypatch):
    monkeypatch.delenv("GLYMS_B24_CONFIG", raising=False)
    defs = build_definitions()
    with open_instance(pg_dagster_home) as instance:
        assert _evaluate(defs, instance) == {"bitrix24/services_push:freshness_check": False,
                                             "bitrix24/companies_push:freshness_check": False}
        instance.report_runless_asset_event(dg.AssetMaterialization(SERVICES_PUSH))
        assert _evaluate(defs, instance) == {"bitrix24/services_push:freshness_check": True,
                                             "bitrix24/companies_push:freshness_check": False}


def test_a_push_older_than_the_limit_fails_the_check_and_a_new_one_passes(pg_dagster_home):
    other = dg.AssetKey(["bitrix24", "companies_push"])  # any push asset the factory is given
    checks = freshness_checks([SERVICES_PUSH, other], dt.timedelta(seconds=3))
    defs = dg.Definitions(assets=[dg.AssetSpec(SERVICES_PUSH), dg.AssetSpec(other)], asset_checks=checks,
                          sensors=[freshness_sensor(checks)])
    with open_instance(pg_dagster_home) as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(SERVICES_PUSH))
        instance.report_runless_asset_event(dg.AssetMaterialization(other))
        assert _evaluate(defs, instance) == {"bitrix24/services_push:freshness_check": True,
                                             "bitrix24/companies_push:freshness_check": True}
        time.sleep(3.5)
        instance.report_runless_asset_event(dg.AssetMaterialization(other))
        assert _evaluate(defs, instance) == {"bitrix24/services_push:freshness_check": False,
                                             "bitrix24/companies_push:freshness_check": True}
