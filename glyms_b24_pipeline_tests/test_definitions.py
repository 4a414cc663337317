"""The code location's shape: a renamed asset, group, check, job or schedule is a deliberate diff here."""

from glyms_b24_pipeline.definitions import BITRIX24_WRITER_TAG, build_definitions

ASSETS = {
    "glyms/services": "services",
    "bitrix24/catalog_services": "services",
    "sync/services_plan": "services",
    "bitrix24/services_push": "services",
}
CHECKS = {
    "glyms/services:mapping_coverage",
    "glyms/services:price_validity",
    "bitrix24/services_push:push_failures",
}
JOBS = {"services_sync"}
SCHEDULES = {"services_sync_daily": ("services_sync", "0 5 * * *", "America/Argentina/Buenos_Aires")}
SENSORS: set[str] = set()
RESOURCES = {"glyms_db", "bitrix24", "portal_writer", "sync_settings"}


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


def test_every_job_writes_as_the_one_writer_in_one_process():
    repository = build_definitions().get_repository_def()
    for job in repository.get_all_jobs():
        if job.name.startswith("__"):
            continue
        assert all(job.tags.get(key) == value for key, value in BITRIX24_WRITER_TAG.items()), job.name
        assert job.executor_def.name == "in_process", job.name
