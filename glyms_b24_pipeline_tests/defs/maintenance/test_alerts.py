"""Alerts: one message when a sync starts failing, one when it recovers, on every configured channel."""

import dagster as dg
from dagster._core.events import DagsterEventType

from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.defs.maintenance.alerts import AlertChannels, alert_sensors
from glyms_b24_pipeline.runs.instance import open_instance
from glyms_b24_pipeline.settings.model import load_settings
from glyms_b24_pipeline.settings.resource import SyncSettings


def _evaluate(sensors, instance, run, resources):
    """What the daemon does for one finished run: the matching sensor sees its status event."""
    failure_sensor, recovery_sensor = sensors
    failed = run.status == dg.DagsterRunStatus.FAILURE
    event_type = DagsterEventType.RUN_FAILURE if failed else DagsterEventType.RUN_SUCCESS
    event = instance.all_logs(run.run_id, of_type=event_type)[-1].dagster_event
    sensor = failure_sensor if failed else recovery_sensor
    context = dg.build_run_status_sensor_context(sensor_name=sensor.name, dagster_event=event, dagster_instance=instance,
                                                 dagster_run=run, resources=resources)
    context = context.for_run_failure() if failed else context
    with context:  # the Bitrix24 resource is opened and closed like in the daemon
        return sensor(context)


def test_one_message_per_change_of_state_on_log_email_and_bitrix24(
        emulator, smtp_server, write_settings, run_flaky, caplog, pg_dagster_home):
    settings_file = write_settings(f"""
alerts:
  channels: [log, email, bitrix24]
  email: {{smtp_host: 127.0.0.1, smtp_port: {smtp_server.port}, from: glyms@lab.example, to: [ops@lab.example, jefe@lab.example], starttls: false}}
  bitrix24_user_id: 7
""")
    assert load_settings(settings_file).alerts.bitrix24_user_id == 7
    resources = {"sync_settings": SyncSettings(config_file=str(settings_file)),
                 "bitrix24": Bitrix24Resource(webhook_url=emulator.add_webhook(user_id=1)),
                 "alert_channels": AlertChannels()}
    sensors = alert_sensors(["flaky_sync"])
    with open_instance(pg_dagster_home) as instance:
        outcomes = [(fail, _evaluate(sensors, instance, run_flaky(instance, fail), resources))
                    for fail in (True, True, False, False, True)]
        runs = [run.run_id for run in reversed(instance.get_runs())]

    # failing (1st), quiet (2nd failure), recovered (3rd), quiet (4th), failing again (5th)
    notified = emulator.notifications()
    assert [n["user_id"] for n in notified] == [7, 7, 7]
    first, recovered, again = (n["message"] for n in notified)
    assert first == (f"glyms-b24: flaky_sync falla desde la ejecución {runs[0]} (is failing): cannot connect to the "
                     "Glyms database 127.0.0.1:1/glyms: Connection refused")
    assert recovered == f"glyms-b24: flaky_sync se recuperó en la ejecución {runs[2]} (recovered); la última falla fue {runs[1]}"
    assert runs[4] in again and "Connection refused" in again

    mails = smtp_server.inbox.messages
    assert [m["Subject"] for m in mails] == ["[glyms-b24] flaky_sync: FALLA (failing)",
                                            "[glyms-b24] flaky_sync: se recuperó (recovered)",
                                            "[glyms-b24] flaky_sync: FALLA (failing)"]
    assert mails[0]["To"] == "ops@lab.example, jefe@lab.example"
    assert f"Run: {runs[0]}" in mails[0].get_content() and "Connection refused" in mails[0].get_content()
    assert [r.getMessage() for r in caplog.records if r.name.endswith("alerts")] == [first, recovered, again]
    assert [type(o).__name__ for _, o in outcomes] == ["NoneType", "SkipReason", "NoneType", "SkipReason", "NoneType"]


def test_other_jobs_are_not_alerted_and_a_dead_channel_does_not_silence_the_others(
        emulator, write_settings, run_flaky, pg_dagster_home):
    settings_file = write_settings("""
alerts:
  channels: [email, bitrix24]
  email: {smtp_host: 127.0.0.1, smtp_port: 1, from: glyms@lab.example, to: [ops@lab.example], starttls: false, timeout_seconds: 2}
""")
    resources = {"sync_settings": SyncSettings(config_file=str(settings_file)),
                 "bitrix24": Bitrix24Resource(webhook_url=emulator.add_webhook(user_id=1)),
                 "alert_channels": AlertChannels(smtp_password="s3cr3t")}
    with open_instance(pg_dagster_home) as instance:
        failed = run_flaky(instance, True)
        skipped = _evaluate(alert_sensors(["services_sync"]), instance, failed, resources)
        assert isinstance(skipped, dg.SkipReason) and emulator.notifications() == []
        _evaluate(alert_sensors(["flaky_sync"]), instance, failed, resources)
    # the SMTP server is down: the Bitrix24 notification still went out
    assert len(emulator.notifications()) == 1
    assert "s3cr3t" not in repr(resources["alert_channels"])


def test_email_channel_without_its_settings_is_a_config_error(write_settings):
    import pytest

    from glyms_b24_pipeline.settings.errors import ConfigError

    with pytest.raises(ConfigError, match="channel email needs alerts.email.smtp_host, alerts.email.from, alerts.email.to"):
        load_settings(write_settings("alerts:\n  channels: [log, email]\n"))
