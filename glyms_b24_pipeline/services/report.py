"""What the operator sees of a services sync: tables and previews (pure functions)."""

from __future__ import annotations

from typing import Iterable, Sequence

from glyms_b24_pipeline.services.plan import Action, PlannedChange, ServiceSyncPlan

PREVIEW_ROWS = 40


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


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
    shown = [c for action in order for c in plan.by_action(action)]
    if not shown:
        return "No changes: the catalog already matches Glyms."
    table = markdown_table(
        ["action", "xmlId (id_prestacion)", "Bitrix24 id", "change"],
        [(c.action.value, c.xml_id, c.bitrix_id, _describe(c)) for c in shown[:limit]],
    )
    more = f"\n\n... and {len(shown) - limit} more." if len(shown) > limit else ""
    return table + more

