"""The Dagster instance of glyms-b24: where runs are kept, how it is opened, whether a daemon serves it.

``open_instance()`` refuses a ``DAGSTER_HOME`` without ``dagster.yaml`` (Dagster would silently
keep the history in SQLite there) and serialises the first use of a new instance: several
processes creating Dagster's tables at once can leave it broken (``duplicate key ...
pg_type_typname_nsp_index``), so creation and migration run under a PostgreSQL advisory lock on
Dagster's own database (a file lock for a SQLite instance).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional
from urllib.parse import urlsplit

import dagster as dg
import psycopg2
import psycopg2.extensions
import yaml
from dagster_postgres.utils import get_conn_string

from glyms_b24_pipeline.settings.errors import ConfigError, OperatorError

DAGSTER_PG_URL_ENV = "DAGSTER_PG_URL"
#: first key of the advisory lock that serialises the first use of an instance ("gbdi")
INSTANCE_LOCK_NAMESPACE = 0x67626469
INSTANCE_LOCK_WAIT_SECONDS = 120
#: a daemon whose queue heartbeat is older than this is not serving the instance (it beats every 30 s)
DAEMON_HEARTBEAT_MAX_AGE_SECONDS = 90.0
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"

# The instance blocks every glyms-b24 instance shares (the repository's dagster.yaml holds the same,
# plus PostgreSQL storage; a test keeps them equal).
SHARED_INSTANCE_CONFIG: dict[str, Any] = {
    "concurrency": {"runs": {"tag_concurrency_limits": [
        {"key": "glyms_b24/bitrix24", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]}},
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
        raise ConfigError("DAGSTER_HOME is not set: point it at the folder "
                          "holding dagster.yaml so the run is kept in the history")
    home = Path(value)
    if not (home / "dagster.yaml").is_file():
        raise ConfigError(f"DAGSTER_HOME={home} has no dagster.yaml: copy the project's "
                          "dagster.yaml into it; without it Dagster would keep the history in a local SQLite file")
    return home


def _resolve(value: Any, where: str) -> Any:
    """A dagster.yaml value, with ``{env: NAME}`` read from the environment."""
    if isinstance(value, Mapping) and set(value) == {"env"}:
        name = str(value["env"])
        resolved = os.environ.get(name, "").strip()
        if not resolved:
            raise ConfigError(f"environment variable {name} is not set ({where} in dagster.yaml)")
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
        raise OperatorError(f"cannot connect to Dagster's database {describe_url(url)}: {reason}") from None
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


def writer_slot_problem(instance: dg.DagsterInstance) -> Optional[str]:
    """Why the instance's queue does not give each portal one writer slot (None when it does).

    A ``dagster.yaml`` of before this version limits ``glyms_b24/bitrix24: writer``; writers now
    carry their portal's host as the value, which that limit no longer matches."""
    queue = instance.get_concurrency_config().run_queue_config
    limits = (queue.tag_concurrency_limits if queue is not None else None) or []
    expected = SHARED_INSTANCE_CONFIG["concurrency"]["runs"]["tag_concurrency_limits"][0]
    if any(limit == expected for limit in limits):
        return None
    return ("dagster.yaml does not limit one writer per portal: copy the project's deploy/dagster.yaml into DAGSTER_HOME "
            "(tag_concurrency_limits with applyLimitPerUniqueValue); until then the portal lock alone keeps writers apart")


# --- is a daemon serving this instance? -----------------------------------------------------------


def daemon_is_live(instance: dg.DagsterInstance, max_age_seconds: float = DAEMON_HEARTBEAT_MAX_AGE_SECONDS) -> bool:
    """True when a daemon's run queue beat recently on this instance and the instance queues runs."""
    if not isinstance(instance.run_coordinator, dg.QueuedRunCoordinator):
        return False
    heartbeat = instance.get_daemon_heartbeats().get(QUEUE_DAEMON)
    return heartbeat is not None and time.time() - heartbeat.timestamp <= max_age_seconds
