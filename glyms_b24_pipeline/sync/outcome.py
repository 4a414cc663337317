"""What a writer run did, read back from run storage: its materialisations, checks and failures.

Whoever executed the run (this process, the daemon's queue, a schedule), the command line and the
alerts read it the same way, through the instance's public event log.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Optional, Sequence

import dagster as dg

from glyms_b24_pipeline.settings.errors import OperatorError


@dataclass(frozen=True)
class CheckEvaluation:
    asset_key: dg.AssetKey
    check_name: str
    passed: bool


@dataclass(frozen=True)
class StepFailure:
    step_key: str
    #: the failure's own description (a dg.Failure), else the innermost error's first line
    description: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class RunOutcome:
    """What ``glyms-b24 sync`` needs of a finished run, whoever executed it."""

    run_id: str
    status: str
    materializations: dict[dg.AssetKey, dict[str, Any]] = field(default_factory=dict)
    check_evaluations: list[CheckEvaluation] = field(default_factory=list)
    step_failures: list[StepFailure] = field(default_factory=list)
    #: the run failure's message when the run failed outside any step (a dead process, a launch error)
    run_failure: Optional[str] = None
    #: "daemon" when the run went through the queue, "in-process" otherwise
    executed_by: str = "in-process"

    @property
    def success(self) -> bool:
        return self.status == dg.DagsterRunStatus.SUCCESS.value

    @classmethod
    def from_storage(cls, instance: dg.DagsterInstance, run_id: str, *, executed_by: str = "in-process") -> "RunOutcome":
        run = instance.get_run_by_id(run_id)
        if run is None:
            raise OperatorError(f"run {run_id} is not in the run history of this instance")
        outcome = cls(run_id=run_id, status=run.status.value, executed_by=executed_by)
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                materialization = event.step_materialization_data.materialization
                outcome.materializations[materialization.asset_key] = metadata_values(materialization.metadata)
            elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation: Any = event.event_specific_data
                outcome.check_evaluations.append(CheckEvaluation(evaluation.asset_key, evaluation.check_name,
                                                                 bool(evaluation.passed)))
            elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
                data: Any = event.event_specific_data
                user = getattr(data, "user_failure_data", None)
                outcome.step_failures.append(StepFailure(
                    step_key=event.step_key or "", description=_failure_line(data),
                    metadata=metadata_values(user.metadata or {}) if user is not None else {}))
            elif event.event_type == dg.DagsterEventType.RUN_FAILURE:
                outcome.run_failure = _first_line(event.message or "") or None
        return outcome

    def metadata(self, asset_key: dg.AssetKey) -> dict[str, Any]:
        return self.materializations.get(asset_key, {})


def metadata_values(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def _failure_line(step_failure: Any) -> str:
    user_failure = getattr(step_failure, "user_failure_data", None)
    if user_failure is not None and user_failure.description:
        return user_failure.description
    error = getattr(step_failure, "error", None)
    while error is not None and error.cause is not None:
        error = error.cause
    return _first_line(error.message) if error is not None else "step failed"


def run_failed_reason(outcome: RunOutcome) -> Sequence[str]:
    """Distinct one-line causes of a failed run: its steps' failures, else the run's own message."""
    lines = list(dict.fromkeys(f.description for f in outcome.step_failures))
    if not lines and outcome.run_failure:
        lines = [outcome.run_failure]
    return lines


#: run tags with a finished run's verdict: the runs list shows them without opening the run
OUTCOME_TAG = "glyms_b24/outcome"
COUNTS_TAG = "glyms_b24/counts"
DONE, DONE_WITH_PROBLEMS, FAILED = "done", "done with problems", "failed"


@dataclass(frozen=True)
class RunVerdict:
    """A finished run in one word and four counts: done / done with problems / failed."""

    outcome: str
    written: int = 0
    failed: int = 0
    skipped: int = 0
    rows_in_error: int = 0
    excluded: int = 0
    failed_checks: tuple[str, ...] = ()

    @property
    def problems(self) -> bool:
        return bool(self.failed or self.skipped or self.rows_in_error or self.failed_checks)

    def tags(self) -> dict[str, str]:
        counts = (f"written {self.written}, failed {self.failed}, skipped {self.skipped}, "
                  f"in error {self.rows_in_error}" + (f", excluded {self.excluded}" if self.excluded else ""))
        return {OUTCOME_TAG: self.outcome, COUNTS_TAG: counts}


def _count(metadata: Mapping[str, Any], key: str) -> int:
    try:
        return int(metadata.get(key) or 0)
    except (TypeError, ValueError):
        return 0


def run_verdict(outcome: RunOutcome) -> RunVerdict:
    """The verdict of a finished run from its events: a push's counts (dry runs write nothing), the
    change-log rows in error, the failed checks; failed when the run did not succeed."""
    pushes = [m for m in outcome.materializations.values() if "succeeded" in m and not m.get("dry_run")]
    in_error = [m for m in outcome.materializations.values() if "rows_in_error" in m]
    failed_checks = tuple(sorted(f"{e.asset_key.to_user_string()} {e.check_name}"
                                 for e in outcome.check_evaluations if not e.passed))
    verdict = RunVerdict(
        outcome=DONE,
        written=sum(_count(m, "succeeded") for m in pushes),
        failed=sum(_count(m, "failed") for m in pushes),
        skipped=sum(_count(m, "not_synced") for m in pushes),
        # the push's count, taken after its writes, else the claim's (the push did not run)
        rows_in_error=_count(in_error[-1], "rows_in_error") if in_error else 0,
        excluded=sum(_count(m, "excluded") for m in pushes),
        failed_checks=failed_checks,
    )
    if not outcome.success:
        return replace(verdict, outcome=FAILED)
    return replace(verdict, outcome=DONE_WITH_PROBLEMS) if verdict.problems else verdict


def record_verdict(instance: dg.DagsterInstance, outcome: RunOutcome) -> RunVerdict:
    """Tag the finished run with its verdict (idempotent: the same events give the same tags)."""
    verdict = run_verdict(outcome)
    instance.add_run_tags(outcome.run_id, verdict.tags())
    return verdict
