"""deploy/: the systemd units run commands and paths that exist; the workspace and dagster.yaml load."""

import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from glyms_b24_pipeline.runs.launch import CODE_LOCATION_NAME, DEFINITIONS_MODULE

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
INSTALL_ROOT = "/opt/glyms-b24"  # where the units expect the checkout (docs/deployment.md)
UNITS = sorted(DEPLOY.glob("*.service"))
ENV_EXAMPLE = DEPLOY / "glyms-b24.env.example"


def _unit(path: Path) -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            entries.setdefault(key.strip(), []).append(value.strip())
    return entries


def _local(path: str) -> Path:
    assert path.startswith(INSTALL_ROOT + "/"), path
    return REPO / path[len(INSTALL_ROOT) + 1:]


def test_the_three_units_start_existing_commands_with_existing_files():
    assert {u.name for u in UNITS} == {"glyms-b24-code-server.service", "glyms-b24-daemon.service",
                                      "glyms-b24-webserver.service"}
    bin_dir = Path(sys.executable).parent
    for unit in UNITS:
        entries = _unit(unit)
        assert entries["EnvironmentFile"] == ["/etc/glyms-b24/glyms-b24.env"], unit.name
        assert entries["WorkingDirectory"] == [INSTALL_ROOT] and entries["Restart"] == ["always"], unit.name
        # every service first creates or migrates Dagster's tables under the lock
        assert entries["ExecStartPre"] == [f"{INSTALL_ROOT}/.venv/bin/glyms-b24 init-instance"], unit.name
        for command in entries["ExecStart"] + entries["ExecStartPre"]:
            argv = shlex.split(command)
            assert argv[0].startswith(f"{INSTALL_ROOT}/.venv/bin/"), command
            assert (bin_dir / Path(argv[0]).name).exists(), f"{unit.name}: {argv[0]} is not installed by the package"
            if "-w" in argv:
                assert _local(argv[argv.index("-w") + 1]).is_file(), command
            if "-m" in argv:
                assert argv[argv.index("-m") + 1] == DEFINITIONS_MODULE
    code_server = shlex.split(_unit(DEPLOY / "glyms-b24-code-server.service")["ExecStart"][0])
    assert code_server[1:3] == ["code-server", "start"]
    assert code_server[code_server.index("--location-name") + 1] == CODE_LOCATION_NAME
    for unit in ("glyms-b24-daemon.service", "glyms-b24-webserver.service"):
        assert "glyms-b24-code-server.service" in _unit(DEPLOY / unit)["After"][0]


def test_the_workspace_points_at_the_code_server_and_every_variable_is_in_the_env_example():
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    port = shlex.split(_unit(DEPLOY / "glyms-b24-code-server.service")["ExecStart"][0])
    assert (server["port"], server["location_name"]) == (int(port[port.index("-p") + 1]), CODE_LOCATION_NAME)
    assert yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"][0]["python_module"][
        "location_name"] == CODE_LOCATION_NAME

    example = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
                   if re.match(r"^#? ?[A-Z][A-Z0-9_]+=", line))
    names = {name.lstrip("# ") for name in example}
    from glyms_b24_pipeline.settings.model import SECRET_ENV_VARS

    assert set(SECRET_ENV_VARS) | {"DAGSTER_HOME", "GLYMS_B24_CONFIG"} <= names
    assert all("CAMBIAR" in value or "secret" not in value.lower() for value in example.values())


def test_the_repository_dagster_yaml_opens_a_postgresql_instance(pg_dagster_home):
    from dagster_postgres import PostgresRunStorage

    from glyms_b24_pipeline.runs.instance import open_instance

    with open_instance() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage) or "Postgres" in type(instance.run_storage).__name__
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_monitoring_enabled


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Error loading repository location")  # while the code server starts
def test_the_deploy_workspace_loads_the_code_location_from_a_running_code_server(pg_dagster_home, tmp_path):
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    from glyms_b24_pipeline.runs.instance import open_instance

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    workspace["load_from"][0]["grpc_server"]["port"] = port
    (tmp_path / "workspace.yaml").write_text(yaml.safe_dump(workspace))
    argv = shlex.split(_unit(DEPLOY / "glyms-b24-code-server.service")["ExecStart"][0])
    argv[0] = str(Path(sys.executable).with_name("dagster"))
    argv[argv.index("-p") + 1] = str(port)
    server = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with open_instance() as instance:
            deadline = time.monotonic() + 90
            while True:
                with WorkspaceProcessContext(instance, WorkspaceFileTarget([str(tmp_path / "workspace.yaml")])) as ctx:
                    request = ctx.create_request_context()
                    errors = request.get_code_location_error(CODE_LOCATION_NAME)
                    if errors is None:
                        location = request.get_code_location(CODE_LOCATION_NAME)
                        repository = next(iter(location.get_repositories().values()))
                        jobs = {job.name for job in repository.get_all_jobs()}
                        break
                assert time.monotonic() < deadline and server.poll() is None, errors
                time.sleep(2)
        assert {"services_sync", "maintenance_prune"} <= jobs
    finally:
        server.terminate()
        server.wait(timeout=60)
