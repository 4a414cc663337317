"""Orchestration around the syncs: run liveness, alerts, freshness, retention.

``orchestration_definitions(syncs)`` is merged into the code location; a sync added to the
registry gets its alerts and its freshness check from there.
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import Optional, Sequence

import dagster as dg

from glyms_b24_pipeline.config import load_settings
from glyms_b24_pipeline.sync.registry import SyncSpec


def sync_job_names(syncs: Sequence[SyncSpec]) -> list[str]:
    """Every job of ``syncs``: each sync's own job and its reconciliation's."""
    names = [spec.job_name for spec in syncs]
    names += [spec.reconcile.job_name for spec in syncs if spec.reconcile is not None]
    return list(dict.fromkeys(names))


def orchestration_definitions(
    syncs: Sequence[SyncSpec],
    *,
    extra_job_names: Sequence[str] = (),
    freshness_keys: Optional[Sequence[dg.AssetKey]] = None,
) -> dg.Definitions:
    """Alert sensors on the syncs' jobs (plus ``extra_job_names``), freshness checks on their push
    assets (or ``freshness_keys``) with their sensor, and the nightly retention job and schedule."""
    from glyms_b24_pipeline.orchestration.alerts import SMTP_PASSWORD_ENV, AlertChannels, alert_sensors
    from glyms_b24_pipeline.orchestration.freshness import freshness_checks, freshness_sensor
    from glyms_b24_pipeline.orchestration.retention import maintenance_prune, maintenance_prune_daily

    settings = load_settings()
    checks = freshness_checks(list(freshness_keys) if freshness_keys is not None else [spec.push_key for spec in syncs],
                              _dt.timedelta(hours=settings.freshness.max_age_hours))
    return dg.Definitions(
        asset_checks=checks,
        jobs=[maintenance_prune],
        schedules=[maintenance_prune_daily],
        sensors=[*alert_sensors([*sync_job_names(syncs), *extra_job_names]), freshness_sensor(checks)],
        resources={"alert_channels": AlertChannels(
            smtp_password=dg.EnvVar(SMTP_PASSWORD_ENV) if os.environ.get(SMTP_PASSWORD_ENV) else None)},
    )
