"""Around the syncs: alerts when one starts failing or recovers, freshness of each push, retention of history.

``definitions(syncs)`` watches the jobs of the syncs it is given; a sync added to the list in
``definitions.py`` gets its alerts and its freshness check from here.
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import Sequence

import dagster as dg

from glyms_b24_pipeline.defs.maintenance.alerts import SMTP_PASSWORD_ENV, AlertChannels, alert_sensors
from glyms_b24_pipeline.defs.maintenance.freshness import freshness_checks, freshness_sensor
from glyms_b24_pipeline.defs.maintenance.retention import maintenance_prune, maintenance_prune_daily
from glyms_b24_pipeline.defs.maintenance.verdicts import verdict_sensor
from glyms_b24_pipeline.settings.model import Settings
from glyms_b24_pipeline.sync.jobs import job_names
from glyms_b24_pipeline.sync.spec import SyncSpec


def definitions(syncs: Sequence[SyncSpec], settings: Settings, *, extra_job_names: Sequence[str] = ()) -> dg.Definitions:
    """Alert and verdict sensors on the syncs' jobs (plus ``extra_job_names``), freshness checks on their push
    assets with their sensor, and the nightly retention job and schedule."""
    checks = freshness_checks([spec.push_key for spec in syncs], _dt.timedelta(hours=settings.freshness.max_age_hours))
    return dg.Definitions(
        asset_checks=checks,
        jobs=[maintenance_prune],
        schedules=[maintenance_prune_daily],
        sensors=[*alert_sensors([*job_names(syncs), *extra_job_names]), freshness_sensor(checks),
                 verdict_sensor([*job_names(syncs), *extra_job_names])],
        resources={"alert_channels": AlertChannels(
            smtp_password=dg.EnvVar(SMTP_PASSWORD_ENV) if os.environ.get(SMTP_PASSWORD_ENV) else None)},
    )
