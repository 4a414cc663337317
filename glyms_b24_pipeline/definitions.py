"""The glyms-b24 Dagster code location: every registered sync's assets, jobs and schedules."""

from __future__ import annotations

import os

import dagster as dg

from glyms_b24_pipeline.bitrix24.auth import DEFAULT_OAUTH_URL
from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.companies.changelog import ChangeLog
from glyms_b24_pipeline.companies.sensor import companies_pending_log_sensor
from glyms_b24_pipeline.config import CONFIG_ENV_VAR, load_settings
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.orchestration import orchestration_definitions
from glyms_b24_pipeline.settings_resource import SyncSettings
from glyms_b24_pipeline.sync.registry import FULL_SYNC_JOB, SyncSpec, all_syncs
from glyms_b24_pipeline.sync.writer import PortalWriter

# Runs that write to Bitrix24 carry this tag; dagster.yaml queues them one at a time. That is a
# courtesy of the queue: the guarantee is the portal lock every writer takes (sync/lock.py).
BITRIX24_WRITER_TAG = {"glyms_b24/bitrix24": "writer"}


# A step that failed on a portal still busy or down after the client's retries is tried again,
# in the same process and run: a retried push finds its plan already applied and replans from a
# fresh read, so a retry never resends what succeeded. Operator errors are never retried.
STEP_RETRY = dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def writer_job(name: str, assets: list, description: str) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name,
        selection=dg.AssetSelection.assets(*assets).upstream(),
        description=description,
        op_retry_policy=STEP_RETRY,
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


def sync_jobs(syncs: list[SyncSpec]) -> dict[str, dg.UnresolvedAssetJobDefinition]:
    """A job per sync and per reconciliation, and full_sync: every sync in one run (legacy --sync_type all)."""
    jobs = {spec.job_name: writer_job(spec.job_name, list(spec.assets), spec.description) for spec in syncs}
    jobs.update({spec.reconcile.job_name: writer_job(spec.reconcile.job_name, list(spec.reconcile.assets),
                                                     spec.reconcile.description)
                 for spec in syncs if spec.reconcile is not None})
    jobs[FULL_SYNC_JOB] = writer_job(FULL_SYNC_JOB, [asset for spec in syncs for asset in spec.assets],
                                     "Every sync in one run: " + ", ".join(spec.name for spec in syncs) + ".")
    return jobs


def build_definitions() -> dg.Definitions:
    syncs = all_syncs()
    jobs = sync_jobs(syncs)
    schedules = load_settings().schedules
    base = dg.Definitions(
        assets=[asset for spec in syncs for asset in (*spec.assets, *(spec.reconcile.assets if spec.reconcile else ()))],
        jobs=list(jobs.values()),
        schedules=[
            dg.ScheduleDefinition(
                name="full_sync_daily",
                job=jobs[FULL_SYNC_JOB],
                cron_schedule=schedules.full_sync_cron,
                execution_timezone=schedules.timezone,
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description="Every sync each morning before the lab opens (schedules.full_sync_cron).",
            ),
            dg.ScheduleDefinition(
                name="companies_reconcile_weekly",
                job=jobs["companies_reconcile"],
                cron_schedule=schedules.reconcile_cron,
                execution_timezone=schedules.timezone,
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description="Every customer against every company (schedules.reconcile_cron).",
            ),
        ],
        sensors=[companies_pending_log_sensor],
        resources={
            "glyms_db": GlymsDatabase(dsn=dg.EnvVar("GLYMS_PG_DSN")),
            "bitrix24": bitrix24_resource(),
            "portal_writer": PortalWriter(dsn=dg.EnvVar("GLYMS_PG_DSN")),
            "change_log": ChangeLog(dsn=dg.EnvVar("GLYMS_PG_DSN")),
            "sync_settings": SyncSettings(config_file=os.environ.get(CONFIG_ENV_VAR) or None),
            # named, so that `glyms-b24 sync` (execute_in_process) also hands values on through files, as
            # the daemon's runs do: by default it would keep every step's value in memory to the end of
            # the run (a 100,000-row run held the Glyms rows, the portal's listing and the plan at once)
            "io_manager": dg.FilesystemIOManager(),
        },
        # materialising an asset from the UI or `dagster asset materialize` also runs in one process
        executor=dg.in_process_executor,
    )
    # alerts on every sync job and on full_sync; freshness on each sync's push (full_sync runs them
    # daily, the weekly reconciliation is not watched); retention: they follow the registry
    return dg.Definitions.merge(base, orchestration_definitions(syncs, extra_job_names=[FULL_SYNC_JOB]))


defs = build_definitions()
