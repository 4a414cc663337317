"""HTTPS on both servers: SDKs that hard-code https:// reach the emulator by trusting its test CA."""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest
import requests

from bitrix24_emulator import TLS_CA_FILE
from bitrix24_emulator.testing import PERMISSIVE_LIMITS, TEST_CLIENT_ID, TEST_CLIENT_SECRET


@pytest.fixture
def tls_emulator(make_emulator):
    return make_emulator(tls=True, **PERMISSIVE_LIMITS)


def test_tls_emulator_serves_rest_and_oauth_over_https(tls_emulator):
    assert tls_emulator.portal_url == f"https://127.0.0.1:{tls_emulator.port}"
    assert tls_emulator.oauth_url == f"https://127.0.0.1:{tls_emulator.oauth_port}"
    tokens = tls_emulator.issue_tokens(TEST_CLIENT_ID)
    assert tokens["client_endpoint"] == f"{tls_emulator.portal_url}/rest/"
    assert tokens["server_endpoint"] == f"{tls_emulator.oauth_url}/rest/"
    # verify= a path: requests then ignores REQUESTS_CA_BUNDLE, which some machines set globally.
    current = requests.post(f"{tls_emulator.portal_url}/rest/user.current", json={"auth": tokens["access_token"]},
                            verify=TLS_CA_FILE, timeout=5)
    assert current.status_code == 200 and current.json()["result"]["ID"] == "1"
    refreshed = requests.get(f"{tls_emulator.oauth_url}/oauth/token/", params={
        "grant_type": "refresh_token", "client_id": TEST_CLIENT_ID, "client_secret": TEST_CLIENT_SECRET,
        "refresh_token": tokens["refresh_token"]}, verify=TLS_CA_FILE, timeout=5)
    assert refreshed.status_code == 200 and refreshed.json()["client_endpoint"].startswith("https://")


def test_certificate_is_verified_for_ip_and_localhost_and_refused_without_the_ca(tls_emulator):
    trusting = ssl.create_default_context(cafile=TLS_CA_FILE)
    for name in ("127.0.0.1", "localhost"):
        with socket.create_connection(("127.0.0.1", tls_emulator.port), timeout=5) as raw:
            with trusting.wrap_socket(raw, server_hostname=name) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
    # The system trust store does not know the test CA: TLS is real, not a formality.
    with socket.create_connection(("127.0.0.1", tls_emulator.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")


def test_plain_http_to_a_tls_port_gets_no_answer(tls_emulator):
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{tls_emulator.port}/rest/user.current", timeout=5)


def test_a_stalled_handshake_does_not_block_other_clients(tls_emulator):
    token = tls_emulator.issue_tokens(TEST_CLIENT_ID)["access_token"]
    with socket.create_connection(("127.0.0.1", tls_emulator.port), timeout=5):
        began = time.monotonic()
        answer = requests.post(f"{tls_emulator.portal_url}/rest/user.current", json={"auth": token},
                               verify=TLS_CA_FILE, timeout=5)
        assert answer.status_code == 200
        assert time.monotonic() - began < 2.0


def test_plain_emulator_keeps_http_urls(emulator):
    assert emulator.portal_url.startswith("http://") and emulator.oauth_url.startswith("http://")


def test_cli_tls_flag_prints_https_urls_and_serves_them():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "bitrix24_emulator", "--tls", "--port", str(port),
                                "--oauth-port", "0", "--webhook", "1:clihook"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        webhook = process.stdout.readline().split("webhook: ", 1)[1].strip()
        banner = process.stdout.readline()
        assert webhook == f"https://127.0.0.1:{port}/rest/1/clihook/"
        assert f"portal https://127.0.0.1:{port}/rest/" in banner and "oauth https://127.0.0.1:" in banner
        answer = requests.post(webhook + "user.current", json={}, verify=TLS_CA_FILE, timeout=5)
        assert answer.json()["result"]["ID"] == "1"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
