"""What a plan was computed under; the push applies a plan only under the same basis."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Generic, Iterator, Mapping, Sequence, TypeVar

from glyms_b24_pipeline.glyms.rows import ChunkedPickle

Change = TypeVar("Change")

#: ``@dataclass(frozen=True, **COMPACT)``: records held once per row (a plan's changes) get
#: ``__slots__`` (no per-instance ``__dict__``) where frozen slotted dataclasses pickle (3.11+)
COMPACT: dict[str, Any] = {"slots": True} if sys.version_info >= (3, 11) else {}


class _NoFields(Mapping[str, Any]):
    """An empty, immutable mapping; one instance (``NO_FIELDS``) serves every change that writes no field."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"

    def __reduce__(self) -> str:
        return "NO_FIELDS"  # unpickles as this module's instance


#: the ``fields`` of a planned change that writes none: a no-op run holds no empty dict per change
NO_FIELDS: Mapping[str, Any] = _NoFields()


def no_fields() -> Mapping[str, Any]:
    return NO_FIELDS


@dataclass(frozen=True)
class PlanBasis:
    """Where a plan came from: its run, the lock epoch it read the portal under, and its own id."""

    run_id: str
    lock_epoch: str
    plan_id: str


class PlanOfChanges(ChunkedPickle, Generic[Change]):
    """What every sync's plan answers: its changes by action, and those that write to Bitrix24.

    Mixed into each sync's frozen plan dataclass, which declares ``changes`` (pickled in chunks).
    """

    chunked_fields = ("changes",)
    changes: Sequence[Change]

    def by_action(self, action: Any) -> list[Change]:
        return [c for c in self.changes if c.action == action]  # type: ignore[attr-defined]

    @property
    def writes(self) -> list[Change]:
        return [c for c in self.changes if c.writes]  # type: ignore[attr-defined]
