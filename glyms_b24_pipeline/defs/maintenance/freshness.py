"""Freshness: a sync whose push has not succeeded within ``freshness.max_age_hours`` fails a check.

A stopped schedule, a code location that no longer loads or a daemon that stopped launching runs
shows as a red check on the push asset instead of staying silent.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from typing import Sequence

import dagster as dg

FRESHNESS_SENSOR = "sync_freshness_checks"


def freshness_checks(asset_keys: Sequence[dg.AssetKey], max_age: _dt.timedelta) -> list[dg.AssetChecksDefinition]:
    """One ``freshness_check`` per asset: fails when its last materialisation is older than ``max_age``."""
    with warnings.catch_warnings():
        # superseded by FreshnessPolicy on the asset definitions, which would reach into every sync's
        # assets; these checks are kept as a factory over asset keys, run by the sensor below
        warnings.filterwarnings("ignore", message=".*is superseded.*")
        return list(dg.build_last_update_freshness_checks(assets=list(asset_keys), lower_bound_delta=max_age,
                                                          severity=dg.AssetCheckSeverity.ERROR))


def freshness_sensor(checks: Sequence[dg.AssetChecksDefinition]) -> dg.SensorDefinition:
    """Evaluates the checks whenever one could have become overdue (the daemon runs it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is superseded.*")
        return dg.build_sensor_for_freshness_checks(freshness_checks=list(checks), name=FRESHNESS_SENSOR,
                                                    minimum_interval_seconds=600,
                                                    default_status=dg.DefaultSensorStatus.RUNNING)
