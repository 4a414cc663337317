"""Indexes over portal tables: ids in order, rows by key, rows by a filterable field.

A real portal answers look-ups by key from database indexes in constant or logarithmic time;
these structures give the emulator the same shape of cost, so a portal of 100,000 rows answers
as fast as one of 1,000. They are derived data: never saved, rebuilt from the rows on load.
"""

from __future__ import annotations

import bisect
from typing import AbstractSet, Any, Callable, Hashable, Iterable, Iterator, Optional, Union

# Tokens under which a stored value is filed; see ``FieldIndex``.
_TEXT, _TYPED_NUMBER, _ANY_NUMBER = "text", "typed-number", "any-number"
_NULL = ("null",)


def as_number(value: Any) -> Optional[float]:
    """The number a filter comparison reads from ``value`` (bools are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def is_typed_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class SortedIds:
    """Integer ids in ascending order, kept in bounded chunks.

    A flat sorted list would move every later id on each insert or delete; chunks bound that
    to one chunk, so both cost O(log N) comparisons plus at most ``_CHUNK`` moves. Rank look-ups
    (for offset paging) add the lengths of the chunks before, O(N / _CHUNK).
    """

    _CHUNK = 1000

    def __init__(self, ids: Iterable[int] = ()):
        ordered = sorted(set(ids))
        self._chunks = [ordered[i:i + self._CHUNK] for i in range(0, len(ordered), self._CHUNK)]
        self._maxes = [chunk[-1] for chunk in self._chunks]
        self._size = len(ordered)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[int]:
        return self.iter_from(0)

    def add(self, value: int) -> None:
        if not self._chunks:
            self._chunks, self._maxes, self._size = [[value]], [value], 1
            return
        index = bisect.bisect_left(self._maxes, value)
        if index == len(self._chunks):
            # The usual case (ids come from a counter): append to the last chunk.
            index -= 1
            chunk = self._chunks[index]
            chunk.append(value)
            self._maxes[index] = value
        else:
            chunk = self._chunks[index]
            position = bisect.bisect_left(chunk, value)
            if chunk[position] == value:
                return
            chunk.insert(position, value)
        self._size += 1
        if len(chunk) > 2 * self._CHUNK:
            half = len(chunk) // 2
            self._chunks[index:index + 1] = [chunk[:half], chunk[half:]]
            self._maxes[index:index + 1] = [chunk[half - 1], chunk[-1]]

    def discard(self, value: int) -> None:
        index = bisect.bisect_left(self._maxes, value)
        if index == len(self._chunks):
            return
        chunk = self._chunks[index]
        position = bisect.bisect_left(chunk, value)
        if chunk[position] != value:
            return
        del chunk[position]
        self._size -= 1
        if not chunk:
            del self._chunks[index]
            del self._maxes[index]
        elif position == len(chunk):
            self._maxes[index] = chunk[-1]

    def rank(self, value: float, or_equal: bool = False) -> int:
        """How many ids are smaller than ``value`` (or equal to it with ``or_equal``)."""
        find = bisect.bisect_right if or_equal else bisect.bisect_left
        index = find(self._maxes, value)
        before = sum(len(chunk) for chunk in self._chunks[:index])
        if index < len(self._chunks):
            before += find(self._chunks[index], value)
        return before

    def iter_from(self, position: int) -> Iterator[int]:
        """Ids in ascending order starting at rank ``position``."""
        for chunk in self._chunks:
            if position >= len(chunk):
                position -= len(chunk)
                continue
            yield from chunk[position:] if position else chunk
            position = 0


class KeyIndex:
    """Row ids by key; ``keys_of(row)`` names every key a row is filed under.

    The keys a row was filed under are remembered, so a row changed in place is re-filed
    correctly by ``put`` without knowing its old values.
    """

    def __init__(self, keys_of: Callable[[dict], Iterable[Hashable]]):
        self._keys_of = keys_of
        # A key held by one row maps to its id, by several to a set of ids. Most keys are unique,
        # and a bare int is no object for the cyclic garbage collector to walk, whose full passes
        # cost time in proportion to the containers alive.
        self._ids_by_key: dict[Hashable, Union[int, set[int]]] = {}
        self._keys_by_id: dict[int, tuple] = {}

    def put(self, row_id: int, row: dict) -> None:
        keys = tuple(dict.fromkeys(self._keys_of(row)))
        if self._keys_by_id.get(row_id) == keys:
            return
        self.remove(row_id)
        buckets = self._ids_by_key
        for key in keys:
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = row_id
            elif isinstance(bucket, set):
                bucket.add(row_id)
            elif bucket != row_id:
                buckets[key] = {bucket, row_id}
        self._keys_by_id[row_id] = keys

    def remove(self, row_id: int) -> None:
        buckets = self._ids_by_key
        for key in self._keys_by_id.pop(row_id, ()):
            bucket = buckets[key]
            if not isinstance(bucket, set):
                if bucket == row_id:
                    del buckets[key]
                continue
            bucket.discard(row_id)
            if len(bucket) == 1:
                buckets[key] = next(iter(bucket))

    def ids(self, key: Hashable) -> AbstractSet[int]:
        """Ids filed under ``key`` (may be the index's own set: never change it)."""
        bucket = self._ids_by_key.get(key)
        if bucket is None:
            return _EMPTY
        return bucket if isinstance(bucket, set) else {bucket}


_EMPTY: frozenset = frozenset()


def _value_tokens(value: Any) -> Iterator[tuple]:
    """Where a stored value is filed: its text, and its number when it reads as one."""
    if value is None:
        yield _NULL
        return
    yield _TEXT, str(value)
    number = as_number(value)
    if number is None:
        return
    if is_typed_number(value):
        yield _TYPED_NUMBER, number
    yield _ANY_NUMBER, number


def _wanted_tokens(wanted: Any) -> Iterator[tuple]:
    """Where every stored value equal to ``wanted`` (as the list filters compare) is filed.

    Equality compares numbers when either side is a JSON number and text otherwise, and a
    null equals ``None``, ``""`` and ``False``; the tokens cover each of those paths.
    """
    yield _TEXT, str(wanted)
    number = as_number(wanted)
    if number is not None:
        # a number finds stored numbers and numeric text; numeric text finds stored numbers only
        yield (_ANY_NUMBER, number) if is_typed_number(wanted) else (_TYPED_NUMBER, number)
    if wanted is None or wanted is False or (isinstance(wanted, str) and wanted == ""):
        yield _NULL


class FieldIndex(KeyIndex):
    """Rows by the value of one field, answering ``=`` and IN filters.

    ``candidates`` is a superset of the matching ids (every value equal under the filter rules
    is found); callers still apply the filter to each candidate, so the rules live in one place.
    A list-valued field (multifields) is filed under each of its items.
    """

    def __init__(self, value_of: Callable[[dict], Any]):
        super().__init__(lambda row: self._tokens(value_of(row)))

    @staticmethod
    def _tokens(value: Any) -> Iterator[tuple]:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            yield from _value_tokens(item)

    def candidates(self, wanted_values: Iterable[Any]) -> set[int]:
        found: set[int] = set()
        for wanted in wanted_values:
            for token in _wanted_tokens(wanted):
                found |= self.ids(token)
        return found


class Table:
    """Rows keyed by integer id (the very dict that is saved), with ids in order and indexes.

    Every insert, change and delete goes through ``put``/``remove`` so the indexes stay in step.
    """

    def __init__(self, rows: dict[int, dict], id_field: str, indexes: Optional[dict[str, KeyIndex]] = None):
        self.rows = rows
        self.id_field = id_field
        self.indexes = indexes or {}
        self.ids = SortedIds(rows)
        for row_id, row in rows.items():
            for index in self.indexes.values():
                index.put(row_id, row)

    @classmethod
    def of_rows(cls, rows: Iterable[dict], id_field: str) -> "Table":
        """An index-free table over plain rows (for small, unindexed lists)."""
        return cls({row[id_field]: row for row in rows}, id_field)

    def put(self, row: dict) -> dict:
        """Insert ``row``, or re-file it after it changed in place."""
        row_id = row[self.id_field]
        self.rows[row_id] = row
        self.ids.add(row_id)
        for index in self.indexes.values():
            index.put(row_id, row)
        return row

    def remove(self, row_id: int) -> Optional[dict]:
        row = self.rows.pop(row_id, None)
        if row is not None:
            self.ids.discard(row_id)
            for index in self.indexes.values():
                index.remove(row_id)
        return row

    def get(self, row_id: Any) -> Optional[dict]:
        return self.rows.get(row_id)

    def __len__(self) -> int:
        return len(self.rows)
