"""Compact rows: many records of the same shape read by name, without a hash table each."""

from __future__ import annotations

import pickle
from typing import Any, ClassVar, Iterable, Iterator, Mapping, Sequence

#: items pickled together by :func:`pack`: each chunk gets its own memo
PACK_CHUNK = 5_000


class Row(Mapping[str, Any]):
    """One result row read by column name: a tuple of values and the query's column index, shared by
    every row of the answer: a large answer holds one index, not a hash table per row."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: Mapping[str, int], values: Sequence[Any]):
        self._index = index
        self._values = tuple(values)

    def __getitem__(self, key: str) -> Any:
        return self._values[self._index[key]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return repr(dict(self))

    def __getstate__(self) -> tuple:
        return (self._index, self._values)

    def __setstate__(self, state: tuple) -> None:
        self._index, self._values = state


def column_index(names: Sequence[str]) -> dict[str, int]:
    return {name: position for position, name in enumerate(names)}


#: distinct strings :class:`SharedValues` remembers per column
SHARED_PER_COLUMN = 1_024


class SharedValues:
    """One string object per repeated value of a column, for records held in large numbers.

    A JSON answer builds a new string for every value, so companies of four types would hold a
    copy of one of four strings each. Each column remembers up to ``limit``
    distinct values: a column of unique values (an id) stops adding to the memo once it is full."""

    __slots__ = ("limit", "_columns")

    def __init__(self, limit: int = SHARED_PER_COLUMN):
        self.limit = limit
        self._columns: dict[str, dict[str, str]] = {}

    def __call__(self, column: str, value: Any) -> Any:
        if type(value) is not str:
            return value
        memo = self._columns.get(column)
        if memo is None:
            memo = self._columns[column] = {}
        shared = memo.get(value)
        if shared is not None:
            return shared
        if len(memo) < self.limit:
            memo[value] = value
        return value


#: column indexes of the key sets :func:`frozen_fields` has seen (a plan has a handful of them)
_FIELD_INDEXES: dict[tuple[str, ...], dict[str, int]] = {}
_MAX_FIELD_INDEXES = 1_024


def frozen_fields(fields: Mapping[str, Any]) -> Row:
    """``fields`` as a read-only :class:`Row` whose column index is shared by every mapping with the same
    keys: planned creates of a dozen fields share one index, not a hash table each."""
    keys = tuple(fields)
    index = _FIELD_INDEXES.get(keys)
    if index is None:
        index = column_index(keys)
        if len(_FIELD_INDEXES) < _MAX_FIELD_INDEXES:
            _FIELD_INDEXES[keys] = index
    return Row(index, tuple(fields.values()))


def pack(items: Sequence[Any], chunk: int = PACK_CHUNK) -> list[bytes]:
    """``items`` pickled ``chunk`` at a time.

    A value that crosses from one asset to the next is pickled by the IO manager, and a pickler
    remembers every object it wrote (an entry per tuple, string and number) until it is done,
    which for a large value costs more than the value. Packed, the outer pickle sees a few bytes objects and
    each inner one remembers only its chunk."""
    return [pickle.dumps(list(items[start : start + chunk]), protocol=pickle.HIGHEST_PROTOCOL)
            for start in range(0, len(items), chunk)]


def unpack(chunks: Iterable[bytes]) -> list[Any]:
    """The items of :func:`pack`, in order."""
    items: list[Any] = []
    for data in chunks:
        items.extend(pickle.loads(data))  # noqa: S301 - our own chunks, inside the IO manager's pickle
    return items


def iter_unpacked(chunks: Iterable[bytes]) -> Iterator[Any]:
    """The items of :func:`pack`, in order, a chunk in memory at a time."""
    for data in chunks:
        yield from pickle.loads(data)  # noqa: S301 - our own chunks, inside the IO manager's pickle


class PackedList(list):
    """A list that pickles its items with :func:`pack` (and unpickles as a PackedList)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unpack_list, (pack(self),))


def _unpack_list(chunks: list[bytes]) -> PackedList:
    return PackedList(unpack(chunks))


class _Packed:
    """Pickled chunks of one field (a marker, so a pickle written without chunks still loads)."""

    def __init__(self, chunks: list[bytes]):
        self.chunks = chunks


class ChunkedPickle:
    """Mixin for a frozen dataclass that the IO manager pickles between assets: the tuple fields
    named in ``chunked_fields`` pickle through :func:`pack`, the others as they are."""

    chunked_fields: ClassVar[tuple[str, ...]] = ()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in self.chunked_fields:
            state[name] = _Packed(pack(state[name]))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = {name: tuple(unpack(value.chunks)) if isinstance(value, _Packed) else value
                 for name, value in state.items()}
        self.__dict__.update(state)  # a frozen dataclass: no __setattr__
