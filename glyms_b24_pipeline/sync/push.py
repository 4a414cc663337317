"""The write protocol every sync shares: audit ``sent`` -> batch -> read back lost answers -> settle.

A sync describes its changes through a :class:`WriteAdapter` (which calls a change needs, how to
recognise a created id, how to read back writes whose answer was lost); :func:`push_changes`
does the rest the same way for every sync:

* writes go out a slice at a time; the slice's audit rows are inserted as ``sent`` before its
  batches leave and settled after, so a crash leaves at most one slice of truthful
  "outcome unknown" rows and never a write without a row;
* a write batch is never resent after a lost answer (a create could apply twice); the adapter
  reads the rows concerned back and each lost write is settled as applied or not;
* before each slice the portal lock is checked, so a run that lost it stops before writing;
* one failing command fails only its own change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Mapping, Optional, Protocol, Sequence, TypeVar

from glyms_b24_pipeline.bitrix24.client import BatchCommand
from glyms_b24_pipeline.bitrix24.errors import AuthError
from glyms_b24_pipeline.glyms.resource import GlymsTransaction
from glyms_b24_pipeline.sync.audit import SENT, AuditRecord, AuditTrail
from glyms_b24_pipeline.sync.basis import COMPACT

log = logging.getLogger(__name__)

#: changes per slice: the audit rows of a slice are written before its batches leave
SLICE_SIZE = 250

SUCCESS, FAILED, UNKNOWN = "success", "failed", "unknown"

C = TypeVar("C")


@dataclass(frozen=True, **COMPACT)
class WriteCommand:
    """One Bitrix24 call of a change; ``params`` may hold ``ResultRef`` values naming earlier keys."""

    key: str
    method: str
    params: Mapping[str, Any]
    operation: str  # what the audit calls it: create, update, price_add, deactivate, ...
    entity: str  # audit entity: service, service_price, company, ...


#: why a command failed: worth retrying later, never (the data is wrong), or not tried (credentials refused)
TRANSIENT, PERMANENT, BLOCKED = "transient", "permanent", "blocked"


@dataclass(**COMPACT)
class CommandStep:
    """How one command ended: success, failed, or unknown (its answer was lost)."""

    command: WriteCommand
    status: str
    error: Optional[str] = None
    result: Any = None
    failure: Optional[str] = None  # transient | permanent | blocked, for a failed step


def failure_kind(error: Any) -> str:
    """Classify a client error for retry decisions."""
    if isinstance(error, AuthError):
        return BLOCKED
    if getattr(error, "retryable", False) or getattr(error, "outcome_unknown", False):
        return TRANSIENT
    return PERMANENT


@dataclass(**COMPACT)
class ChangeOutcome(Generic[C]):
    """What became of one planned change."""

    change: C
    glyms_key: str
    bitrix_id: Optional[int]
    steps: list[CommandStep] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.status == SUCCESS for step in self.steps)

    @property
    def unknown(self) -> bool:
        return any(step.status == UNKNOWN for step in self.steps)

    @property
    def errors(self) -> list[str]:
        return [f"{step.command.method}: {step.error}" for step in self.steps if step.status != SUCCESS]

    @property
    def failure(self) -> Optional[str]:
        """The worst failure kind of the change's steps (blocked > permanent > transient), or None."""
        kinds = {step.failure for step in self.steps if step.status != SUCCESS}
        return next((kind for kind in (BLOCKED, PERMANENT, TRANSIENT) if kind in kinds), None)

    def compact(self) -> None:
        """Once settled, a change that succeeded keeps no steps (their commands copy its fields): ``ok``,
        ``errors`` and ``failure`` answer the same. A failed one keeps them, to say what failed."""
        if self.ok and not self.unknown:
            self.steps = []

    def settle_step(self, step: CommandStep, applied: bool, *, missing: str = "the write is not in Bitrix24 (read back)") -> None:
        """Decide a lost answer from what the portal holds now."""
        if applied:
            step.status, step.error, step.failure = SUCCESS, None, None
        else:
            step.status, step.failure = FAILED, TRANSIENT
            step.error = f"{step.error}; answer lost and {missing}; the next run retries"


class WriteAdapter(Protocol[C]):
    """What the protocol needs to know about one sync's changes."""

    def commands(self, change: C) -> list[WriteCommand]: ...

    def glyms_key(self, change: C) -> str: ...

    def bitrix_id(self, change: C) -> Optional[int]: ...

    def created_id(self, command: WriteCommand, result: Any) -> Optional[int]: ...

    def audit_detail(self, command: WriteCommand, change: C) -> Optional[dict[str, Any]]: ...

    def read_back(self, client: Any, outcomes: Sequence[ChangeOutcome[C]]) -> None:
        """Settle every ``unknown`` step of ``outcomes`` (``outcome.settle_step``); may raise."""
        ...


