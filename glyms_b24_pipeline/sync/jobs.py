"""Jobs that write to Bitrix24: one process, the writer tag, a retry policy for a portal still busy or down."""

from __future__ import annotations

from typing import Mapping, Optional, Sequence
from urllib.parse import urlsplit

import dagster as dg

from glyms_b24_pipeline.bitrix24.pacing import portal_key
from glyms_b24_pipeline.settings.model import LocationSettings
from glyms_b24_pipeline.sync.spec import SyncSpec

#: the job that runs every sync in one run (the legacy ``--sync_type all``)
FULL_SYNC_JOB = "full_sync"

# Runs that write to Bitrix24 carry this tag, its value naming the portal; dagster.yaml queues them
# one at a time per portal (applyLimitPerUniqueValue). That is a courtesy of the queue: the
# guarantee is the portal lock every writer takes (sync/lock.py).
WRITER_TAG_KEY = "glyms_b24/bitrix24"
#: the tag's value when no portal is configured (definitions loaded only to be listed or validated);
#: also the value every writer carried before the tag named its portal
UNKNOWN_PORTAL = "writer"
BITRIX24_WRITER_TAG = {WRITER_TAG_KEY: UNKNOWN_PORTAL}
#: Dagster's own run tag naming the repository and code location a run was created from
REPOSITORY_LABEL_TAG = ".dagster/repository"


def portal_identity(portal_url: Optional[str]) -> str:
    """``host[:port]`` of a portal or webhook URL (never its path, which holds a webhook's secret)."""
    if not portal_url or not portal_url.strip():
        return UNKNOWN_PORTAL
    key = portal_key(portal_url)
    return urlsplit(key).netloc or key


def writer_tag(portal_url: Optional[str]) -> dict[str, str]:
    """The writer tag of the portal at ``portal_url``: one queue slot per portal."""
    return {WRITER_TAG_KEY: portal_identity(portal_url)}


def location_runs_tags(location: LocationSettings) -> Mapping[str, str]:
    """Tags that select the runs of this code location ({} for a single-portal installation: every run)."""
    return {REPOSITORY_LABEL_TAG: f"__repository__@{location.name}"} if location.name else {}


# A step that failed on a portal still busy or down after the client's retries is tried again,
# in the same process and run: a retried push finds its plan already applied and replans from a
# fresh read, so a retry never resends what succeeded. Operator errors are never retried.
STEP_RETRY = dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def writer_job(name: str, assets: Sequence, description: str,
               tags: Mapping[str, str] = BITRIX24_WRITER_TAG) -> dg.UnresolvedAssetJobDefinition:
    """A job of ``assets`` and everything upstream of them, run as a writer (``tags``: its writer tag)."""
    return dg.define_asset_job(
        name,
        selection=dg.AssetSelection.assets(*assets).upstream(),
        description=description,
        op_retry_policy=STEP_RETRY,
        # one process: the API client, its token, its rate limiter and the portal lock serve every step
        executor_def=dg.in_process_executor,
        tags=dict(tags),
    )


def sync_jobs(spec: SyncSpec, tags: Mapping[str, str] = BITRIX24_WRITER_TAG) -> list[dg.UnresolvedAssetJobDefinition]:
    """The sync's own job, and its reconciliation's when it has one."""
    specs = [spec, *([spec.reconcile] if spec.reconcile is not None else [])]
    return [writer_job(s.job_name, list(s.assets), s.description, tags) for s in specs]


def full_sync_job(syncs: Sequence[SyncSpec],
                  tags: Mapping[str, str] = BITRIX24_WRITER_TAG) -> dg.UnresolvedAssetJobDefinition:
    """Every sync in one run, in the order given."""
    return writer_job(FULL_SYNC_JOB, [asset for spec in syncs for asset in spec.assets],
                      "Every sync in one run: " + ", ".join(spec.name for spec in syncs) + ".", tags)


def job_names(syncs: Sequence[SyncSpec]) -> list[str]:
    """Every job of ``syncs``: each sync's own job and its reconciliation's."""
    names = [spec.job_name for spec in syncs]
    names += [spec.reconcile.job_name for spec in syncs if spec.reconcile is not None]
    return list(dict.fromkeys(names))
