"""Several code locations in one instance: each one's sensor, alerts, retention and dead-run check see
their own location's (or portal's) runs only; a single-portal installation still sees every run."""

import datetime as _dt
import time
import uuid

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRun

from glyms_b24_pipeline.defs.companies.changelog import ChangeLog
from glyms_b24_pipeline.defs.companies.sensor import companies_pending_log_sensor
from glyms_b24_pipeline.defs.maintenance.alerts import FAILING, status_change
from glyms_b24_pipeline.defs.maintenance.retention import prune_runs
from glyms_b24_pipeline.settings.model import SINGLE_PORTAL, LocationSettings
from glyms_b24_pipeline.settings.resource import SyncSettings
from glyms_b24_pipeline.sync.jobs import REPOSITORY_LABEL_TAG, WRITER_TAG_KEY
from glyms_b24_pipeline.sync.liveness import LIVENESS_TAG, reap_dead_runs
from glyms_b24_pipeline_tests.defs.companies.conftest import add_customer

PORTAL_A, PORTAL_B = LocationSettings(name="portal_a"), LocationSettings(name="portal_b")


def _run(instance, job, location, status, **tags):
    time.sleep(0.01)  # distinct creation times: "the previous run" is by creation
    label = {REPOSITORY_LABEL_TAG: f"__repository__@{location.location_name}"}
    return instance.add_run(DagsterRun(job_name=job, run_id=str(uuid.uuid4()), status=status, tags={**label, **tags}))


def test_the_sensor_waits_for_its_own_locations_companies_run_only(glyms_dsn, tmp_path):
    config = tmp_path / "portal_a.yaml"
    config.write_text("location: {name: portal_a}\n")

    def tick(instance):
        with dg.build_sensor_context(instance=instance, resources={
                "change_log": ChangeLog(dsn=glyms_dsn), "sync_settings": SyncSettings(config_file=str(config))}) as ctx:
            return companies_pending_log_sensor(ctx)

    with dg.instance_for_test() as instance:
        add_customer(glyms_dsn)
        other = _run(instance, "companies_sync", PORTAL_B, dg.DagsterRunStatus.STARTED)
        assert isinstance(tick(instance), dg.RunRequest)  # portal_b's run does not consume this change log
        own = _run(instance, "full_sync", PORTAL_A, dg.DagsterRunStatus.STARTED)
        waiting = tick(instance)
        assert isinstance(waiting, dg.SkipReason) and own.run_id in waiting.skip_message
        assert other.run_id not in waiting.skip_message


def test_an_alert_compares_a_run_with_the_previous_one_of_its_job_in_its_location(pg_dagster_home):
    from glyms_b24_pipeline.runs.instance import open_instance

    with open_instance() as instance:
        _run(instance, "companies_sync", PORTAL_B, dg.DagsterRunStatus.FAILURE)
        failed = _run(instance, "companies_sync", PORTAL_A, dg.DagsterRunStatus.FAILURE)
        # portal_b was already failing; portal_a starts failing now, and says which portal's job
        alert = status_change(instance, failed.run_id, PORTAL_A)
        assert alert is not None and (alert.kind, alert.job_name) == (FAILING, "portal_a/companies_sync")
        # a single-portal installation compares with every run of the job, as before
        assert status_change(instance, failed.run_id, SINGLE_PORTAL) is None


def test_a_named_location_prunes_its_own_runs_and_a_single_portal_every_run(pg_dagster_home):
    from glyms_b24_pipeline.runs.instance import open_instance

    cutoff = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(days=1)
    with open_instance() as instance:
        for location in (PORTAL_A, PORTAL_B):
            _run(instance, "services_sync", location, dg.DagsterRunStatus.SUCCESS)
        assert prune_runs(instance, cutoff, dry_run=True, location=PORTAL_A) == 1
        assert prune_runs(instance, cutoff, location=PORTAL_A) == 1
        assert [run.tags[REPOSITORY_LABEL_TAG] for run in instance.get_runs()] == ["__repository__@portal_b"]
        assert prune_runs(instance, cutoff, dry_run=True) == 1  # no location.name: every run, as before


def test_the_dead_run_check_fails_only_its_own_portals_writers(glyms_dsn, pg_dagster_home):
    from glyms_b24_pipeline.runs.instance import open_instance

    with open_instance() as instance:
        # neither has a liveness lock in this Glyms database: portal b's lives in portal b's database
        mine = _run(instance, "services_sync", PORTAL_A, dg.DagsterRunStatus.STARTED,
                    **{WRITER_TAG_KEY: "lab-a.bitrix24.es", LIVENESS_TAG: "glyms-db-session"})
        theirs = _run(instance, "services_sync", PORTAL_B, dg.DagsterRunStatus.STARTED,
                      **{WRITER_TAG_KEY: "lab-b.bitrix24.es", LIVENESS_TAG: "glyms-db-session"})
        reaped = reap_dead_runs(instance, glyms_dsn, found_by="a test", portal_url="https://lab-a.bitrix24.es/")
        assert reaped == [mine.run_id]
        assert instance.get_run_by_id(theirs.run_id).status == dg.DagsterRunStatus.STARTED
