"""Customers -> Bitrix24 companies: the change-log consumer, its sensor, and the weekly reconciliation."""

from typing import Mapping

import dagster as dg

from glyms_b24_pipeline.defs.companies.sensor import companies_pending_log_sensor
from glyms_b24_pipeline.defs.companies.spec import SYNC
from glyms_b24_pipeline.settings.model import ScheduleSettings
from glyms_b24_pipeline.sync.jobs import BITRIX24_WRITER_TAG, sync_jobs
from glyms_b24_pipeline.sync.spec import SyncSpec


def definitions(schedules: ScheduleSettings, spec: SyncSpec = SYNC,
                tags: Mapping[str, str] = BITRIX24_WRITER_TAG) -> dg.Definitions:
    """The consumer's and the reconciliation's assets and jobs, the pending-log sensor, the weekly schedule
    (``spec``: ``SYNC`` as located in this code location)."""
    assert spec.reconcile is not None
    jobs = sync_jobs(spec, tags)
    return dg.Definitions(
        assets=[*spec.assets, *spec.reconcile.assets],
        jobs=jobs,
        schedules=[dg.ScheduleDefinition(
            name="companies_reconcile_weekly",
            job=next(job for job in jobs if job.name == spec.reconcile.job_name),
            cron_schedule=schedules.reconcile_cron,
            execution_timezone=schedules.timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="Every customer against every company (schedules.reconcile_cron).",
        )],
        sensors=[companies_pending_log_sensor],
    )


__all__ = ["SYNC", "definitions"]
