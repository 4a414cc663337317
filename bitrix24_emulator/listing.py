"""List semantics shared by CRM and catalog: filter operators, ordering, 50-row pages, ``start=-1``."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

# Longest prefixes first so "!=%" is not read as "!" + "=%".
_OPERATOR = re.compile(r"^(!=%|!%=|!@|!%|!=|=%|%=|>=|<=|!|=|>|<|@|%)?(.*)$", re.S)


@dataclass(frozen=True)
class Condition:
    """One filter entry: ``operator`` applied to ``field`` against ``value``."""

    field: str
    operator: str
    value: Any


def parse_filter(filter_params: Any, normalise_field: Callable[[str], str] = lambda f: f) -> list[Condition]:
    """``{">=id": 5, "@xmlId": [...]}`` -> conditions; a list value on a plain key means IN."""
    conditions: list[Condition] = []
    if not isinstance(filter_params, dict):
        return conditions
    for key, value in filter_params.items():
        match = _OPERATOR.match(str(key))
        assert match is not None  # every part of the pattern is optional: it matches any key
        operator, field = match.group(1) or "=", match.group(2)
        if operator in ("!=",):
            operator = "!"
        if operator == "%=":
            operator = "=%"
        if operator == "!%=":
            operator = "!=%"
        if isinstance(value, dict) and set(value) == {"value"}:
            value = value["value"]
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, (list, tuple)):
            if operator == "=":
                operator = "@"
            elif operator == "!":
                operator = "!@"
        conditions.append(Condition(normalise_field(field), operator, value))
    return conditions


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def _numeric_pair(stored: Any, wanted: Any) -> Optional[tuple[float, float]]:
    """Compare as numbers only when one side is a number (strings like "007" stay strings)."""
    if not any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (stored, wanted)):
        return None
    left, right = _number(stored), _number(wanted)
    if left is None or right is None:
        return None
    return left, right


def _equal(stored: Any, wanted: Any) -> bool:
    if stored is None:
        return wanted is None or wanted == "" or wanted is False
    pair = _numeric_pair(stored, wanted)
    if pair is not None:
        return pair[0] == pair[1]
    return str(stored) == str(wanted)


def _compare(stored: Any, wanted: Any) -> Optional[int]:
    if stored is None:
        return None
    pair = _numeric_pair(stored, wanted)
    if pair is not None:
        return (pair[0] > pair[1]) - (pair[0] < pair[1])
    a, b = str(stored), str(wanted)
    return (a > b) - (a < b)


def _like(stored: Any, pattern: Any, explicit: bool) -> bool:
    if stored is None:
        return False
    text, pattern = str(stored).lower(), str(pattern).lower()
    if not explicit:
        return pattern in text
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("%")) + "$"
    return re.match(regex, text, re.S) is not None


def value_matches(stored: Any, condition: Condition) -> bool:
    """Match one stored value (a list = any of its items, as for multifields)."""
    if isinstance(stored, (list, tuple)):
        if condition.operator in ("!", "!@", "!%", "!=%"):
            return all(value_matches(item, condition) for item in stored) if stored else True
        return any(value_matches(item, condition) for item in stored)
    op, wanted = condition.operator, condition.value
    if op == "=":
        return _equal(stored, wanted)
    if op == "!":
        return not _equal(stored, wanted)
    if op == "@":
        return any(_equal(stored, item) for item in _as_list(wanted))
    if op == "!@":
        return not any(_equal(stored, item) for item in _as_list(wanted))
    if op in ("%", "=%"):
        return _like(stored, wanted, explicit=op == "=%")
    if op in ("!%", "!=%"):
        return not _like(stored, wanted, explicit=op == "!=%")
    order = _compare(stored, wanted)
    if order is None:
        return False
    return {">": order > 0, ">=": order >= 0, "<": order < 0, "<=": order <= 0}[op]


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def apply_filter(rows: Iterable[dict], conditions: list[Condition],
                 value_of: Callable[[dict, str], Any] = lambda row, field: row.get(field)) -> list[dict]:
    return [row for row in rows if all(value_matches(value_of(row, c.field), c) for c in conditions)]


def parse_order(order_params: Any, normalise_field: Callable[[str], str] = lambda f: f) -> list[tuple[str, bool]]:
    """``{"ID": "DESC"}`` -> ``[("ID", True)]`` (True = descending)."""
    if not isinstance(order_params, dict):
        return []
    return [(normalise_field(str(field)), str(direction).strip().upper() == "DESC")
            for field, direction in order_params.items()]


def apply_order(rows: list[dict], order: list[tuple[str, bool]],
                value_of: Callable[[dict, str], Any] = lambda row, field: row.get(field)) -> list[dict]:
    """Stable multi-key sort; nulls first ascending (as MySQL does)."""
    result = list(rows)
    for field, descending in reversed(order):
        def key(row, field=field):
            value = value_of(row, field)
            number = _number(value)
            if value is None:
                return (0, 0.0, "")
            return (1, number, "") if number is not None else (2, 0.0, str(value).lower())
        result.sort(key=key, reverse=descending)
    return result


@dataclass
class Page:
    """One page of a list answer: ``rows`` plus ``next`` (None on the last page) and ``total``."""

    rows: list
    next: Optional[int]
    total: Optional[int]
    fast: bool


def paginate(rows: list, start: Any, page_size: int = 50) -> Page:
    """``start`` floored to a multiple of ``page_size``; ``start=-1`` = first page, no count, no next."""
    start_value = _start_value(start)
    if start_value == -1:
        return Page(rows[:page_size], None, None, True)
    offset = max(0, start_value) // page_size * page_size
    chunk = rows[offset:offset + page_size]
    has_more = offset + page_size < len(rows)
    return Page(chunk, offset + page_size if has_more else None, len(rows), False)


def _start_value(start: Any) -> int:
    try:
        return int(float(start)) if start not in (None, "") else 0
    except (TypeError, ValueError):
        return 0


def list_page(rows: Iterable[dict], conditions: list[Condition], order: list[tuple[str, bool]], start: Any,
              page_size: int = 50, value_of: Callable[[dict, str], Any] = lambda row, field: row.get(field),
              id_field: str = "id") -> Page:
    """Filter, order and page ``rows`` as a list method does.

    The keyset mode (``start=-1``, ordered by id ascending, a ``>id`` window) is what clients
    use for full exports; it jumps to the window and stops at a full page, so exporting N rows
    costs O(N) in all rather than O(N) per page.
    """
    by_id = sorted(rows, key=lambda row: row[id_field])
    if _start_value(start) != -1 or order not in ([], [(id_field, False)]):
        matching = apply_filter(by_id, conditions, value_of)
        return paginate(apply_order(matching, order, value_of), start, page_size)
    position = 0
    for condition in conditions:
        if condition.field == id_field and condition.operator in (">", ">=") and _number(condition.value) is not None:
            ids = [row[id_field] for row in by_id]
            finder = bisect.bisect_right if condition.operator == ">" else bisect.bisect_left
            position = max(position, finder(ids, _number(condition.value)))
    page: list[dict] = []
    for row in by_id[position:]:
        if all(value_matches(value_of(row, c.field), c) for c in conditions):
            page.append(row)
            if len(page) == page_size:
                break
    return Page(page, None, None, True)
