"""`glyms-b24 auth --listen`: the OAuth redirect served here, through the emulator's consent endpoint."""

import socket
import subprocess
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import requests

from glyms_b24_pipeline.bitrix24.auth import TokenStore
from glyms_b24_pipeline_tests.cli.conftest import CLI, clean_env

CLIENT_ID, SECRET = "local.listen.app", "listen-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return urlunsplit(parts._replace(query=urlencode({**query, "state": state})))


def test_listen_completes_the_flow_and_refuses_a_foreign_state(emulator, glyms_dsn):
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/glyms-b24/callback"
    emulator.register_app(CLIENT_ID, SECRET, redirect_uri=redirect_uri)
    env = clean_env(B24_PORTAL_URL=emulator.portal_url, B24_CLIENT_ID=CLIENT_ID, B24_CLIENT_SECRET=SECRET,
                    B24_OAUTH_URL=emulator.oauth_url, GLYMS_PG_DSN=glyms_dsn)
    process = subprocess.Popen([*CLI, "auth", "--listen", "--redirect-uri", redirect_uri, "--timeout", "60"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        printed = []
        while not any("/oauth/authorize/" in line for line in printed):
            line = process.stdout.readline()
            assert line, f"the command ended before printing the URL: {process.stderr.read() if process.stderr else ''}"
            printed.append(line)
        authorize_url = printed[-1].strip()
        state = parse_qs(urlsplit(authorize_url).query)["state"][0]
        assert len(state) >= 24 and authorize_url.startswith(f"{emulator.portal_url}/oauth/authorize/?client_id={CLIENT_ID}")

        foreign = requests.get(with_state(authorize_url, "not-the-state-of-this-run"), timeout=10)
        assert foreign.status_code == 400 and foreign.url.startswith(redirect_uri)
        assert TokenStore(glyms_dsn, emulator.portal_url, CLIENT_ID).load() is None

        landed = requests.get(authorize_url, timeout=10)  # the emulator answers 302 to the listener
        assert landed.status_code == 200 and "Puede cerrar esta pestaña" in landed.text
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert err.strip().splitlines() == ["aviso: redirección rechazada: su state no es el de esta ejecución "
                                        "(¿una pestaña vieja u otra autorización?); sigo esperando la correcta"]
    assert f"tokens guardados para {emulator.portal_url} (generación 1, access token válido hasta " in out
    stored = TokenStore(glyms_dsn, emulator.portal_url, CLIENT_ID).load()
    assert stored is not None and stored.access_token not in out + err and stored.refresh_token not in out + err


def test_listen_gives_up_after_its_timeout(emulator, glyms_dsn, glyms_cli):
    port = free_port()
    env = {"B24_PORTAL_URL": emulator.portal_url, "B24_CLIENT_ID": CLIENT_ID, "B24_CLIENT_SECRET": SECRET,
           "B24_OAUTH_URL": emulator.oauth_url, "GLYMS_PG_DSN": glyms_dsn}
    done = glyms_cli("auth", "--listen", "--redirect-uri", f"http://127.0.0.1:{port}/", "--timeout", "1", env=env)
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: no llegó la redirección de Bitrix24 en 1 s; "
                                   "repita glyms-b24 auth --listen (o use --timeout)")


def test_listen_needs_an_http_redirect_uri(glyms_cli, emulator, glyms_dsn):
    env = {"B24_PORTAL_URL": emulator.portal_url, "B24_CLIENT_ID": CLIENT_ID, "B24_CLIENT_SECRET": SECRET,
           "GLYMS_PG_DSN": glyms_dsn}
    done = glyms_cli("auth", "--listen", "--redirect-uri", "https://example.org/cb", env=env)
    assert done.returncode == 2 and done.stderr.startswith("error: --listen necesita un redirect_uri http://")
