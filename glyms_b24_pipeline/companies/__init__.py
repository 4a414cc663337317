"""Customers -> Bitrix24 companies: the change-log consumer and the reconciliation on the shared write path.

``SPEC`` (built on first access) registers the sync in :mod:`glyms_b24_pipeline.sync.registry`.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "SPEC":
        from glyms_b24_pipeline.companies.spec import SPEC

        return SPEC
    raise AttributeError(name)
