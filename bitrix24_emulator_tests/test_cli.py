"""``glyms-b24 emulator``: starts fast, serves the OAuth flow, saves state on SIGINT."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from bitrix24_emulator.cli import build_parser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _glyms_b24() -> list[str]:
    script = Path(sys.executable).with_name("glyms-b24")
    return [str(script)] if script.exists() else [sys.executable, "-m", "glyms_b24_pipeline.cli"]


def _start(args: list[str], command: list[str]) -> tuple[subprocess.Popen, str, float]:
    began = time.monotonic()
    process = subprocess.Popen(command + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    return process, line, time.monotonic() - began


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()


def test_cli_starts_under_two_seconds_and_answers_user_current(tmp_path):
    port, oauth_port = _free_port(), _free_port()
    state = tmp_path / "sandbox-state.json"
    process, line, elapsed = _start(
        ["emulator", "--port", str(port), "--oauth-port", str(oauth_port), "--state", str(state),
         "--app", "local.cli.app:cli-secret:http://localhost:9/cb", "--rate-limit", "50/2"], _glyms_b24())
    try:
        assert f"http://127.0.0.1:{port}" in line and f"http://127.0.0.1:{oauth_port}" in line
        assert elapsed < 2.0, f"start took {elapsed:.2f}s"
        portal = f"http://127.0.0.1:{port}"
        redirect = requests.get(f"{portal}/oauth/authorize/", params={"client_id": "local.cli.app", "state": "s"},
                                allow_redirects=False, timeout=5)
        assert redirect.headers["Location"].startswith("http://localhost:9/cb?")
        code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
        tokens = requests.get(f"http://127.0.0.1:{oauth_port}/oauth/token/", params={
            "grant_type": "authorization_code", "client_id": "local.cli.app", "client_secret": "cli-secret",
            "code": code}, timeout=5).json()
        user = requests.post(f"{tokens['client_endpoint']}user.current", json={"auth": tokens["access_token"]},
                             timeout=5)
        assert user.status_code == 200 and user.json()["result"]["ID"] == "1"
        unknown = requests.get(f"http://127.0.0.1:{oauth_port}/oauth/token/", params={
            "grant_type": "authorization_code", "client_id": "local.other", "client_secret": "x", "code": "y"},
            timeout=5)
        assert unknown.status_code == 200 and unknown.json() == {"error": "wrong_client"}
    finally:
        assert _stop(process) == 0
    assert state.exists() and "local.cli.app" in state.read_text()


def test_python_module_entry_point(tmp_path):
    # port 0: the emulator picks a free one and says it (no race with a port probed free beforehand)
    process, line, _ = _start(["--port", "0", "--oauth-port", "0"], [sys.executable, "-m", "bitrix24_emulator"])
    try:
        match = re.search(r"portal http://127\.0\.0\.1:(\d+)/rest/", line)
        assert match, line + (process.stderr.read() if process.poll() is not None and process.stderr else "")
        port = int(match.group(1))
        response = requests.post(f"http://127.0.0.1:{port}/rest/user.current", json={}, timeout=5)
        assert response.status_code == 401 and response.json()["error"] == "NO_AUTH_FOUND"
    finally:
        assert _stop(process) == 0


def test_option_parsing():
    args = build_parser().parse_args(["--rate-limit", "250/5", "--app", "a:b", "--app", "c:d:http://x/",
                                      "--token-lifetime", "60"])
    assert args.rate_limit == (250, 5.0)
    assert args.app == [("a", "b", None), ("c", "d", "http://x/")]
    assert args.port == 8024 and args.host == "127.0.0.1" and args.token_lifetime == 60
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--rate-limit", "fast"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--app", "only-id"])
