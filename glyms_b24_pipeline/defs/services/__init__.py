"""Services -> Bitrix24 catalog: active Glyms services become service products, only differences written."""

import dagster as dg

from glyms_b24_pipeline.defs.services.spec import SYNC
from glyms_b24_pipeline.sync.jobs import sync_jobs


def definitions() -> dg.Definitions:
    """The services sync's assets and its job (``services_sync``)."""
    return dg.Definitions(assets=list(SYNC.assets), jobs=sync_jobs(SYNC))


__all__ = ["SYNC", "definitions"]
