"""The code location's shape: a renamed asset, group, check, job or schedule is a deliberate diff here."""

import pytest

from glyms_b24_pipeline.definitions import build_definitions, syncs_named
from glyms_b24_pipeline.sync.jobs import WRITER_TAG_KEY

ASSETS = {
    "glyms/services": "services",
    "bitrix24/catalog_services": "services",
    "sync/services_plan": "services",
    "bitrix24/services_push": "services",
    "glyms/pending_customer_changes": "companies",
    "bitrix24/companies": "companies",
    "sync/companies_plan": "companies",
    "bitrix24/companies_push": "companies",
    "glyms/customers": "companies",
    "bitrix24/company_directory": "companies",
    "sync/companies_reconcile_plan": "companies",
    "bitrix24/companies_reconcile_push": "companies",
}
CHECKS = {
    "glyms/services:mapping_coverage",
    "glyms/services:price_validity",
    "bitrix24/services_push:push_failures",
    "glyms/pending_customer_changes:mapping_coverage",
    "glyms/pending_customer_changes:email_validity",
    "glyms/pending_customer_changes:pending_age",
    "glyms/pending_customer_changes:rows_in_error",
    "bitrix24/companies_push:push_failures",
    "glyms/customers:mapping_coverage",
    "glyms/customers:email_validity",
    "bitrix24/company_directory:unique_origin_ids",
    "bitrix24/companies_reconcile_push:push_failures",
    "bitrix24/services_push:freshness_check",
    "bitrix24/companies_push:freshness_check",
}
JOBS = {"services_sync", "companies_sync", "companies_reconcile", "full_sync", "maintenance_prune"}
#: jobs that never write to Bitrix24: outside the writer slot
NON_WRITER_JOBS = {"maintenance_prune"}
SCHEDULES = {
    "full_sync_daily": ("full_sync", "0 5 * * *", "America/Argentina/Buenos_Aires"),
    "companies_reconcile_weekly": ("companies_reconcile", "0 6 * * 0", "America/Argentina/Buenos_Aires"),
    "maintenance_prune_daily": ("maintenance_prune", "30 3 * * *", "America/Argentina/Buenos_Aires"),
}
SENSORS = {"companies_pending_log_sensor", "sync_failure_alert", "sync_recovery_alert", "sync_freshness_checks",
           "sync_run_verdicts"}
RESOURCES = {"glyms_db", "bitrix24", "portal_writer", "change_log", "sync_settings", "alert_channels", "io_manager"}


def test_the_code_location_holds_exactly_these_definitions():
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    assert {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()} == ASSETS
    assert {f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys} == CHECKS
    repository = defs.get_repository_def()
    jobs = {job.name: job for job in repository.get_all_jobs() if not job.name.startswith("__")}
    assert set(jobs) == JOBS
    assert {s.name: (s.job_name, s.cron_schedule, s.execution_timezone) for s in repository.schedule_defs} == SCHEDULES
    assert {s.name for s in repository.sensor_defs} == SENSORS
    assert set(defs.resources or {}) == RESOURCES


@pytest.mark.parametrize("variable, url, slot", [
    ("B24_PORTAL_URL", "https://Lab-A.bitrix24.es", "lab-a.bitrix24.es"),
    ("B24_WEBHOOK_URL", "http://127.0.0.1:8123/rest/1/s3cr3t/", "127.0.0.1:8123"),
])
def test_every_job_writes_as_the_one_writer_of_its_portal_in_one_process(monkeypatch, variable, url, slot):
    monkeypatch.delenv("B24_WEBHOOK_URL", raising=False)
    monkeypatch.setenv(variable, url)
    repository = build_definitions().get_repository_def()
    for job in repository.get_all_jobs():
        if job.name.startswith("__") or job.name in NON_WRITER_JOBS:
            assert WRITER_TAG_KEY not in job.tags, job.name
            continue
        # the queue's writer slot is the portal's (its host, never the webhook's secret path)
        assert job.tags[WRITER_TAG_KEY] == slot, job.name
        assert job.executor_def.name == "in_process", job.name


