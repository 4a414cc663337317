"""Alerts: the operator hears once when a sync starts failing and once when it recovers.

The state is the run history itself: a failed run is news only when the previous finished run
of its job succeeded (or there was none), a successful run only when the previous one failed.
So a restart of the daemon, a sensor reset or a burst of failures never repeats a message.
Channels (``alerts.channels``): the log, e-mail over SMTP, a Bitrix24 system notification.
"""


import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Optional, Sequence

import dagster as dg

from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.settings.model import SINGLE_PORTAL, AlertSettings, LocationSettings
from glyms_b24_pipeline.settings.resource import SyncSettings
from glyms_b24_pipeline.sync.jobs import location_runs_tags
from glyms_b24_pipeline.sync.outcome import RunOutcome, run_failed_reason

log = logging.getLogger(__name__)

SMTP_PASSWORD_ENV = "GLYMS_B24_SMTP_PASSWORD"
FAILING = "failing"
RECOVERED = "recovered"
FAILURE_SENSOR = "sync_failure_alert"
RECOVERY_SENSOR = "sync_recovery_alert"
MAX_CAUSE = 300


@dataclass(frozen=True)
class Alert:
    kind: str  # failing | recovered
    job_name: str
    run_id: str
    cause: str = ""
    previous_run_id: Optional[str] = None

    @property
    def subject(self) -> str:
        state = "FALLA (failing)" if self.kind == FAILING else "se recuperó (recovered)"
        return f"[glyms-b24] {self.job_name}: {state}"

    @property
    def text(self) -> str:
        """One line: job, run id, cause."""
        if self.kind == FAILING:
            return f"glyms-b24: {self.job_name} falla desde la ejecución {self.run_id} (is failing): {self.cause}"
        since = f"; la última falla fue {self.previous_run_id}" if self.previous_run_id else ""
        return f"glyms-b24: {self.job_name} se recuperó en la ejecución {self.run_id} (recovered){since}"


def status_change(instance: dg.DagsterInstance, run_id: str,
                  location: LocationSettings = SINGLE_PORTAL) -> Optional[Alert]:
    """The alert a finished run calls for, or None when its job's state did not change (in its code location)."""

    record = instance.get_run_record_by_id(run_id)
    if record is None or record.dagster_run.status not in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE):
        return None
    run = record.dagster_run
    previous = instance.get_run_records(
        filters=dg.RunsFilter(job_name=run.job_name, created_before=record.create_timestamp,
                              statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE],
                              tags=location_runs_tags(location)),
        limit=1)
    previous_run = previous[0].dagster_run if previous else None
    job = f"{location.name}/{run.job_name}" if location.name else run.job_name  # which portal's job, with several
    if run.status == dg.DagsterRunStatus.FAILURE:
        if previous_run is not None and previous_run.status == dg.DagsterRunStatus.FAILURE:
            return None
        cause = "; ".join(run_failed_reason(RunOutcome.from_storage(instance, run_id))) or "the run failed"
        cause = cause if len(cause) <= MAX_CAUSE else cause[: MAX_CAUSE - 3] + "..."
        return Alert(FAILING, job, run_id, cause=cause)
    if previous_run is not None and previous_run.status == dg.DagsterRunStatus.FAILURE:
        return Alert(RECOVERED, job, run_id, previous_run_id=previous_run.run_id)
    return None


class AlertChannels(dg.ConfigurableResource):
    """Delivers alerts to the channels of ``alerts.*`` in the settings file (SMTP password from GLYMS_B24_SMTP_PASSWORD)."""

    smtp_password: Optional[str] = None

    def __repr_args__(self):  # never show the password
        for name, value in super().__repr_args__():
            yield name, ("***" if name == "smtp_password" and value else value)

    def send(self, alert: Alert, settings: AlertSettings, bitrix24: Optional[Bitrix24Resource],
             logger: Any = None) -> dict[str, Optional[str]]:
        """Send ``alert`` on every configured channel; returns channel -> error (None when delivered)."""
        results: dict[str, Optional[str]] = {}
        for channel in dict.fromkeys(settings.channels):
            try:
                if channel == "log":
                    (log.error if alert.kind == FAILING else log.warning)(alert.text)
                    if logger is not None:
                        (logger.error if alert.kind == FAILING else logger.info)(alert.text)
                elif channel == "email":
                    self._email(alert, settings)
                elif channel == "bitrix24":
                    if bitrix24 is None:
                        raise RuntimeError("no Bitrix24 resource")
                    bitrix24.get_client().call("im.notify.system.add", {
                        "USER_ID": settings.bitrix24_user_id, "MESSAGE": alert.text,
                        "TAG": f"glyms-b24|{alert.job_name}|{alert.kind}"}, idempotent=False)
                results[channel] = None
            except Exception as exc:  # one channel down must not silence the others
                results[channel] = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
                log.error("alert not delivered by %s: %s", channel, results[channel])
                if logger is not None:
                    logger.error(f"alert not delivered by {channel}: {results[channel]}")
        return results

    def _email(self, alert: Alert, settings: AlertSettings) -> None:
        email = settings.email
        message = EmailMessage()
        message["Subject"] = alert.subject
        message["From"] = email.sender
        message["To"] = ", ".join(email.to)
        message.set_content(
            f"{alert.text}\n\nJob: {alert.job_name}\nRun: {alert.run_id}\n"
            + (f"Causa (cause): {alert.cause}\n" if alert.cause else "")
            + "\nDetalle: glyms-b24 history, o la interfaz de Dagster -> Runs.\n")
        with smtplib.SMTP(email.smtp_host, email.smtp_port, timeout=email.timeout_seconds) as smtp:
            if email.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if email.username:
                smtp.login(email.username, self.smtp_password or "")
            smtp.send_message(message)


def _notify(context: dg.RunStatusSensorContext, job_names: frozenset[str], sync_settings: SyncSettings,
            bitrix24: Bitrix24Resource, alert_channels: AlertChannels) -> Any:
    run = context.dagster_run
    if run.job_name not in job_names:
        return dg.SkipReason(f"{run.job_name} is not a sync job")
    settings = sync_settings.load()
    alert = status_change(context.instance, run.run_id, settings.location)
    if alert is None:
        return dg.SkipReason(f"{run.job_name}: no change of state")
    alert_channels.send(alert, settings.alerts, bitrix24, context.log)
    return None


def alert_sensors(job_names: Sequence[str]) -> list[dg.SensorDefinition]:
    """The two run-status sensors that alert on the jobs named ``job_names``."""
    names = frozenset(job_names)

    @dg.run_failure_sensor(name=FAILURE_SENSOR, default_status=dg.DefaultSensorStatus.RUNNING,
                           minimum_interval_seconds=30)
    def sync_failure_alert(context: dg.RunFailureSensorContext, sync_settings: SyncSettings,
                           bitrix24: Bitrix24Resource, alert_channels: AlertChannels):
        """Tells the operator (alerts.channels) when a sync job starts failing; later failures stay quiet."""
        return _notify(context, names, sync_settings, bitrix24, alert_channels)

    @dg.run_status_sensor(name=RECOVERY_SENSOR, run_status=dg.DagsterRunStatus.SUCCESS,
                          default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30)
    def sync_recovery_alert(context: dg.RunStatusSensorContext, sync_settings: SyncSettings,
                            bitrix24: Bitrix24Resource, alert_channels: AlertChannels):
        """Tells the operator (alerts.channels) when a failing sync job succeeds again."""
        return _notify(context, names, sync_settings, bitrix24, alert_channels)

    return [sync_failure_alert, sync_recovery_alert]
