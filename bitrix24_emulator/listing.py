"""List semantics shared by CRM and catalog: filter operators, ordering, 50-row pages, ``start=-1``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Callable, Iterable, Iterator, Optional

from .indexes import FieldIndex, SortedIds, Table, as_number

# Longest prefixes first so "!=%" is not read as "!" + "=%".
_OPERATOR = re.compile(r"^(!=%|!%=|!@|!%|!=|=%|%=|>=|<=|!|=|>|<|@|%)?(.*)$", re.S)


@dataclass(frozen=True)
class Condition:
    """One filter entry: ``operator`` applied to ``field`` against ``value``."""

    field: str
    operator: str
    value: Any
    # IN / NOT IN over text values only: stored text then matches by set membership, which is
    # what comparing it with each value as text would give, without the per-value loop.
    texts: Optional[frozenset] = dataclass_field(default=None, compare=False, repr=False)


def parse_filter(filter_params: Any, normalise_field: Callable[[str], str] = lambda f: f) -> list[Condition]:
    """``{">=id": 5, "@xmlId": [...]}`` -> conditions; a list value on a plain key means IN."""
    conditions: list[Condition] = []
    if not isinstance(filter_params, dict):
        return conditions
    for key, value in filter_params.items():
        match = _OPERATOR.match(str(key))
        assert match is not None  # every key matches: the operator group is optional
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
        texts = None
        if operator in ("@", "!@") and isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            texts = frozenset(value)
        conditions.append(Condition(normalise_field(field), operator, value, texts))
    return conditions


# Filters and indexes must read numbers the same way, or an index would miss rows the filter keeps.
_number = as_number


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
    if condition.texts is not None and isinstance(stored, str):
        return (stored in condition.texts) == (op == "@")
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


def list_page(source: Any, conditions: list[Condition], order: list[tuple[str, bool]], start: Any,
              page_size: int = 50, value_of: Callable[[dict, str], Any] = lambda row, field: row.get(field),
              id_field: str = "id", keep: Optional[Callable[[dict], bool]] = None) -> Page:
    """Filter, order and page a ``Table`` (or plain rows) as a list method does.

    ``keep`` is a restriction the method adds to the caller's filter. The answer is always what
    filtering every row, ordering and paging would give; the plan only decides which rows are read:

    * an ``=``/IN condition on the id or an indexed field reads just the rows it names;
    * otherwise rows are read in id order from the ``>id``/``>=id`` window on, and the keyset
      mode (``start=-1``, id order) stops at a full page, so exporting N rows costs O(N) in all
      rather than O(N) per page;
    * an offset page over an id window alone is found by rank, without reading the rows before it.
    """
    table = source if isinstance(source, Table) else Table.of_rows(source, id_field)
    in_id_order = order in ([], [(id_field, False)])
    fast = _start_value(start) == -1

    def matches(row: dict) -> bool:
        return (keep is None or keep(row)) and all(value_matches(value_of(row, c.field), c) for c in conditions)

    candidate_ids = _indexed_candidates(table, conditions, id_field)
    if candidate_ids is not None:
        rows: Iterable[dict] = (table.rows[row_id] for row_id in candidate_ids)
    else:
        window = _id_window(table.ids, conditions, id_field)
        if not fast and in_id_order and keep is None and window.exact:
            return _page_by_rank(table, window, start, page_size)
        rows = (table.rows[row_id] for row_id in window.ids(table.ids))
    if fast and in_id_order:
        page: list[dict] = []
        for row in rows:
            if matches(row):
                page.append(row)
                if len(page) == page_size:
                    break
        return Page(page, None, None, True)
    matching = [row for row in rows if matches(row)]
    if not in_id_order:
        matching = apply_order(matching, order, value_of)
    return paginate(matching, start, page_size)


def _indexed_candidates(table: Table, conditions: list[Condition], id_field: str) -> Optional[list[int]]:
    """Ids named by the most selective ``=``/IN condition on the id or an indexed field, in order."""
    best: Optional[set[int]] = None
    for condition in conditions:
        if condition.operator not in ("=", "@"):
            continue
        wanted = _as_list(condition.value)
        if condition.field == id_field:
            found = _existing_ids(table, wanted)
        elif isinstance(index := table.indexes.get(condition.field), FieldIndex):
            found = index.candidates(wanted)
        else:
            continue
        if best is None or len(found) < len(best):
            best = found
    return None if best is None else sorted(best)


def _existing_ids(table: Table, wanted: list) -> set[int]:
    """Ids equal to one of ``wanted``: stored ids are integers, so only numbers can match."""
    found = set()
    for value in wanted:
        number = _number(value)
        if number is not None and number.is_integer() and int(number) in table.rows:
            found.add(int(number))
    return found


@dataclass
class _Window:
    """Ranks ``[first, end)`` of the ids the id conditions allow; ``exact`` = nothing else filters."""

    first: int
    end: int
    exact: bool

    def ids(self, ids: SortedIds) -> Iterator[int]:
        remaining = self.end - self.first
        for row_id in ids.iter_from(self.first):
            if remaining <= 0:
                return
            remaining -= 1
            yield row_id


def _id_window(ids: SortedIds, conditions: list[Condition], id_field: str) -> _Window:
    first, end, exact = 0, len(ids), True
    for condition in conditions:
        if condition.field != id_field or condition.operator not in (">", ">=", "<", "<="):
            exact = False
            continue
        number = _number(condition.value)
        if number is None or math.isnan(number):
            exact = False
            # A non-numeric bound compares as text with the id's digits (an unresolved batch
            # placeholder such as "[{...}]" does): text starting above "9" is above every id.
            text = str(condition.value)
            if condition.operator in (">", ">=") and text and text[0] > "9":
                first = end
            continue
        if condition.operator == ">":
            first = max(first, ids.rank(number, or_equal=True))
        elif condition.operator == ">=":
            first = max(first, ids.rank(number))
        elif condition.operator == "<":
            end = min(end, ids.rank(number))
        else:
            end = min(end, ids.rank(number, or_equal=True))
    return _Window(first, max(first, end), exact)


def _page_by_rank(table: Table, window: _Window, start: Any, page_size: int) -> Page:
    total = window.end - window.first
    offset = max(0, _start_value(start)) // page_size * page_size
    count = max(0, min(page_size, total - offset))
    rows: list[Any] = []
    for row_id in table.ids.iter_from(window.first + offset):
        if len(rows) == count:
            break
        rows.append(table.rows[row_id])
    return Page(rows, offset + page_size if offset + page_size < total else None, total, False)
