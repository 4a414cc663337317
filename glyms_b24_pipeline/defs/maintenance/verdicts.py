"""Every finished run of a sync carries its verdict as tags, whatever started it.

The command line tags the runs it waits for itself; this sensor tags the others (the schedules,
the change-log sensor, the UI's launchpad, ``dagster asset materialize``) a few seconds after
they end, so the runs list tells a clean run from one with problems without opening it.
"""

from __future__ import annotations

import datetime as _datetime
from typing import Sequence

import dagster as dg

from glyms_b24_pipeline.sync.outcome import OUTCOME_TAG, RunOutcome, record_verdict

VERDICT_SENSOR = "sync_run_verdicts"
#: the implicit job of assets materialised outside a named job (the UI's "Materialize", the CLI)
ASSET_JOB = "__ASSET_JOB"
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
BATCH = 50


def verdict_sensor(job_names: Sequence[str]) -> dg.SensorDefinition:
    """Tags each finished run of ``job_names`` (and of the implicit asset job) with its verdict."""
    watched = frozenset(job_names)

    @dg.sensor(name=VERDICT_SENSOR, minimum_interval_seconds=15, default_status=dg.DefaultSensorStatus.RUNNING)
    def sync_run_verdicts(context: dg.SensorEvaluationContext):
        """Writes each finished sync run's outcome (done / done with problems / failed) and counts as run tags."""
        after = float(context.cursor) if context.cursor else None
        records = context.instance.get_run_records(
            filters=dg.RunsFilter(statuses=FINISHED, updated_after=_datetime.datetime.fromtimestamp(after, tz=_datetime.timezone.utc) if after else None),
            limit=BATCH, order_by="update_timestamp", ascending=True)
        tagged = 0
        for record in records:
            run = record.dagster_run
            if run.job_name.startswith(ASSET_JOB) or run.job_name in watched:
                if OUTCOME_TAG not in run.tags:
                    record_verdict(context.instance, RunOutcome.from_storage(context.instance, run.run_id))
                    tagged += 1
            after = max(after or 0.0, record.update_timestamp.timestamp())
        if after is not None:
            context.update_cursor(str(after))
        return dg.SkipReason(f"{tagged} run(s) tagged with their verdict") if not tagged else None

    return sync_run_verdicts
