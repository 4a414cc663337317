"""What the operator sees of a services sync: tables and previews (pure functions)."""

from __future__ import annotations

from collections import Counter

from glyms_b24_pipeline.defs.services.plan import Action, PlannedChange, ServiceSyncPlan
from glyms_b24_pipeline.sync.report import PREVIEW_ROWS, preview


def _describe(change: PlannedChange) -> str:
    parts = [f"{k}={v!r}" for k, v in change.fields.items() if k not in ("iblockId", "xmlId")]
    if change.price is not None:
        parts.append(f"price {change.old_price if change.old_price is not None else '-'} -> {change.price}")
    if change.reason:
        parts.append(change.reason)
    parts += list(change.warnings)
    return "; ".join(parts)


def plan_preview(plan: ServiceSyncPlan, limit: int = PREVIEW_ROWS) -> str:
    """Markdown preview of the changes (writes and problems first; unchanged rows left out)."""
    order = [Action.CREATE, Action.UPDATE, Action.REACTIVATE, Action.DEACTIVATE, Action.INVALID, Action.DUPLICATE]
    counts = Counter(c.action for c in plan.changes)
    shown = (c for action in order if counts[action] for c in plan.changes if c.action == action)
    return preview(["action", "xmlId (id_prestacion)", "Bitrix24 id", "change"],
                   ((c.action.value, c.xml_id, c.bitrix_id, _describe(c)) for c in shown),
                   empty="No changes: the catalog already matches Glyms.", limit=limit,
                   total=sum(counts[action] for action in order))

