"""The Dagster instance of glyms-b24: where runs are kept, how it is opened, how a run is started.

- ``open_instance()`` refuses a ``DAGSTER_HOME`` without ``dagster.yaml`` (Dagster would silently
  keep the history in SQLite there) and serialises the first use of a new instance: several
  processes creating Dagster's tables at once can leave it broken (``duplicate key ...
  pg_type_typname_nsp_index``), so creation and migration run under a PostgreSQL advisory lock
  on Dagster's own database (a file lock for a SQLite instance).
- ``execute_or_submit()`` sends a CLI run through the instance's queue when a daemon serves it
  (same queue, same writer slot, same launcher as scheduled runs) and runs it in this process
  only when none does; either way the result is read back from run storage as a ``RunOutcome``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence
from urllib.parse import urlsplit

import dagster as dg
import psycopg2
import psycopg2.extensions
import yaml

from glyms_b24_pipeline.errors import ConfigError, OperatorError

DAGSTER_PG_URL_ENV = "DAGSTER_PG_URL"
#: the code location's name in every workspace (workspace.yaml, deploy/workspace.yaml, [tool.dagster])
CODE_LOCATION_NAME = "glyms_b24_pipeline"
DEFINITIONS_MODULE = "glyms_b24_pipeline.definitions"
#: first key of the advisory lock that serialises the first use of an instance ("gbdi")
INSTANCE_LOCK_NAMESPACE = 0x67626469
INSTANCE_LOCK_WAIT_SECONDS = 120
#: a daemon whose queue heartbeat is older than this is not serving the instance (it beats every 30 s)
DAEMON_HEARTBEAT_MAX_AGE_SECONDS = 90.0
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
#: run tag: who started a run from the command line
LAUNCHED_BY_TAG = "glyms_b24/launched_by"

# The instance blocks every glyms-b24 instance shares (the repository's dagster.yaml holds the same,
# plus PostgreSQL storage; a test keeps them equal).
SHARED_INSTANCE_CONFIG: dict[str, Any] = {
    "concurrency": {"runs": {"tag_concurrency_limits": [
        {"key": "glyms_b24/bitrix24", "value": "writer", "limit": 1}]}},
    "python_logs": {"python_log_level": "INFO", "managed_python_loggers": ["glyms_b24_pipeline"]},
    "run_monitoring": {"enabled": True, "free_slots_after_run_end_seconds": 300},
    "telemetry": {"enabled": False},
}


# --- the instance's configuration -------------------------------------------------------------


def instance_yaml(storage_url: Optional[str], *, comment: str = "") -> str:
    """A dagster.yaml with the shared blocks; run history in PostgreSQL at ``storage_url`` (None: SQLite)."""
    config: dict[str, Any] = {}
    if storage_url:
        config["storage"] = {"postgres": {"postgres_url": storage_url}}
    config.update(SHARED_INSTANCE_CONFIG)
    header = "".join(f"# {line}\n" for line in comment.splitlines())
    return header + yaml.safe_dump(config, sort_keys=False)


def write_instance_yaml(home: Path, storage_url: Optional[str], *, comment: str = "") -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    path.write_text(instance_yaml(storage_url, comment=comment), encoding="utf-8")
    return path


def dagster_home() -> Path:
    """``$DAGSTER_HOME`` holding a ``dagster.yaml``, or a one-line error (exit 2)."""
    value = os.environ.get("DAGSTER_HOME", "").strip()
    if not value:
        raise ConfigError("DAGSTER_HOME no está definida (DAGSTER_HOME is not set): point it at the folder "
                          "holding dagster.yaml so the run is kept in the history")
    home = Path(value)
    if not (home / "dagster.yaml").is_file():
        raise ConfigError(f"DAGSTER_HOME={home} no tiene dagster.yaml (no dagster.yaml there): copy the project's "
                          "dagster.yaml into it; without it Dagster would keep the history in a local SQLite file")
    return home


def _resolve(value: Any, where: str) -> Any:
    """A dagster.yaml value, with ``{env: NAME}`` read from the environment."""
    if isinstance(value, Mapping) and set(value) == {"env"}:
        name = str(value["env"])
        resolved = os.environ.get(name, "").strip()
        if not resolved:
            raise ConfigError(f"la variable de entorno {name} no está definida ({name} is not set; {where} in dagster.yaml)")
        return resolved
    return value


def storage_url(home: Path) -> Optional[str]:
    """The SQLAlchemy URL of the instance's PostgreSQL storage, or None for SQLite."""
    path = home / "dagster.yaml"
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read it ({type(exc).__name__})") from None
    postgres = (config.get("storage") or {}).get("postgres") if isinstance(config, Mapping) else None
    if not postgres:
        return None
    if "postgres_url" in postgres:
        url = str(_resolve(postgres["postgres_url"], "storage.postgres.postgres_url"))
        scheme = urlsplit(url).scheme
        if scheme != "postgresql+psycopg2":
            raise ConfigError(f"{DAGSTER_PG_URL_ENV if isinstance(postgres['postgres_url'], Mapping) else path} must start "
                              f"with postgresql+psycopg2:// (got {scheme or 'no scheme'}://): other drivers are not installed")
        return url
    from dagster_postgres.utils import get_conn_string

    db = {key: _resolve(value, f"storage.postgres.postgres_db.{key}") for key, value in postgres["postgres_db"].items()}
    return get_conn_string(**db)


