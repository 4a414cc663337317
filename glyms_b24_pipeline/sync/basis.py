"""What a plan was computed under; the push applies a plan only under the same basis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Sequence, TypeVar

Change = TypeVar("Change")


@dataclass(frozen=True)
class PlanBasis:
    """Where a plan came from: its run, the lock epoch it read the portal under, and its own id."""

    run_id: str
    lock_epoch: str
    plan_id: str


class PlanOfChanges(Generic[Change]):
    """What every sync's plan answers: its changes by action, and those that write to Bitrix24.

    Mixed into each sync's frozen plan dataclass, which declares ``changes``.
    """

    changes: Sequence[Change]

    def by_action(self, action: Any) -> list[Change]:
        return [c for c in self.changes if c.action == action]  # type: ignore[attr-defined]

    @property
    def writes(self) -> list[Change]:
        return [c for c in self.changes if c.writes]  # type: ignore[attr-defined]
