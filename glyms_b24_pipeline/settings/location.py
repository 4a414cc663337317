"""The run tag by which Dagster's UI lists a run under its job, for runs made without their code location."""

from __future__ import annotations

from typing import Any

#: Dagster's own tag ("repository@location") on runs created from a code location; the job's Runs
#: tab and the timeline filter on it
REPOSITORY_LABEL_TAG = ".dagster/repository"


def label_run_with_its_location(context: Any, location_name: str) -> None:
    """A run created without its code location (``dagster asset materialize -m ...``) gets the label the
    UI lists runs by (``location_name``: this environment's ``location.name``), so it appears under its
    job like every other run. Runs created from the code location already carry it."""
    run, instance = getattr(context, "dagster_run", None), getattr(context, "instance", None)
    if run is None or instance is None or REPOSITORY_LABEL_TAG in run.tags or run.remote_job_origin is not None:
        return
    instance.add_run_tags(run.run_id, {REPOSITORY_LABEL_TAG: f"__repository__@{location_name}"})
