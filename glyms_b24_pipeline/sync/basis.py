"""What a plan was computed under; the push applies a plan only under the same basis."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlanBasis:
    """Where a plan came from: its run, the lock epoch it read the portal under, and its own id."""

    run_id: str
    lock_epoch: str
    plan_id: str
