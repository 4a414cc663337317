"""deploy/portals, deploy/docker, deploy/helm: the scale-out files, checked as far as this machine allows
(Dagster's config schemas, the instance they open, `dagster instance info`; no Docker daemon, no cluster)."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from glyms_b24_pipeline.runs.instance import SHARED_INSTANCE_CONFIG
from glyms_b24_pipeline.runs.launch import DEFINITIONS_MODULE
from glyms_b24_pipeline.settings.model import LocationSettings
from glyms_b24_pipeline_tests.sandbox.test_deployment import _unit

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
WRITER_LIMITS = SHARED_INSTANCE_CONFIG["concurrency"]["runs"]["tag_concurrency_limits"]
PORTAL_VARIABLES = {"GLYMS_PG_DSN", "GLYMS_B24_CONFIG", "B24_PORTAL_URL", "B24_CLIENT_ID", "B24_CLIENT_SECRET",
                    "B24_WEBHOOK_URL", "GLYMS_B24_CODE_SERVER_PORT"}


def _load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))



def test_the_repository_instance_gives_each_portal_one_writer_slot():
    assert _load(DEPLOY / "dagster.yaml")["concurrency"]["runs"]["tag_concurrency_limits"] == WRITER_LIMITS == [
        {"key": "glyms_b24/bitrix24", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]


def test_the_portals_workspace_template_unit_and_environment_agree():
    entries = [entry["grpc_server"] for entry in _load(DEPLOY / "portals" / "workspace.yaml")["load_from"]]
    names = [entry["location_name"] for entry in entries]
    assert len(entries) >= 2 and len(set(names)) == len(names) and len({e["port"] for e in entries}) == len(entries)
    assert all(LocationSettings(name=name).location_name == name for name in names)  # each a valid location.name

    unit = _unit(DEPLOY / "portals" / "glyms-b24-code-server@.service")
    assert unit["EnvironmentFile"] == ["/etc/glyms-b24/glyms-b24.env", "/etc/glyms-b24/portals/%i.env"]
    argv = shlex.split(unit["ExecStart"][0])
    assert argv[1:3] == ["code-server", "start"] and argv[argv.index("-m") + 1] == DEFINITIONS_MODULE
    assert argv[argv.index("--location-name") + 1] == "%i" and argv[argv.index("-p") + 1] == "${GLYMS_B24_CODE_SERVER_PORT}"
    assert (Path(sys.executable).parent / Path(argv[0]).name).exists()

    example = dict(line.split("=", 1) for line in (DEPLOY / "portals" / "portal.env.example").read_text().splitlines()
                   if re.match(r"^#? ?[A-Z][A-Z0-9_]+=", line))
    assert PORTAL_VARIABLES <= {name.lstrip("# ") for name in example}
    assert int(example["GLYMS_B24_CODE_SERVER_PORT"]) == entries[0]["port"]
    assert all("CAMBIAR" in value or "secret" not in value.lower() for value in example.values())


def test_the_docker_instance_opens_with_the_docker_run_launcher(tmp_path, dagster_pg_url, monkeypatch):
    pytest.importorskip("dagster_docker")
    config = _load(DEPLOY / "docker" / "dagster.yaml")
    repository = _load(DEPLOY / "dagster.yaml")
    # the repository's instance, plus the run launcher
    assert {key: value for key, value in config.items() if key != "run_launcher"} == repository
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((DEPLOY / "docker" / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_pg_url)
    with dg.DagsterInstance.from_config(str(home)) as instance:  # validated against Dagster's config schema
        assert type(instance.run_launcher).__name__ == "DockerRunLauncher"
        assert instance.run_launcher.networks == ["glyms_b24"]
        assert instance.run_launcher.supports_check_run_worker_health  # run monitoring sees a dead container
    info = subprocess.run([str(Path(sys.executable).with_name("dagster")), "instance", "info"], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "DAGSTER_HOME": str(home)})
    assert info.returncode == 0 and "DockerRunLauncher" in info.stdout, info.stderr[-2000:]


def test_the_compose_file_runs_one_code_server_per_location_of_the_docker_workspace():
    from dagster_docker.container_context import DockerContainerContext

    compose = _load(DEPLOY / "docker" / "docker-compose.yaml")
    workspace = [e["grpc_server"] for e in _load(DEPLOY / "docker" / "workspace.yaml")["load_from"]]
    assert len(workspace) >= 2
    for entry in workspace:
        service = compose["services"][entry["host"]]
        argv = [str(part) for part in service["command"]]
        assert argv[:3] == ["dagster", "code-server", "start"] and argv[argv.index("-m") + 1] == DEFINITIONS_MODULE
        assert argv[argv.index("--location-name") + 1] == entry["location_name"]
        assert int(argv[argv.index("-p") + 1]) == entry["port"]
        env_file = f"/etc/glyms-b24/portals/{entry['location_name']}.env"
        assert service["environment"] == {"GLYMS_B24_ENV_FILE": env_file}
        # the run containers get the portal's environment file (a path, not a secret) from the location
        context = json.loads(argv[argv.index("--container-context") + 1])
        assert DockerContainerContext.create_from_config(context).env_vars == [f"GLYMS_B24_ENV_FILE={env_file}"]
    for name in ("daemon", "webserver"):
        assert "-w deploy/docker/workspace.yaml" in compose["services"][name]["command"][-1]
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert "deploy/docker/entrypoint.sh" in dockerfile and "cp deploy/docker/dagster.yaml" in dockerfile


def test_the_entrypoint_reads_the_portal_environment_file(tmp_path):
    (tmp_path / "portal_a.env").write_text("# a portal\nGLYMS_PG_DSN='postgresql://u@h/db?sslmode=require&x=1'\n")
    done = subprocess.run(["sh", str(DEPLOY / "docker" / "entrypoint.sh"), "sh", "-c", "echo $GLYMS_PG_DSN"],
                          env={"PATH": "/usr/bin:/bin", "GLYMS_B24_ENV_FILE": str(tmp_path / "portal_a.env")},
                          capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "postgresql://u@h/db?sslmode=require&x=1", done.stderr


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def test_the_helm_values_hold_one_user_deployment_per_portal_and_dagster_accepts_their_instance_blocks(tmp_path):
    values = _load(DEPLOY / "helm" / "values.yaml")
    deployments = values["dagster-user-deployments"]["deployments"]
    names = [d["name"] for d in deployments]
    assert len(names) >= 2 and len(set(names)) == len(names)
    for deployment in deployments:
        # the chart names the code location after the deployment: a valid location.name, and a DNS label
        assert LocationSettings(name=deployment["name"]).location_name == deployment["name"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", deployment["name"])
        args = deployment["dagsterApiGrpcArgs"]
        assert args[args.index("-m") + 1] == DEFINITIONS_MODULE
        assert deployment["envSecrets"] and deployment["envConfigMaps"] and deployment["includeConfigInLaunchedRuns"]
    assert len({d["envSecrets"][0]["name"] for d in deployments}) == len(deployments)  # each portal its own secrets

    daemon = values["dagsterDaemon"]
    limits = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert limits == WRITER_LIMITS  # the same writer slots as dagster.yaml
    assert daemon["runMonitoring"]["enabled"] and values["runLauncher"]["type"] == "K8sRunLauncher"
    pytest.importorskip("dagster_k8s")
    from dagster_k8s import K8sRunLauncher

    fields = set(K8sRunLauncher.config_type())
    assert {_snake(key) for key in values["runLauncher"]["config"]["k8sRunLauncher"]} <= fields
    # the instance the chart renders from these blocks, as Dagster reads it
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump({
        "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator",
                            "config": {"tag_concurrency_limits": limits}},
        "run_monitoring": {"enabled": True, "free_slots_after_run_end_seconds":
                           daemon["runMonitoring"]["freeSlotsAfterRunEndSeconds"]},
        "python_logs": {"python_log_level": values["pythonLogs"]["pythonLogLevel"],
                        "managed_python_loggers": values["pythonLogs"]["managedPythonLoggers"]},
        "telemetry": values["telemetry"]}))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_concurrency_config().run_queue_config.tag_concurrency_limits == limits
