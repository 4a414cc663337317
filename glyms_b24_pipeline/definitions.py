"""The glyms-b24 Dagster code location."""

from __future__ import annotations

import os

import dagster as dg

from glyms_b24_pipeline.bitrix24.auth import DEFAULT_OAUTH_URL
from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.config import CONFIG_ENV_VAR, load_settings
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.services.assets import services_assets
from glyms_b24_pipeline.settings_resource import SyncSettings

# Runs that write to Bitrix24 carry this tag; dagster.yaml allows one such run at a time.
BITRIX24_WRITER_TAG = {"glyms_b24/bitrix24": "writer"}

services_sync_job = dg.define_asset_job(
    "services_sync",
    selection=dg.AssetSelection.assets(*services_assets).upstream(),
    description="Glyms services -> Bitrix24 catalog: read both sides, plan, push the differences.",
    # one process: the API client, its token and its rate limiter are shared by every step
    executor_def=dg.in_process_executor,
    tags=BITRIX24_WRITER_TAG,
)

services_daily_schedule = dg.ScheduleDefinition(
    name="services_sync_daily",
    job=services_sync_job,
    cron_schedule="0 5 * * *",
    execution_timezone="America/Argentina/Buenos_Aires",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Full services comparison every morning before the lab opens.",
)


def bitrix24_resource() -> Bitrix24Resource:
    """Webhook mode when B24_WEBHOOK_URL is set, OAuth local application otherwise."""
    common = Bitrix24Resource.limits_from_settings(load_settings().bitrix24)
    if os.environ.get("B24_WEBHOOK_URL"):
        return Bitrix24Resource(webhook_url=dg.EnvVar("B24_WEBHOOK_URL"), **common)
    return Bitrix24Resource(
        portal_url=dg.EnvVar("B24_PORTAL_URL"),
        client_id=dg.EnvVar("B24_CLIENT_ID"),
        client_secret=dg.EnvVar("B24_CLIENT_SECRET"),
        oauth_url=dg.EnvVar("B24_OAUTH_URL") if os.environ.get("B24_OAUTH_URL") else DEFAULT_OAUTH_URL,
        token_store_dsn=dg.EnvVar("GLYMS_PG_DSN"),
        **common,
    )


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=services_assets,
        jobs=[services_sync_job],
        schedules=[services_daily_schedule],
        resources={
            "glyms_db": GlymsDatabase(dsn=dg.EnvVar("GLYMS_PG_DSN")),
            "bitrix24": bitrix24_resource(),
            "sync_settings": SyncSettings(config_file=os.environ.get(CONFIG_ENV_VAR) or None),
        },
    )


defs = build_definitions()
