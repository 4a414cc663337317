"""Row-level audit of every write a sync run attempts (``glyms_b24.sync_audit``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from glyms_b24_pipeline.glyms.resource import GlymsDatabase


@dataclass(frozen=True)
class AuditRecord:
    entity: str
    glyms_key: str
    operation: str
    outcome: str  # success | failed | skipped
    bitrix_id: Optional[str] = None
    error: Optional[str] = None
    detail: Optional[dict[str, Any]] = None


def record_audit(db: GlymsDatabase, run_id: str, records: Iterable[AuditRecord]) -> int:
    """Insert the records in one transaction; returns how many were written."""
    rows = [
        {
            "run_id": run_id,
            "entity": r.entity,
            "glyms_key": r.glyms_key,
            "bitrix_id": r.bitrix_id,
            "operation": r.operation,
            "outcome": r.outcome,
            "error": r.error,
            "detail": json.dumps(r.detail, ensure_ascii=False, default=str) if r.detail is not None else None,
        }
        for r in records
    ]
    db.execute_many("insert_sync_audit", rows)
    return len(rows)
