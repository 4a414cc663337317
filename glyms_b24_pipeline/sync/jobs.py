"""Jobs that write to Bitrix24: one process, the writer tag, a retry policy for a portal still busy or down."""

from __future__ import annotations

from typing import Sequence

import dagster as dg

from glyms_b24_pipeline.sync.spec import SyncSpec

#: the job that runs every sync in one run (the legacy ``--sync_type all``)
FULL_SYNC_JOB = "full_sync"

# Runs that write to Bitrix24 carry this tag; dagster.yaml queues them one at a time. That is a
# courtesy of the queue: the guarantee is the portal lock every writer takes (sync/lock.py).
BITRIX24_WRITER_TAG = {"glyms_b24/bitrix24": "writer"}

# A step that failed on a portal still busy or down after the client's retries is tried again,
# in the same process and run: a retried push finds its plan already applied and replans from a
# fresh read, so a retry never resends what succeeded. Operator errors are never retried.
STEP_RETRY = dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def writer_job(name: str, assets: Sequence, description: str) -> dg.UnresolvedAssetJobDefinition:
    """A job of ``assets`` and everything upstream of them, run as a writer."""
    return dg.define_asset_job(
        name,
        selection=dg.AssetSelection.assets(*assets).upstream(),
        description=description,
        op_retry_policy=STEP_RETRY,
        # one process: the API client, its token, its rate limiter and the portal lock serve every step
        executor_def=dg.in_process_executor,
        tags=BITRIX24_WRITER_TAG,
    )


def sync_jobs(spec: SyncSpec) -> list[dg.UnresolvedAssetJobDefinition]:
    """The sync's own job, and its reconciliation's when it has one."""
    specs = [spec, *([spec.reconcile] if spec.reconcile is not None else [])]
    return [writer_job(s.job_name, list(s.assets), s.description) for s in specs]


def full_sync_job(syncs: Sequence[SyncSpec]) -> dg.UnresolvedAssetJobDefinition:
    """Every sync in one run, in the order given."""
    return writer_job(FULL_SYNC_JOB, [asset for spec in syncs for asset in spec.assets],
                      "Every sync in one run: " + ", ".join(spec.name for spec in syncs) + ".")


def job_names(syncs: Sequence[SyncSpec]) -> list[str]:
    """Every job of ``syncs``: each sync's own job and its reconciliation's."""
    names = [spec.job_name for spec in syncs]
    names += [spec.reconcile.job_name for spec in syncs if spec.reconcile is not None]
    return list(dict.fromkeys(names))
