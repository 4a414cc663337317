"""What the operator sees of any sync: markdown tables for the Dagster UI (pure functions)."""

from __future__ import annotations

from typing import Iterable, Sequence

PREVIEW_ROWS = 40


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.replace("|", "\\|").split())
    return text if len(text) <= 60 else text[:57] + "..."


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def preview(headers: Sequence[str], rows: Sequence[Sequence[object]], *, empty: str, limit: int = PREVIEW_ROWS) -> str:
    """A markdown table of the first ``limit`` rows, saying how many more there are."""
    if not rows:
        return empty
    more = f"\n\n... and {len(rows) - limit} more." if len(rows) > limit else ""
    return markdown_table(headers, rows[:limit]) + more
