"""The push's Dagster face, shared by every sync: guard, dry run, metadata, the failure check."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any, Iterable, Mapping, Optional, Sequence

import dagster as dg

from glyms_b24_pipeline.glyms.resource import RowTable
from glyms_b24_pipeline.sync.failures import EXIT_CODE_KEY
from glyms_b24_pipeline.sync.push import BLOCKED, ChangeOutcome

PUSH_FAILURES_CHECK = "push_failures"
#: rows a row-level table shows (its metadata's count says how many there are)
TABLE_ROWS = 100


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def row_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, limit: int = TABLE_ROWS) -> dg.MetadataValue:
    """The first ``limit`` ``rows`` as a Dagster table (a row per Glyms key, the UI sorts and searches it)."""
    records = [dg.TableRecord({c: _cell(v) for c, v in zip(columns, row, strict=False)})
               for row in itertools.islice(rows, limit)]
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in columns]))


def rows_metadata(name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                  total: Optional[int] = None) -> dict[str, Any]:
    """``{name: how many, name_rows: the first 100 as a table}``; the table only when there are rows."""
    count = len(rows) if total is None else total
    return {name: count, **({f"{name}_rows": row_table(columns, rows)} if rows else {})}


def push_failures_spec(asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(PUSH_FAILURES_CHECK, asset=asset_key, description="Every write of the last push succeeded.")


def enforce_guard(guard: Optional[str], *, allowed: bool, dry_run: bool, remedy: str) -> None:
    """Stop the push, before any write, when a guard tripped and the operator did not consent."""
    if guard and not allowed and not dry_run:
        raise dg.Failure(description=f"Push stopped, nothing written: {guard}. {remedy}", allow_retries=False)


def raise_if_blocked(outcomes: Sequence[ChangeOutcome[Any]]) -> None:
    """The portal refused our credentials mid-push: the run fails (exit 2) once the slice is settled."""
    blocked = [o for o in outcomes if o.failure == BLOCKED]
    if blocked:
        first = blocked[0].errors[0] if blocked[0].errors else "credentials refused"
        raise dg.Failure(
            description=(f"Bitrix24 refused the credentials during the push ({len(blocked)} changes not written): "
                         f"{first}; re-authorise with glyms-b24 auth or check B24_WEBHOOK_URL"),
            allow_retries=False, metadata={EXIT_CODE_KEY: 2})


def push_failure_check(outcomes: Sequence[ChangeOutcome[Any]], *, dry_run: bool = False) -> dg.AssetCheckResult:
    """WARN when any write failed: the successes stay visible on the asset."""
    failed = [o for o in outcomes if not o.ok]
    metadata: dict[str, Any] = {"dry_run": True} if dry_run else {
        "succeeded": len(outcomes) - len(failed),
        **rows_metadata("failed", FAILURE_COLUMNS, _failure_rows(failed)),
    }
    return dg.AssetCheckResult(check_name=PUSH_FAILURES_CHECK, passed=not failed, severity=dg.AssetCheckSeverity.WARN,
                               metadata=metadata)


def push_metadata(
    outcomes: Sequence[ChangeOutcome[Any]],
    *,
    action_of: Any,
    duration: float,
    counters_before: Mapping[str, float],
    counters_after: Mapping[str, float],
    extra: Optional[Mapping[str, Any]] = None,
    what: str = "",
) -> dict[str, Any]:
    """Numeric counts per action and outcome, the request counters of the push, the failures table."""
    failed = [o for o in outcomes if not o.ok]
    by_action = Counter((action_of(o.change), "success" if o.ok else "failed") for o in outcomes)
    metadata: dict[str, Any] = {
        "dagster/row_count": len(outcomes),
        "succeeded": len(outcomes) - len(failed),
        "failed": len(failed),
        **{f"{action}_{outcome}": n for (action, outcome), n in sorted(by_action.items())},
        **dict(extra or {}),
        "duration_seconds": round(duration, 3),
        **{key: round(counters_after[key] - counters_before.get(key, 0), 3) for key in counters_after},
    }
    if failed and what:
        metadata["explain_failed"] = explain_command(what, failed[0].glyms_key)
    if failed:
        metadata["failures"] = row_table(FAILURE_COLUMNS, _failure_rows(failed, action_of))
    return metadata


FAILURE_COLUMNS = ["glyms_key", "action", "error"]
NOT_SYNCED_COLUMNS = ["glyms_key", "action", "reason"]
#: the ``glyms-b24 explain`` subject of each sync's entity (a push's ``what``)
EXPLAIN_SUBJECTS = {"service": "service", "company": "customer"}


def explain_command(what: str, key: str) -> str:
    """The command that shows one row on one screen (both sides, its log, its audit, the next plan)."""
    return f"glyms-b24 explain {EXPLAIN_SUBJECTS.get(what, what)} {key}"


def _failure_rows(failed: Sequence[ChangeOutcome[Any]], action_of: Any = None) -> list[tuple[Any, ...]]:
    return [(o.glyms_key, action_of(o.change) if action_of else getattr(getattr(o.change, "action", ""), "value", ""),
             "; ".join(o.errors)) for o in failed]


def not_synced_metadata(rows: Sequence[tuple[str, str, str]], excluded: Sequence[tuple[str, str, str]] = (),
                        what: str = "") -> dict[str, Any]:
    """Rows the plan could not write (invalid data, duplicate keys) and rows excluded on purpose:
    how many, the first one for a summary line, tables of (Glyms key, action, reason), and the
    command that explains the first one."""
    first = f"{rows[0][0]}: {rows[0][2]}" if rows else "none"
    metadata = {**rows_metadata("not_synced", NOT_SYNCED_COLUMNS, rows), "first_not_synced": first,
                **rows_metadata("excluded", NOT_SYNCED_COLUMNS, excluded)}
    if rows and what:
        metadata["explain_not_synced"] = explain_command(what, rows[0][0])
    return metadata


#: the columns of a push's asset value, one row per change
PUSH_COLUMNS = ["glyms_key", "action", "bitrix_id", "outcome", "error"]


def outcome_rows(outcomes: Sequence[ChangeOutcome[Any]], *, action_of: Any) -> list[tuple[Any, ...]]:
    """One row per change for the push's asset value (row-level results, Hightouch style), as tuples
    in ``PUSH_COLUMNS`` order (a large push holds no dict per change)."""
    return [(o.glyms_key, action_of(o.change), o.bitrix_id, "success" if o.ok else "failed",
             "; ".join(o.errors) or None) for o in outcomes]


def outcome_table(outcomes: Sequence[ChangeOutcome[Any]], *, action_of: Any) -> RowTable:
    """The push's asset value: :func:`outcome_rows` under ``PUSH_COLUMNS`` (``.dataframe()`` for pandas)."""
    return RowTable(PUSH_COLUMNS, outcome_rows(outcomes, action_of=action_of))


