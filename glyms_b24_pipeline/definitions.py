"""The glyms-b24 Dagster code location: every registered sync's assets, jobs and schedules."""

from __future__ import annotations

import os

import dagster as dg

from glyms_b24_pipeline.bitrix24.auth import DEFAULT_OAUTH_URL
from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.config import CONFIG_ENV_VAR, load_settings
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.orchestration import orchestration_definitions
from glyms_b24_pipeline.settings_resource import SyncSettings
from glyms_b24_pipeline.sync.registry import SyncSpec, all_syncs
from glyms_b24_pipeline.sync.writer import PortalWriter

# Runs that write to Bitrix24 carry this tag; dagster.yaml queues them one at a time. That is a
# courtesy of the queue: the guarantee is the portal lock every writer takes (sync/lock.py).
BITRIX24_WRITER_TAG = {"glyms_b24/bitrix24": "writer"}


def sync_job(spec: SyncSpec) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        spec.job_name,
        selection=dg.AssetSelection.assets(*spec.assets).upstream(),
        description=spec.description,
        # one process: the API client, its token, its rate limiter and the portal lock serve every step
        executor_def=dg.in_process_executor,
        tags=BITRIX24_WRITER_TAG,
    )


def bitrix24_resource() -> Bitrix24Resource:
    """Webhook mode when B24_WEBHOOK_URL is set, OAuth local application otherwise."""
    settings = load_settings().bitrix24
    limits, redirect_uri = settings.client_limits(), settings.redirect_uri
    if os.environ.get("B24_WEBHOOK_URL"):
        return Bitrix24Resource(webhook_url=dg.EnvVar("B24_WEBHOOK_URL"), limits=limits, redirect_uri=redirect_uri)
    return Bitrix24Resource(
        portal_url=dg.EnvVar("B24_PORTAL_URL"),
        client_id=dg.EnvVar("B24_CLIENT_ID"),
        client_secret=dg.EnvVar("B24_CLIENT_SECRET"),
        oauth_url=dg.EnvVar("B24_OAUTH_URL") if os.environ.get("B24_OAUTH_URL") else DEFAULT_OAUTH_URL,
        token_store_dsn=dg.EnvVar("GLYMS_PG_DSN"),
        limits=limits,
        redirect_uri=redirect_uri,
    )


def build_definitions() -> dg.Definitions:
    syncs = all_syncs()
    jobs = {spec.name: sync_job(spec) for spec in syncs}
    base = dg.Definitions(
        assets=[asset for spec in syncs for asset in spec.assets],
        jobs=list(jobs.values()),
        schedules=[
            dg.ScheduleDefinition(
                name="services_sync_daily",
                job=jobs["services"],
                cron_schedule="0 5 * * *",
                execution_timezone="America/Argentina/Buenos_Aires",
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description="Full services comparison every morning before the lab opens.",
            )
        ],
        resources={
            "glyms_db": GlymsDatabase(dsn=dg.EnvVar("GLYMS_PG_DSN")),
            "bitrix24": bitrix24_resource(),
            "portal_writer": PortalWriter(dsn=dg.EnvVar("GLYMS_PG_DSN")),
            "sync_settings": SyncSettings(config_file=os.environ.get(CONFIG_ENV_VAR) or None),
        },
        # materialising an asset from the UI or `dagster asset materialize` also runs in one process
        executor=dg.in_process_executor,
    )
    # alerts, freshness checks and retention (glyms_b24_pipeline/orchestration): they follow the registry
    return dg.Definitions.merge(base, orchestration_definitions(syncs))


defs = build_definitions()