def audit_records(adapter: WriteAdapter[C], outcome: ChangeOutcome[C]) -> list[AuditRecord]:
    return [
        AuditRecord(entity=step.command.entity, glyms_key=outcome.glyms_key, operation=step.command.operation,
                    outcome=SUCCESS if step.status == SUCCESS else FAILED,
                    bitrix_id=str(outcome.bitrix_id) if outcome.bitrix_id is not None else None,
                    error=step.error, detail=adapter.audit_detail(step.command, outcome.change))
        for step in outcome.steps
    ]


def push_changes(
    client: Any,
    changes: Sequence[C],
    adapter: WriteAdapter[C],
    trail: Optional[AuditTrail] = None,
    *,
    slice_size: int = SLICE_SIZE,
    before_slice: Optional[Callable[[], None]] = None,
    before_request: Optional[Callable[[], None]] = None,
    settle_also: Optional[Callable[[Sequence[ChangeOutcome[C]]], Callable[[GlymsTransaction], object]]] = None,
    on_progress: Optional[Callable[[int, int], None]] = None,
) -> list[ChangeOutcome[C]]:
    """Apply ``changes`` through ``client.batch`` in slices; one outcome per change, in order.

    ``before_slice`` runs before each slice's writes (the portal-lock check), ``before_request``
    right before every write request leaves (the writer's heartbeat); ``settle_also``
    builds what must commit in the same transaction as a slice's audit settlement (the
    companies sync marks its change-log rows there); ``on_progress(done, total)`` reports.
    """
    outcomes: list[ChangeOutcome[C]] = []
    total = len(changes)
    for start in range(0, total, slice_size):
        if before_slice is not None:
            before_slice()
        slice_changes = changes[start : start + slice_size]
        planned = [(change, adapter.commands(change)) for change in slice_changes]
        audit_ids = trail.record([
            AuditRecord(entity=cmd.entity, glyms_key=adapter.glyms_key(change), operation=cmd.operation, outcome=SENT,
                        bitrix_id=_text(adapter.bitrix_id(change)), detail=adapter.audit_detail(cmd, change))
            for change, cmds in planned for cmd in cmds
        ]) if trail else []
        results = client.batch([BatchCommand(cmd.key, cmd.method, cmd.params) for _, cmds in planned for cmd in cmds],
                               idempotent=False, before_send=before_request)
        slice_outcomes: list[ChangeOutcome[C]] = []
        for change, cmds in planned:
            outcome = ChangeOutcome(change=change, glyms_key=adapter.glyms_key(change), bitrix_id=adapter.bitrix_id(change))
            for cmd in cmds:
                result = results[cmd.key]
                if result.ok:
                    created = adapter.created_id(cmd, result.result)
                    if created is not None:
                        outcome.bitrix_id = created
                    outcome.steps.append(CommandStep(cmd, SUCCESS))  # the answer is not kept: a large push's answers add up
                else:
                    status = UNKNOWN if getattr(result.error, "outcome_unknown", False) else FAILED
                    outcome.steps.append(CommandStep(cmd, status, str(result.error), failure=failure_kind(result.error)))
            slice_outcomes.append(outcome)
        _read_back(client, adapter, [o for o in slice_outcomes if o.unknown])
        if trail:
            also = settle_also(slice_outcomes) if settle_also else None
            trail.settle(audit_ids, [record for outcome in slice_outcomes for record in audit_records(adapter, outcome)],
                         also=also)
        for outcome in slice_outcomes:
            outcome.compact()
        outcomes.extend(slice_outcomes)
        if on_progress is not None:
            on_progress(len(outcomes), total)
    return outcomes


def _read_back(client: Any, adapter: WriteAdapter[C], outcomes: Sequence[ChangeOutcome[C]]) -> None:
    if not outcomes:
        return
    try:
        adapter.read_back(client, outcomes)
    except Exception as exc:  # the read-back is best effort: the next run compares anyway
        log.warning("read-back of %d lost write answers failed: %s", len(outcomes), exc)
        for outcome in outcomes:
            for step in outcome.steps:
                if step.status == UNKNOWN:
                    step.status, step.failure = FAILED, TRANSIENT
                    step.error = f"{step.error}; answer lost and read-back failed ({exc}); the next run compares again"
    for outcome in outcomes:  # an adapter that left a step undecided: say so rather than guess
        for step in outcome.steps:
            if step.status == UNKNOWN:
                step.status, step.failure = FAILED, TRANSIENT
                step.error = f"{step.error}; answer lost and not found by the read-back; the next run compares again"


def _text(value: Optional[int]) -> Optional[str]:
    return str(value) if value is not None else None