def dry_run_result(plan: Any, *, guard_name: str, guard: Optional[str], recomputed: Optional[str],
                   preview: str) -> dg.MaterializeResult:
    """A dry run's push: nothing written, what would be, and the guard's verdict."""
    return dg.MaterializeResult(
        value=RowTable(PUSH_COLUMNS),
        metadata={"dry_run": True, "planned_writes": len(plan.writes), guard_name: guard or "ok",
                  "plan_recomputed": recomputed or "no", "changes": dg.MetadataValue.md(preview)},
        check_results=[push_failure_check([], dry_run=True)],
    )


def pushed_result(context: Any, outcomes: Sequence[ChangeOutcome[Any]], *, what: str, action_of: Any,
                  duration: float, counters_before: dict[str, Any], counters_after: dict[str, Any],
                  extra: dict[str, Any]) -> dg.MaterializeResult:
    """A push that wrote: its outcome table, its metadata and its ``push_failures`` check (``what``: "services")."""
    failed = [o for o in outcomes if not o.ok]
    if failed:
        context.log.warning(f"{len(failed)} of {len(outcomes)} {what} writes failed; see the push_failures check and "
                            f"glyms_b24.sync_audit (run {context.run.run_id}).")
    return dg.MaterializeResult(
        value=outcome_table(outcomes, action_of=action_of),
        metadata=push_metadata(outcomes, action_of=action_of, duration=duration, counters_before=counters_before,
                               counters_after=counters_after, extra=extra, what=what),
        check_results=[push_failure_check(outcomes)],
    )
