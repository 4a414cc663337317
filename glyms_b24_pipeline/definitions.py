"""The glyms-b24 code location: each domain's definitions, merged, with the resources they share.

``SYNCS`` is the list of syncs, in the order ``glyms-b24 sync --type all`` and ``full_sync`` run
them; the command line, the run summaries and the maintenance side all read it from here.
"""

from __future__ import annotations

import functools
import os
from typing import Optional, Sequence

import dagster as dg

from glyms_b24_pipeline.bitrix24.auth import DEFAULT_OAUTH_URL
from glyms_b24_pipeline.bitrix24.factory import ConnectionValues
from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.defs import companies, maintenance, services
from glyms_b24_pipeline.defs.companies import assets as companies_assets
from glyms_b24_pipeline.defs.companies.changelog import ChangeLog
from glyms_b24_pipeline.defs.services import assets as services_assets
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.settings.model import CONFIG_ENV_VAR, Settings, load_settings
from glyms_b24_pipeline.settings.resource import SyncSettings
from glyms_b24_pipeline.sync.jobs import FULL_SYNC_JOB, full_sync_job, writer_tag
from glyms_b24_pipeline.sync.spec import SyncSpec
from glyms_b24_pipeline.sync.writer import PortalWriter

SYNCS: tuple[SyncSpec, ...] = (services.SYNC, companies.SYNC)
#: the modules holding the syncs' assets (prefixed copies of them serve a named code location)
ASSET_MODULES = (services_assets, companies_assets)


@functools.lru_cache(maxsize=None)
def located_syncs(key_prefix: tuple[str, ...] = ()) -> tuple[SyncSpec, ...]:
    """``SYNCS`` with every asset key prefixed by ``key_prefix`` (``SYNCS`` itself without one)."""
    if not key_prefix:
        return SYNCS
    prefixed = dg.load_assets_from_modules(list(ASSET_MODULES), key_prefix=list(key_prefix))
    by_key = {asset.key: asset for asset in prefixed if isinstance(asset, dg.AssetsDefinition)}
    return tuple(spec.located(key_prefix, by_key) for spec in SYNCS)


def syncs_named(names: Optional[Sequence[str]] = None, key_prefix: Sequence[str] = ()) -> list[SyncSpec]:
    """The syncs of those names (every one when None), in the order of ``SYNCS``, with their asset keys
    prefixed by ``key_prefix`` (``location.key_prefix``)."""
    known = {spec.name: spec for spec in located_syncs(tuple(key_prefix))}
    unknown = [name for name in names or () if name not in known]
    if unknown:
        raise KeyError(f"unknown sync {unknown[0]!r}; known: {', '.join(known)}")
    return [spec for spec in known.values() if names is None or spec.name in names]


def bitrix24_resource(settings: Settings) -> Bitrix24Resource:
    """Webhook mode when B24_WEBHOOK_URL is set, OAuth local application otherwise."""
    limits, redirect_uri = settings.bitrix24.client_limits(), settings.bitrix24.redirect_uri
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


def shared_resources(settings: Settings) -> dict:
    return {
        "glyms_db": GlymsDatabase(dsn=dg.EnvVar("GLYMS_PG_DSN")),
        "bitrix24": bitrix24_resource(settings),
        "portal_writer": PortalWriter(dsn=dg.EnvVar("GLYMS_PG_DSN")),
        "change_log": ChangeLog(dsn=dg.EnvVar("GLYMS_PG_DSN")),
        "sync_settings": SyncSettings(config_file=os.environ.get(CONFIG_ENV_VAR) or None),
        # named, so that runs in any process hand values on through files: the default keeps
        # every step's value in memory to the end of the run
        "io_manager": dg.FilesystemIOManager(),
    }


def build_definitions() -> dg.Definitions:
    settings = load_settings()
    # a named location (location.name) prefixes every asset key; every writer's tag names its portal
    syncs = located_syncs(settings.location.key_prefix)
    tags = writer_tag(ConnectionValues.from_env().portal)
    located = {spec.name: spec for spec in syncs}
    full_sync = full_sync_job(syncs, tags)
    return dg.Definitions.merge(
        services.definitions(located[services.SYNC.name], tags),
        companies.definitions(settings.schedules, located[companies.SYNC.name], tags),
        dg.Definitions(jobs=[full_sync], schedules=[dg.ScheduleDefinition(
            name="full_sync_daily",
            job=full_sync,
            cron_schedule=settings.schedules.full_sync_cron,
            execution_timezone=settings.schedules.timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="Every sync each morning before the lab opens (schedules.full_sync_cron).",
        )]),
        # alerts on every sync job and on full_sync; freshness on each sync's push (full_sync runs
        # them daily; the weekly reconciliation is not watched)
        maintenance.definitions(syncs, settings, extra_job_names=[FULL_SYNC_JOB]),
        # materialising an asset from the UI or `dagster asset materialize` also runs in one process
        dg.Definitions(resources=shared_resources(settings), executor=dg.in_process_executor),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded by Dagster when the code location starts (the settings file is read then, not at import)."""
    return build_definitions()
