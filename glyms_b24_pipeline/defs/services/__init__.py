"""Services -> Bitrix24 catalog: active Glyms services become service products, only differences written."""

from typing import Mapping

import dagster as dg

from glyms_b24_pipeline.defs.services.spec import SYNC
from glyms_b24_pipeline.sync.jobs import BITRIX24_WRITER_TAG, sync_jobs
from glyms_b24_pipeline.sync.spec import SyncSpec


def definitions(spec: SyncSpec = SYNC, tags: Mapping[str, str] = BITRIX24_WRITER_TAG) -> dg.Definitions:
    """The services sync's assets and its job (``services_sync``); ``spec``: ``SYNC`` as located in this code location."""
    return dg.Definitions(assets=list(spec.assets), jobs=sync_jobs(spec, tags))


__all__ = ["SYNC", "definitions"]