def _names(defs):
    graph = defs.resolve_asset_graph()
    repository = defs.get_repository_def()
    return ({key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()},
            {f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys},
            {job.name for job in repository.get_all_jobs() if not job.name.startswith("__")},
            {s.name: (s.job_name, s.cron_schedule, s.execution_timezone) for s in repository.schedule_defs},
            {s.name for s in repository.sensor_defs})


def test_without_location_name_an_upgraded_installation_keeps_todays_names(tmp_path, monkeypatch):
    # a settings file of before (no location section) and one that leaves the name empty
    for text in ("services: {iblock_id: 24}\n", "location: {name: ''}\n"):
        (tmp_path / "glyms_b24.yaml").write_text(text)
        monkeypatch.setenv("GLYMS_B24_CONFIG", str(tmp_path / "glyms_b24.yaml"))
        assert _names(build_definitions()) == (ASSETS, CHECKS, JOBS, SCHEDULES, SENSORS)
    assert [spec.push_key.to_user_string() for spec in syncs_named()] == ["bitrix24/services_push",
                                                                           "bitrix24/companies_push"]


def test_a_named_location_prefixes_every_asset_key_and_keeps_every_other_name(tmp_path, monkeypatch):
    (tmp_path / "glyms_b24.yaml").write_text("location: {name: portal_a}\n")
    monkeypatch.setenv("GLYMS_B24_CONFIG", str(tmp_path / "glyms_b24.yaml"))
    assets, checks, jobs, schedules, sensors = _names(build_definitions())
    assert assets == {f"portal_a/{key}": group for key, group in ASSETS.items()}
    assert checks == {f"portal_a/{check}" for check in CHECKS}
    # jobs, schedules and sensors are scoped by their code location in Dagster: their names stay
    assert (jobs, schedules, sensors) == (JOBS, SCHEDULES, SENSORS)
    services, companies = syncs_named(None, ("portal_a",))
    assert services.push_key.to_user_string() == "portal_a/bitrix24/services_push"
    assert services.push_op == "bitrix24__services_push"  # the op keeps its name: run config is unchanged
    assert companies.reconcile_spec.plan_key.to_user_string() == "portal_a/sync/companies_reconcile_plan"


def test_values_between_steps_go_through_files_also_when_the_cli_runs_a_job_in_process():
    import dagster as dg

    # execute_in_process (a test's run, say) replaces only a *default* io_manager with the in-memory one,
    # which keeps every step's value to the end of the run; a named one is used wherever the job runs
    assert isinstance((build_definitions().resources or {})["io_manager"], dg.FilesystemIOManager)


def test_the_code_location_is_the_merge_of_its_domains():
    from glyms_b24_pipeline.definitions import SYNCS
    from glyms_b24_pipeline.defs import companies, services
    from glyms_b24_pipeline.defs.companies.spec import SYNC as COMPANIES
    from glyms_b24_pipeline.defs.services.spec import SYNC as SERVICES
    from glyms_b24_pipeline.settings.model import Settings

    assert SYNCS == (SERVICES, COMPANIES)  # the order `--type all` and full_sync run them
    by_domain = {name: {key.to_user_string() for asset in defs.assets or () for key in asset.keys}
                 for name, defs in (("services", services.definitions()),
                                    ("companies", companies.definitions(Settings().schedules)))}
    assert by_domain == {group: {k for k, g in ASSETS.items() if g == group} for group in ("services", "companies")}


def test_dg_lists_the_definitions_of_the_project_layout(tmp_path):
    """``dg list defs`` from the checkout ([tool.dg] in pyproject.toml) loads the same code location."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "dagster.yaml").touch()
    venv = Path(sys.executable).parent.parent
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "VIRTUAL_ENV": str(venv)}
    done = subprocess.run([str(venv / "bin" / "dg"), "list", "defs", "--json"], cwd=Path(__file__).resolve().parents[1],
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    listed = json.loads(done.stdout)
    assert {asset["asset_key"]: asset["group_name"] for asset in listed["assets"]} == ASSETS
    assert {job["name"] for job in listed["jobs"]} >= JOBS
