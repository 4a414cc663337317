"""``PortalWriter``: the run's hold on the portal, and the rule that binds a plan to it.

Rule: a plan is applied once, by the run that computed it, under the portal lock that run held
when it read Bitrix24. A plan that breaks the rule (the push materialised alone, re-execution
from failure, a retried push step) is never applied: the push reads both sides again under its
own lock and plans afresh, so nothing that already succeeded is sent twice.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Callable, Optional, TypeVar

import dagster as dg
from pydantic import Field, PrivateAttr

from glyms_b24_pipeline.settings.model import WriterSettings
from glyms_b24_pipeline.sync.basis import PlanBasis
from glyms_b24_pipeline.sync.liveness import RunLiveness, reap_dead_runs
from glyms_b24_pipeline.sync.lock import PortalLock

T_Plan = TypeVar("T_Plan", bound=Any)


class PortalWriter(dg.ConfigurableResource):
    """Holds the portal's writer lock from a sync's first read of Bitrix24 to the end of the run."""

    dsn: Annotated[str, Field(description="Glyms PostgreSQL DSN where the advisory lock lives (GLYMS_PG_DSN)")]

    _lock: Optional[PortalLock] = PrivateAttr(default=None)
    _reads: dict[str, tuple[str, str]] = PrivateAttr(default_factory=dict)
    _applied: set[str] = PrivateAttr(default_factory=set)
    _liveness: Optional[RunLiveness] = PrivateAttr(default=None)

    def __repr_args__(self):  # the DSN may carry a password
        for name, value in super().__repr_args__():
            yield name, ("***" if name == "dsn" and value else value)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # from the run's start its process is seen alive, so the next writer can tell a dead run
        self._mark_alive(context.instance, context.run_id)

    def _mark_alive(self, instance: Optional[dg.DagsterInstance], run_id: Optional[str]) -> None:
        if run_id and (self._liveness is None or not self._liveness.held):
            self._liveness = RunLiveness(self.dsn, run_id)
            self._liveness.take(instance)

    def hold(self, context: Any, portal_url: str, settings: WriterSettings) -> PortalLock:
        """The run's lock on ``portal_url``, taken on first use (waits ``settings.lock_wait_seconds``)."""
        if self._lock is None or not self._lock.held:
            self._lock = PortalLock(self.dsn, portal_url, _run_id(context), wait_seconds=settings.lock_wait_seconds,
                                    in_flight_grace_seconds=settings.in_flight_grace_seconds)
            self._lock.acquire()
            if self._lock.waited_seconds >= 1:
                context.log.info(f"waited {self._lock.waited_seconds:.0f} s for another sync to finish")
            if self._lock.fenced_seconds:
                context.log.warning(f"waited {self._lock.fenced_seconds:.0f} s for the last request of a sync that "
                                    "was killed mid-push to finish on the portal")
            instance = getattr(context, "instance", None)
            self._mark_alive(instance, getattr(context, "run_id", None))
            for run_id in reap_dead_runs(instance, self.dsn, found_by=f"run {_run_id(context)}",
                                         portal_url=portal_url, exclude_run_id=_run_id(context)):
                context.log.warning(f"run {run_id} had no live process (killed?): reported failed")
        return self._lock

    @property
    def lock(self) -> Optional[PortalLock]:
        return self._lock if self._lock is not None and self._lock.held else None

    def note_read(self, sync: str, context: Any) -> None:
        """The portal was read for ``sync`` in this run under the current lock."""
        if self.lock is None or self.lock.epoch is None:
            raise RuntimeError("note_read without holding the portal lock")
        self._reads[sync] = (_run_id(context), self.lock.epoch)

    def plan_basis(self, sync: str, context: Any) -> Optional[PlanBasis]:
        """The basis for a plan computed now from this run's read, or None when the read is not this run's."""
        read = self._reads.get(sync)
        if read is None or self.lock is None or read != (_run_id(context), self.lock.epoch):
            return None
        return PlanBasis(run_id=read[0], lock_epoch=read[1], plan_id=uuid.uuid4().hex)

    def stale_reason(self, basis: Optional[PlanBasis], context: Any) -> Optional[str]:
        """Why a plan may not be applied by this step, or None when it may."""
        if basis is None:
            return "the stored plan was computed from a portal read of another run"
        if basis.run_id != _run_id(context):
            return f"the stored plan was computed by run {basis.run_id}"
        if self.lock is None or basis.lock_epoch != self.lock.epoch:
            return "the portal lock was released after the plan was computed"
        if basis.plan_id in self._applied:
            return "the plan was already applied once in this run (retried step)"
        return None

    def mark_applied(self, basis: PlanBasis) -> None:
        self._applied.add(basis.plan_id)

    def plan_to_apply(self, context: Any, client: Any, settings: WriterSettings, plan: T_Plan,
                      recompute: Callable[[], T_Plan]) -> tuple[T_Plan, Optional[str], PortalLock]:
        """For a push: the portal held, and the plan it may apply (its own, or one ``recompute``d now), with the
        reason it was recomputed (None when it is this run's own)."""
        lock = self.hold(context, client.portal_url, settings)
        recomputed = self.stale_reason(plan.basis, context)
        if recomputed:
            context.log.warning(f"plan recomputed before pushing: {recomputed}")
            plan = recompute()
        return plan, recomputed, lock

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self._liveness is not None:
            self._liveness.release()
            self._liveness = None


def _run_id(context: Any) -> str:
    run_id = getattr(context, "run_id", None)
    return str(run_id) if run_id else "ad-hoc"