def libpq_dsn(url: str) -> str:
    """The libpq DSN of a SQLAlchemy PostgreSQL URL (the driver suffix dropped)."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}"


def describe_url(url: str) -> str:
    """``host:port/db`` of a storage URL, never the password."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    if not parts.hostname and "host=" in parts.query:
        host = parts.query.split("host=")[1].split("&")[0]
    return f"{host}:{parts.port or 5432}{parts.path}"


@contextlib.contextmanager
def first_use_lock(home: Path, url: Optional[str], *, wait_seconds: float = INSTANCE_LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Only one process at a time creates or migrates the instance's storage."""
    if url is None:
        with open(home / ".glyms_b24_instance.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed (or the process dies)
            yield
        return
    try:
        conn = psycopg2.connect(libpq_dsn(url), connect_timeout=10, application_name="glyms-b24 instance init")
    except psycopg2.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise OperatorError(f"no se puede conectar a la base de Dagster {describe_url(url)} "
                            f"(cannot connect to Dagster's database): {reason}") from None
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SET lock_timeout = %s", (f"{int(wait_seconds * 1000)}ms",))
            cur.execute("SELECT pg_advisory_lock(%s, 0)", (INSTANCE_LOCK_NAMESPACE,))
        yield  # the session lock goes with the connection, also if this process dies meanwhile
    finally:
        conn.close()


def open_instance(home: Optional[Path] = None) -> dg.DagsterInstance:
    """The instance of ``$DAGSTER_HOME``, its storage created or migrated by one process at a time."""
    home = home or dagster_home()
    url = storage_url(home)
    with first_use_lock(home, url):
        instance = dg.DagsterInstance.from_config(str(home))
        # touch every storage now, under the lock: some create their tables on first use
        instance.get_runs(limit=1)
        instance.event_log_storage.get_maximum_record_id()
        instance.all_instigator_state()
        instance.get_daemon_heartbeats()
    return instance


# --- is a daemon serving this instance? -----------------------------------------------------------


def daemon_is_live(instance: dg.DagsterInstance, max_age_seconds: float = DAEMON_HEARTBEAT_MAX_AGE_SECONDS) -> bool:
    """True when a daemon's run queue beat recently on this instance and the instance queues runs."""
    from dagster._core.run_coordinator import QueuedRunCoordinator

    if not isinstance(instance.run_coordinator, QueuedRunCoordinator):
        return False
    heartbeat = instance.get_daemon_heartbeats().get(QUEUE_DAEMON)
    return heartbeat is not None and time.time() - heartbeat.timestamp <= max_age_seconds


# --- what a run did, read from run storage ------------------------------------------------------------


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
        from dagster._core.events import DagsterEventType

        run = instance.get_run_by_id(run_id)
        if run is None:
            raise OperatorError(f"run {run_id} is not in the run history of this instance")
        outcome = cls(run_id=run_id, status=run.status.value, executed_by=executed_by)
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                materialization = event.step_materialization_data.materialization
                outcome.materializations[materialization.asset_key] = metadata_values(materialization.metadata)
            elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation: Any = event.event_specific_data
                outcome.check_evaluations.append(CheckEvaluation(evaluation.asset_key, evaluation.check_name,
                                                                 bool(evaluation.passed)))
            elif event.event_type == DagsterEventType.STEP_FAILURE:
                data: Any = event.event_specific_data
                user = getattr(data, "user_failure_data", None)
                outcome.step_failures.append(StepFailure(
                    step_key=event.step_key or "", description=_failure_line(data),
                    metadata=metadata_values(user.metadata or {}) if user is not None else {}))
            elif event.event_type == DagsterEventType.RUN_FAILURE:
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


# --- one way to start a run -----------------------------------------------------------------------


def _config_dict(run_config: Any) -> dict[str, Any]:
    if isinstance(run_config, dg.RunConfig):
        return run_config.to_config_dict()
    return dict(run_config or {})


def execute_or_submit(
    instance: dg.DagsterInstance,
    job_name: str,
    run_config: Any = None,
    tags: Optional[Mapping[str, str]] = None,
    *,
    on_queued: Optional[Callable[[str], None]] = None,
    poll_seconds: float = 1.0,
) -> RunOutcome:
    """Run ``job_name`` through the daemon's queue when a daemon serves ``instance``, else in this process."""
    tags = {LAUNCHED_BY_TAG: "cli", **(tags or {})}
    if daemon_is_live(instance):
        run_id = submit_run(instance, job_name, run_config, tags)
        if on_queued is not None:
            on_queued(run_id)
        finished = wait_for_run(instance, run_id, poll_seconds=poll_seconds)
        if finished:
            return RunOutcome.from_storage(instance, run_id, executed_by="daemon")
        # the daemon stopped while our run was still queued: run it here instead (it was never started)
        instance.report_run_canceled(instance.get_run_by_id(run_id),  # type: ignore[arg-type]
                                     message="the daemon stopped while this run was queued; run in the CLI's process instead")
    return execute_here(instance, job_name, run_config, tags)


def job_named(job_name: str) -> dg.JobDefinition:
    """The code location's job ``job_name`` (the reconstructor of :func:`execute_here`)."""
    from glyms_b24_pipeline.definitions import build_definitions

    return build_definitions().resolve_job_def(job_name)


def execute_here(instance: dg.DagsterInstance, job_name: str, run_config: Any, tags: Mapping[str, str]) -> RunOutcome:
    """Run ``job_name`` in this process (its executor is in-process), recorded on ``instance``.

    Through ``execute_job``, not ``JobDefinition.execute_in_process``: the latter keeps every step's
    output in memory to the end of the run (and swaps the IO manager for an in-memory one), so a
    100,000-row run held the Glyms rows, the portal's listing and the plan at once."""
    job = dg.build_reconstructable_job("glyms_b24_pipeline.instance", "job_named", reconstructable_args=(job_name,))
    with dg.execute_job(job, instance, run_config=_config_dict(run_config), tags=dict(tags),
                        raise_on_error=False) as result:
        run_id = result.run_id
    return RunOutcome.from_storage(instance, run_id, executed_by="in-process")


def submit_run(instance: dg.DagsterInstance, job_name: str, run_config: Any, tags: Mapping[str, str]) -> str:
    """Create a run of ``job_name`` as the UI would (origin: this code location) and queue it; returns its id."""
    from dagster._core.definitions.selector import JobSubsetSelector
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    config = _config_dict(run_config)
    origin = InProcessCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(executable_path=sys.executable, module_name=DEFINITIONS_MODULE,
                                                    working_directory=os.getcwd()),
        location_name=CODE_LOCATION_NAME,
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as process_context:
        workspace = process_context.create_request_context()
        location = workspace.get_code_location(CODE_LOCATION_NAME)
        repository = next(iter(location.get_repositories().values()))
        remote_job = location.get_job(JobSubsetSelector(location_name=CODE_LOCATION_NAME,
                                                        repository_name=repository.name, job_name=job_name,
                                                        op_selection=None))
        plan = location.get_execution_plan(remote_job, config, step_keys_to_execute=None, known_state=None,
                                           instance=instance).execution_plan_snapshot
        run = instance.create_run(
            job_name=job_name, run_id=None, run_config=config, resolved_op_selection=None,
            step_keys_to_execute=plan.step_keys_to_execute, op_selection=None, status=None, root_run_id=None,
            parent_run_id=None, tags={**remote_job.tags, **tags}, job_snapshot=remote_job.job_snapshot,
            execution_plan_snapshot=plan, parent_job_snapshot=remote_job.parent_job_snapshot,
            remote_job_origin=remote_job.get_remote_origin(), job_code_origin=remote_job.get_python_origin(),
            asset_selection=None, asset_check_selection=None, asset_graph=repository.asset_graph,
        )
        instance.submit_run(run.run_id, workspace)
    return run.run_id


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


def run_failed_reason(outcome: RunOutcome) -> Sequence[str]:
    """Distinct one-line causes of a failed run: its steps' failures, else the run's own message."""
    lines = list(dict.fromkeys(f.description for f in outcome.step_failures))
    if not lines and outcome.run_failure:
        lines = [outcome.run_failure]
    return lines


# --- the sandbox's instance -----------------------------------------------------------------------

SANDBOX_DAGSTER_DB = "glyms_sandbox_dagster"


def prepare_sandbox_instance(admin_dsn: str, home: Path) -> Path:
    """The sandbox's DAGSTER_HOME: run history in a database beside the sandbox Glyms database."""
    from glyms_b24_pipeline.sandbox.postgres import create_database, sqlalchemy_url

    conn = psycopg2.connect(admin_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (SANDBOX_DAGSTER_DB,))
            exists = cur.fetchone() is not None
    finally:
        conn.close()
    if exists:
        params = psycopg2.extensions.parse_dsn(admin_dsn)
        params["dbname"] = SANDBOX_DAGSTER_DB
        dsn = psycopg2.extensions.make_dsn(**params)
    else:
        dsn = create_database(admin_dsn, SANDBOX_DAGSTER_DB)
    write_instance_yaml(home, sqlalchemy_url(dsn),
                        comment="Sandbox Dagster instance: run history in the sandbox's PostgreSQL (written by glyms-b24 sandbox).")
    return home
