"""Starting a run the way Dagster's own launchers do: created from this code location, so it has its origin.

A run is created from the code location (as the UI, the daemon and ``dagster job launch -w
workspace.yaml`` create theirs), so it carries its code location and job: Dagster's UI lists it
under its job and on the timeline, and can re-execute it. When a daemon serves the instance the run
goes through its queue (the same writer slot and launcher as scheduled runs); when none does it is
executed here, in this process. Either way the outcome is read back from run storage.

Why this module uses Dagster internals (the only one that does): Dagster has no public Python API
to create a run with its code-location origin from a script and then submit it or execute it in
the calling process. ``dagster job launch`` does the first from a shell, only through the run
coordinator (a queued run waits for a daemon that may not be running); ``dg.execute_job`` does the
second with no origin, and such runs are missing from their job in the UI. The names used here are
those ``dagster job launch`` and ``dagster api execute_run`` use; ``runs/test_launch.py`` pins what
they must give: the run's origin, its job and tags, and its execution here or by the daemon.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Any, Callable, Iterator, Mapping, Optional

import dagster as dg
from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.execution.api import execute_run
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._utils.hosted_user_process import recon_job_from_origin

from glyms_b24_pipeline.runs.instance import daemon_is_live
from glyms_b24_pipeline.settings.model import DEFAULT_LOCATION_NAME, load_settings
from glyms_b24_pipeline.sync.outcome import RunOutcome

#: the code location's name in a single-portal workspace (workspace.yaml, deploy/workspace.yaml, [tool.dagster]);
#: with several portals each location is named by its settings' ``location.name``
CODE_LOCATION_NAME = DEFAULT_LOCATION_NAME
DEFINITIONS_MODULE = "glyms_b24_pipeline.definitions"
#: run tag: who started a run from the command line
LAUNCHED_BY_TAG = "glyms_b24/launched_by"


def _config_dict(run_config: Any) -> dict[str, Any]:
    if isinstance(run_config, dg.RunConfig):
        return run_config.to_config_dict()
    return dict(run_config or {})


def code_location_name() -> str:
    """The name of this environment's code location: ``location.name`` of its settings, as in the workspace
    (the daemon finds a queued run's code location by this name)."""
    return load_settings().location.location_name


@contextlib.contextmanager
def code_location(instance: dg.DagsterInstance) -> Iterator[Any]:
    """This code location loaded in this process, as a workspace holds it (a request context)."""
    origin = InProcessCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(executable_path=sys.executable, module_name=DEFINITIONS_MODULE,
                                                    working_directory=os.getcwd()),
        location_name=code_location_name(),
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as process_context:
        yield process_context.create_request_context()


def create_run(instance: dg.DagsterInstance, workspace: Any, job_name: str, run_config: Any,
               tags: Mapping[str, str]) -> dg.DagsterRun:
    """A run of ``job_name`` created from the code location, as the UI creates one (not started)."""
    config = _config_dict(run_config)
    name = code_location_name()
    location = workspace.get_code_location(name)
    repository = next(iter(location.get_repositories().values()))
    remote_job = location.get_job(JobSubsetSelector(location_name=name, repository_name=repository.name,
                                                    job_name=job_name, op_selection=None))
    plan = location.get_execution_plan(remote_job, config, step_keys_to_execute=None, known_state=None,
                                       instance=instance).execution_plan_snapshot
    return instance.create_run(
        job_name=job_name, run_id=None, run_config=config, resolved_op_selection=None,
        step_keys_to_execute=plan.step_keys_to_execute, op_selection=None, status=None, root_run_id=None,
        parent_run_id=None, tags={**remote_job.tags, **tags}, job_snapshot=remote_job.job_snapshot,
        execution_plan_snapshot=plan, parent_job_snapshot=remote_job.parent_job_snapshot,
        remote_job_origin=remote_job.get_remote_origin(), job_code_origin=remote_job.get_python_origin(),
        asset_selection=None, asset_check_selection=None, asset_graph=repository.asset_graph,
    )


def execute_here(instance: dg.DagsterInstance, run: dg.DagsterRun) -> RunOutcome:
    """Execute a created run in this process, as ``dagster api execute_run`` does in a run worker.

    The job is in-process: every step runs here, handing its value on through the IO manager's
    files rather than holding every output to the end of the run."""
    assert run.job_code_origin is not None
    execute_run(recon_job_from_origin(run.job_code_origin), run, instance, raise_on_error=False)
    return RunOutcome.from_storage(instance, run.run_id, executed_by="in-process")


def launch(
    instance: dg.DagsterInstance,
    job_name: str,
    run_config: Any = None,
    tags: Optional[Mapping[str, str]] = None,
    *,
    on_queued: Optional[Callable[[str], None]] = None,
    poll_seconds: float = 1.0,
) -> RunOutcome:
    """Run ``job_name``: through the daemon's queue when a daemon serves ``instance``, else in this process."""
    tags = {LAUNCHED_BY_TAG: "cli", **(tags or {})}
    with code_location(instance) as workspace:
        if daemon_is_live(instance):
            run = create_run(instance, workspace, job_name, run_config, tags)
            instance.submit_run(run.run_id, workspace)
            if on_queued is not None:
                on_queued(run.run_id)
            if wait_for_run(instance, run.run_id, poll_seconds=poll_seconds):
                return RunOutcome.from_storage(instance, run.run_id, executed_by="daemon")
            # the daemon stopped while our run was still queued: run it here instead (it was never started)
            instance.report_run_canceled(instance.get_run_by_id(run.run_id),  # type: ignore[arg-type]
                                         message="the daemon stopped while this run was queued; run in the CLI's process instead")
        run = create_run(instance, workspace, job_name, run_config, tags)
    return execute_here(instance, run)


def wait_for_run(instance: dg.DagsterInstance, run_id: str, *, poll_seconds: float = 1.0) -> bool:
    """Wait until the run ends (True); False when it is still queued and no daemon serves the queue.

    Ctrl-C cancels the run (taken off the queue, or terminated) and is passed on.
    """
    try:
        while True:
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                return True
            if run.status == dg.DagsterRunStatus.QUEUED and not daemon_is_live(instance):
                return False
            time.sleep(poll_seconds)
    except KeyboardInterrupt:
        instance.run_coordinator.cancel_run(run_id)
        raise
