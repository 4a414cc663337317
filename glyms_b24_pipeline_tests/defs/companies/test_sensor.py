"""The pending-log sensor, evaluated with Dagster's build contexts against a real database and instance."""

import json

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRun

from glyms_b24_pipeline.defs.companies.changelog import ChangeLog
from glyms_b24_pipeline.defs.companies.sensor import companies_pending_log_sensor
from glyms_b24_pipeline.settings.resource import SyncSettings

from .conftest import add_customer, sql


def tick(dsn, instance, config, cursor=None):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources={
            "change_log": ChangeLog(dsn=dsn), "sync_settings": SyncSettings(config_file=str(config))}) as context:
        result = companies_pending_log_sensor(context)
        return result, context.cursor


def settings(tmp_path, min_pending=1, max_age=30):
    path = tmp_path / "glyms_b24.yaml"
    path.write_text(f"companies:\n  sensor:\n    min_pending: {min_pending}\n    max_age_seconds: {max_age}\n")
    return path


def test_nothing_pending_launches_nothing(glyms_dsn, tmp_path):
    with dg.instance_for_test() as instance:
        result, _ = tick(glyms_dsn, instance, settings(tmp_path))
    assert isinstance(result, dg.SkipReason) and result.skip_message.startswith("nothing pending")


def test_the_count_threshold_and_the_age_threshold_each_launch_a_run(glyms_dsn, tmp_path):
    config = settings(tmp_path, min_pending=3, max_age=600)
    with dg.instance_for_test() as instance:
        add_customer(glyms_dsn, codigo="A")
        add_customer(glyms_dsn, codigo="B")
        skipped, _ = tick(glyms_dsn, instance, config)
        assert isinstance(skipped, dg.SkipReason) and "2 pending rows (< companies.sensor.min_pending 3)" in \
            skipped.skip_message
        add_customer(glyms_dsn, codigo="C")
        launched, cursor = tick(glyms_dsn, instance, config)
        assert isinstance(launched, dg.RunRequest) and launched.tags["glyms_b24/pending_rows"] == "3"
        last = sql(glyms_dsn, "SELECT max(log_id) FROM f_cliente.sync_log_bitrix24")[0][0]
        assert launched.run_key == f"log-{last}-try-1" and json.loads(cursor)["last_log_id"] == last

        sql(glyms_dsn, "UPDATE f_cliente.sync_log_bitrix24 SET change_timestamp = now() - interval '20 minutes'")
        sql(glyms_dsn, "DELETE FROM f_cliente.sync_log_bitrix24 WHERE log_id <> %s", (last,))
        aged, _ = tick(glyms_dsn, instance, config)
        assert isinstance(aged, dg.RunRequest)  # one row, but it has waited longer than max_age_seconds


def test_the_same_work_is_not_launched_twice_and_a_retry_backs_off(glyms_dsn, tmp_path):
    config = settings(tmp_path)
    with dg.instance_for_test() as instance:
        add_customer(glyms_dsn)
        first, cursor = tick(glyms_dsn, instance, config)
        # the run ended and left the rows pending (e.g. the portal refused the credentials)
        again, same_cursor = tick(glyms_dsn, instance, config, cursor)
        assert isinstance(again, dg.SkipReason) and "next try in" in again.skip_message and same_cursor == cursor
        state = json.loads(cursor)
        state["launched_at"] -= 31
        retry, _ = tick(glyms_dsn, instance, config, json.dumps(state))
        assert isinstance(retry, dg.RunRequest) and retry.run_key != first.run_key and retry.run_key.endswith("try-2")
        add_customer(glyms_dsn, codigo="NEW")  # new work: launched at once, with its own key
        fresh, _ = tick(glyms_dsn, instance, config, cursor)
        assert isinstance(fresh, dg.RunRequest) and fresh.run_key.endswith("try-1")


def test_a_companies_run_in_flight_makes_the_sensor_wait(glyms_dsn, tmp_path):
    config = settings(tmp_path)
    with dg.instance_for_test() as instance:
        add_customer(glyms_dsn)
        run = instance.add_run(DagsterRun(job_name="full_sync", run_id="a" * 8 + "-0000-0000-0000-" + "0" * 12,
                                          status=dg.DagsterRunStatus.STARTED))
        waiting, _ = tick(glyms_dsn, instance, config)
        assert isinstance(waiting, dg.SkipReason)
        assert waiting.skip_message.startswith(f"a companies run is already queued or running ({run.run_id})")
        instance.report_run_failed(run)
        assert isinstance(tick(glyms_dsn, instance, config)[0], dg.RunRequest)


@pytest.mark.slow
def test_the_sensor_query_reads_only_the_pending_index_among_a_million_processed_rows(glyms_dsn):
    sql(glyms_dsn, "INSERT INTO f_cliente.sync_log_bitrix24 (id_cliente, operation_type, sync_status) "
                   "SELECT g % 5000, 'UPDATE', 'PROCESSED' FROM generate_series(1, 1000000) g")
    add_customer(glyms_dsn)
    sql(glyms_dsn, "ANALYZE f_cliente.sync_log_bitrix24")
    from glyms_b24_pipeline.glyms.sql_files import read_sql

    plan = sql(glyms_dsn, "EXPLAIN (FORMAT JSON) " + read_sql("queries/change_log_due.sql"))[0][0]
    text = json.dumps(plan)
    assert "ix_sync_log_bitrix24_pending" in text and "Seq Scan" not in text
