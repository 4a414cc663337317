"""What the operator sees of any sync: markdown tables for the Dagster UI (pure functions)."""

from __future__ import annotations

import itertools
from typing import Iterable, Optional, Sequence, Sized

PREVIEW_ROWS = 40


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.replace("|", "\\|").split())
    return text if len(text) <= 60 else text[:57] + "..."


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def preview(headers: Sequence[str], rows: Iterable[Sequence[object]], *, empty: str, limit: int = PREVIEW_ROWS,
            total: Optional[int] = None) -> str:
    """A markdown table of the first ``limit`` rows, saying how many it shows of how many.

    ``rows`` is read only up to ``limit`` (a generator of a large plan's changes describes ``limit`` of them);
    ``total`` says how many there are when ``rows`` is not a sized sequence."""
    shown = list(itertools.islice(rows, limit))
    if total is None:
        total = len(rows) if isinstance(rows, Sized) else len(shown)
    if not shown:
        return empty
    if total <= len(shown):
        return markdown_table(headers, shown)
    return f"First {len(shown):,} of {total:,}.\n\n" + markdown_table(headers, shown)
