"""Row-level audit of every write a sync run attempts (``glyms_b24.sync_audit``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from glyms_b24_pipeline.glyms.resource import GlymsDatabase, GlymsTransaction
from glyms_b24_pipeline.sync.basis import COMPACT

SENT = "sent"  # recorded before the write leaves; settled to success or failed afterwards


@dataclass(frozen=True, **COMPACT)
class AuditRecord:
    entity: str
    glyms_key: str
    operation: str
    outcome: str  # sent | success | failed | skipped
    bitrix_id: Optional[str] = None
    error: Optional[str] = None
    detail: Optional[dict[str, Any]] = None


def _columns(records: Sequence[AuditRecord], *more: str) -> dict[str, list[Any]]:
    """One array per column, as the insert statements unnest them."""
    names = ("entity", "glyms_key", "bitrix_id", "operation", *more, "error")
    return {name: [getattr(r, name) for r in records] for name in names}


class AuditTrail:
    """The audit rows of one run: inserted before the writes, settled after them."""

    def __init__(self, db: GlymsDatabase, run_id: str):
        self.db = db
        self.run_id = run_id

    def record(self, records: Sequence[AuditRecord]) -> list[int]:
        """Insert ``records`` in one statement; returns their audit ids in the same order."""
        if not records:
            return []
        rows = self.db.rows(
            "insert_sync_audit",
            {
                "run_id": self.run_id,
                **_columns(records, "outcome"),
                "detail": [json.dumps(r.detail, ensure_ascii=False, default=str) if r.detail is not None else None
                           for r in records],
            },
        )
        return sorted(int(row["audit_id"]) for row in rows)

    def record_skipped(self, records: Sequence[AuditRecord],
                       also: Optional[Callable[[GlymsTransaction], object]] = None) -> int:
        """Record rows that were not written, each only when its reason first appears or changes;
        ``also`` commits in the same transaction. Returns how many rows were recorded."""
        if not records and also is None:
            return 0
        with self.db.transaction() as tx:
            recorded = tx.rows("insert_sync_audit_skipped", {"run_id": self.run_id, **_columns(records)}) \
                if records else []
            if also is not None:
                also(tx)
        return len(recorded)

    def settle(self, audit_ids: Sequence[int], records: Sequence[AuditRecord],
               also: Optional[Callable[[GlymsTransaction], object]] = None) -> None:
        """Write the final outcome of rows recorded as sent; ``also`` runs in the same transaction
        (a change-log row's status commits with the audit row of its write, or neither does)."""
        if not audit_ids and also is None:
            return
        with self.db.transaction() as tx:
            if audit_ids:
                tx.execute(
                    "settle_sync_audit",
                    {
                        "audit_id": list(audit_ids),
                        "outcome": [r.outcome for r in records],
                        "error": [r.error for r in records],
                        "bitrix_id": [r.bitrix_id for r in records],
                    },
                )
            if also is not None:
                also(tx)
