"""What the operator sees of a companies sync: previews of the plan (pure functions)."""

from __future__ import annotations

from collections import Counter

from glyms_b24_pipeline.defs.companies.plan import CompanyAction, CompanySyncPlan, PlannedCompanyChange
from glyms_b24_pipeline.sync.report import PREVIEW_ROWS, preview

_SHOWN = [CompanyAction.CREATE, CompanyAction.UPDATE, CompanyAction.NOTE, CompanyAction.DELETE, CompanyAction.LINK,
          CompanyAction.INVALID, CompanyAction.DUPLICATE, CompanyAction.TARGET_MISSING, CompanyAction.CANDIDATE]


def _describe(change: PlannedCompanyChange) -> str:
    parts = []
    for key, value in change.fields.items():
        if key in ("EMAIL", "PHONE"):
            parts += [f"{key} {op.get('VALUE', 'delete #' + str(op.get('ID')))}" for op in value or []]
        elif key != "ORIGIN_ID":
            parts.append(f"{key}={value!r}")
    if change.reason:
        parts.append(change.reason)
    parts += list(change.warnings)
    return "; ".join(parts)


def plan_preview(plan: CompanySyncPlan, limit: int = PREVIEW_ROWS) -> str:
    """Markdown preview: writes and problems first, unchanged companies left out."""
    counts = Counter(c.action for c in plan.changes)
    shown = (c for action in _SHOWN if counts[action] for c in plan.changes if c.action == action)
    return preview(["action", "ORIGIN_ID (id_cliente)", "Bitrix24 id", "log rows", "change"],
                   ((c.action.value, c.origin_id, c.bitrix_id, len(c.log_rows), _describe(c)) for c in shown),
                   empty="No changes: the companies already match Glyms.", limit=limit,
                   total=sum(counts[action] for action in _SHOWN))
