"""The server deployment of `deploy/`, started on this machine: a code server, the daemon and the UI.

The end-to-end test and the latency benchmark run what the systemd units run (same commands,
same workspace shape, `deploy/dagster.yaml`), only on free ports and with the sandbox's
databases and emulator instead of the lab's. With ``locations`` it is `deploy/portals/`: one code
server per portal, each with its own environment, in one instance.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import requests
import yaml

from glyms_b24_pipeline.runs.instance import daemon_is_live, open_instance

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCATION = "glyms_b24_pipeline"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin(name: str) -> str:
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else name


@dataclass
class LocalDeployment:
    """``with LocalDeployment(folder, env) as deployment:`` code server + daemon + webserver, stopped on exit.

    ``env`` carries what `deploy/glyms-b24.env.example` lists (GLYMS_PG_DSN, B24_*, DAGSTER_PG_URL, ...).
    ``locations`` (name -> environment, as `deploy/portals/portal.env.example`): one code server per
    portal instead of one, each location's environment on top of ``env``. ``instance_yaml``: the
    instance's dagster.yaml text instead of the repository's.
    """

    folder: Path
    env: Mapping[str, str]
    locations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    instance_yaml: Optional[str] = None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    grpc_port: int = 0
    ui_port: int = 0
    grpc_ports: dict[str, int] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.folder / "dagster_home"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def _environment(self, location: Optional[str] = None) -> dict[str, str]:
        """The environment of the shared services, or of ``location``'s code server and commands."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("B24_", "GLYMS_", "DAGSTER_"))}
        env.update(self.env)
        if location is not None:
            env.update(self.locations[location])
        env["DAGSTER_HOME"] = str(self.home)
        return env

    def environment(self, location: Optional[str] = None) -> dict[str, str]:
        """What a ``glyms-b24`` command of ``location`` (or of the single location) runs with."""
        return self._environment(location)

    def _workspace(self) -> Path:
        """deploy/workspace.yaml (deploy/portals/workspace.yaml with locations) with this machine's free ports."""
        if not self.locations:
            workspace = yaml.safe_load((REPO_ROOT / "deploy" / "workspace.yaml").read_text(encoding="utf-8"))
            for entry in workspace["load_from"]:
                entry["grpc_server"]["port"] = self.grpc_port
        else:
            workspace = yaml.safe_load((REPO_ROOT / "deploy" / "portals" / "workspace.yaml").read_text(encoding="utf-8"))
            template = workspace["load_from"][0]["grpc_server"]
            workspace["load_from"] = [{"grpc_server": {**template, "port": port, "location_name": name}}
                                      for name, port in self.grpc_ports.items()]
        path = self.folder / "workspace.yaml"
        path.write_text(yaml.safe_dump(workspace), encoding="utf-8")
        return path

    def _start(self, name: str, command: list[str], location: Optional[str] = None) -> None:
        log = open(self.folder / f"{name}.log", "w", encoding="utf-8")
        self.processes[name] = subprocess.Popen(command, env=self._environment(location), cwd=str(REPO_ROOT),
                                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _code_server(self, name: str, port: int, location_name: str, location: Optional[str] = None) -> None:
        self._start(name, [_bin("dagster"), "code-server", "start", "-m", "glyms_b24_pipeline.definitions",
                           "-h", "127.0.0.1", "-p", str(port), "--location-name", location_name], location)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def start(self, timeout: float = 120.0) -> "LocalDeployment":
        self.folder.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(exist_ok=True)
        if self.instance_yaml is None:
            shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", self.home / "dagster.yaml")
        else:
            (self.home / "dagster.yaml").write_text(self.instance_yaml, encoding="utf-8")
        self.grpc_port, self.ui_port = free_port(), free_port()
        self.grpc_ports = {name: free_port() for name in self.locations}
        subprocess.run([_bin("glyms-b24"), "init-instance"], env=self._environment(), check=True, capture_output=True,
                       timeout=120)  # ExecStartPre of every unit
        workspace = self._workspace()
        if not self.locations:
            self._code_server("code-server", self.grpc_port, LOCATION)
            self._wait_for_port(self.grpc_port, timeout, "code-server")
        for name, port in self.grpc_ports.items():  # glyms-b24-code-server@<name>.service
            self._code_server(f"code-server-{name}", port, name, name)
        for name, port in self.grpc_ports.items():
            self._wait_for_port(port, timeout, f"code-server-{name}")
        self._start("daemon", [_bin("dagster-daemon"), "run", "-w", str(workspace)])
        self._start("webserver", [_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.ui_port), "-w",
                                  str(workspace)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if requests.get(f"{self.url}/server_info", timeout=2).ok and self.daemon_live():
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"the deployment did not come up in {timeout:.0f} s; see {self.folder}/*.log")

    def _wait_for_port(self, port: int, timeout: float, name: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.3)
        raise TimeoutError(f"{name} did not listen on {port}: {self.log(name)[-2000:]}")

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}: {self.log(name)[-3000:]}")

    def daemon_live(self) -> bool:

        previous = os.environ.copy()
        os.environ.update(self._environment())
        try:
            with open_instance(self.home) as instance:
                return daemon_is_live(instance)
        finally:
            os.environ.clear()
            os.environ.update(previous)

    def graphql(self, query: str, variables: Optional[Mapping[str, Any]] = None) -> dict:
        answer = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
        answer.raise_for_status()
        body = answer.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def stop(self) -> dict[str, Optional[int]]:
        """SIGINT to each process group (the units' KillSignal), then wait; returns the exit codes."""
        codes: dict[str, Optional[int]] = {}
        for name in ["webserver", "daemon", *(n for n in self.processes if n.startswith("code-server"))]:
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                codes[name] = process.returncode if process else None
                continue
            os.killpg(process.pid, signal.SIGINT)
            try:
                codes[name] = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                codes[name] = process.wait(timeout=30)
        return codes

    def __enter__(self) -> "LocalDeployment":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
