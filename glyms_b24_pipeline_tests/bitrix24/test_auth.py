"""OAuth and webhook auth against the emulator, tokens in a real PostgreSQL token table."""

import json
import logging
import multiprocessing

import psycopg2
import pytest

from glyms_b24_pipeline.bitrix24 import errors
from glyms_b24_pipeline.bitrix24.auth import OAuthApp, OAuthAuth, TokenStore, WebhookAuth
from glyms_b24_pipeline.bitrix24.client import Bitrix24Client
from glyms_b24_pipeline.cli import main

from .conftest import CLIENT_ID, CLIENT_SECRET, FAST, log_of, oauth_client, store_tokens, webhook_client


def _row(dsn):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT access_token, refresh_token, generation, expires_at, member_id FROM glyms_b24.oauth_token")
        rows = cur.fetchall()
    conn.close()
    assert len(rows) == 1
    return rows[0]


def _token_requests(emu):
    return [e for e in emu.request_log if e.method == "oauth.token"]


def test_expired_token_is_refreshed_once_and_the_call_replayed(emulator, glyms_dsn):
    store_tokens(emulator, glyms_dsn)
    before = _row(glyms_dsn)
    with oauth_client(emulator, glyms_dsn) as client:
        assert client.call("user.current").result["ID"]
        emulator.expire_access_tokens()
        assert client.call("user.current").result["ID"]
        assert client.call("user.current").result["ID"]  # the new token is kept in memory
        assert client.counters.refreshes == 1 and client.counters.retries == 0
    after = _row(glyms_dsn)
    assert after[2] == before[2] + 1
    assert after[0] != before[0] and after[1] != before[1]  # both tokens rotated and persisted
    assert len(_token_requests(emulator)) == 1
    assert [e.http_status for e in log_of(emulator, "user.current")] == [200, 401, 200, 200]


def test_a_batch_with_an_expired_token_is_refreshed_too(emulator, glyms_dsn):
    store_tokens(emulator, glyms_dsn)
    with oauth_client(emulator, glyms_dsn) as client:
        client.call("user.current")
        emulator.expire_access_tokens()
        outcomes = client.batch({"a": ("user.current", {}), "b": ("crm.status.list", {"filter": {"ENTITY_ID": "INDUSTRY"}})})
        assert all(o.ok for o in outcomes.values()) and client.counters.refreshes == 1


def test_a_client_with_stale_tokens_uses_the_ones_another_client_stored(emulator, glyms_dsn):
    store_tokens(emulator, glyms_dsn)
    with oauth_client(emulator, glyms_dsn) as first, oauth_client(emulator, glyms_dsn) as second:
        first.call("user.current")
        second.call("user.current")
        emulator.expire_access_tokens()
        first.call("user.current")  # refreshes; the emulator revokes the old pair
        second.call("user.current")  # invalid/expired old token -> finds the stored new one
        assert first.counters.refreshes == 1 and second.counters.refreshes == 0
    assert len(_token_requests(emulator)) == 1


def _race_worker(dsn, portal_url, oauth_url, barrier, results):
    app = OAuthApp(portal_url, CLIENT_ID, CLIENT_SECRET, oauth_url=oauth_url)
    client = Bitrix24Client(OAuthAuth(app, TokenStore(dsn, portal_url, CLIENT_ID)), FAST)
    try:
        client.auth.access_token()  # everyone holds the same, already expired, access token
        barrier.wait(timeout=60)
        user = client.call("user.current").result
        results.put(("ok", client.counters.refreshes, user["ID"]))
    except Exception as exc:  # report, do not hang the parent
        results.put(("error", repr(exc), None))


def test_four_processes_hitting_an_expired_token_at_once_keep_the_chain_valid(emulator, glyms_dsn):
    store_tokens(emulator, glyms_dsn)
    generation = _row(glyms_dsn)[2]
    emulator.expire_access_tokens()
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    workers = [
        ctx.Process(target=_race_worker, args=(glyms_dsn, emulator.portal_url, emulator.oauth_url, barrier, results))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=90) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert [o[0] for o in outcomes] == ["ok"] * 4, outcomes
    assert sum(o[1] for o in outcomes) == 1  # exactly one process spent the refresh token
    assert _row(glyms_dsn)[2] == generation + 1
    token_requests = _token_requests(emulator)
    assert len(token_requests) == 1 and token_requests[0].http_status == 200
    # the chain is still valid: the stored refresh token works (no invalid_grant afterwards)
    emulator.expire_access_tokens()
    with oauth_client(emulator, glyms_dsn) as client:
        assert client.call("user.current").result["ID"]
        assert client.counters.refreshes == 1
    assert [e.error for e in _token_requests(emulator)] == [None, None]


def test_invalid_grant_ends_with_one_line_to_reauthorise(emulator, glyms_dsn, monkeypatch, capsys):
    store_tokens(emulator, glyms_dsn)
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("UPDATE glyms_b24.oauth_token SET refresh_token = 'spent-refresh-token'")
    conn.close()
    emulator.expire_access_tokens()
    with oauth_client(emulator, glyms_dsn) as client:
        with pytest.raises(errors.ReauthorizationRequired) as caught:
            client.call("user.current")
    assert caught.value.code == "invalid_grant"
    _env(monkeypatch, emulator, glyms_dsn)
    assert main(["price-types"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "glyms-b24 auth" in err
    assert "spent-refresh-token" not in err and CLIENT_SECRET not in err


def test_webhook_mode(emulator):
    with webhook_client(emulator) as hook:
        assert hook.call("user.current").result["ID"]
        outcomes = hook.batch({"me": ("user.current", None)})
        assert outcomes["me"].ok and hook.counters.refreshes == 0
        assert "webhook" in repr(hook) and "/rest/1/" not in repr(hook.auth)
    assert {e.transport for e in log_of(emulator)} == {"webhook"}
    bad = emulator.add_webhook(user_id=1).rstrip("/").rsplit("/", 1)[0] + "/wrong-code/"
    with Bitrix24Client(WebhookAuth(bad), FAST) as wrong:
        with pytest.raises(errors.AuthError):
            wrong.call("user.current")
        assert wrong.counters.requests == 1  # not retried


def _env(monkeypatch, emu, dsn, webhook=None):
    for name in ("B24_WEBHOOK_URL", "GLYMS_B24_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("B24_PORTAL_URL", emu.portal_url)
    monkeypatch.setenv("B24_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("B24_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("B24_OAUTH_URL", emu.oauth_url)
    monkeypatch.setenv("GLYMS_PG_DSN", dsn)
    if webhook:
        monkeypatch.setenv("B24_WEBHOOK_URL", webhook)


def test_cli_auth_prints_the_url_then_exchanges_a_code(emulator, glyms_dsn, monkeypatch, capsys):
    _env(monkeypatch, emulator, glyms_dsn)
    assert main(["auth"]) == 0
    out = capsys.readouterr().out
    assert f"{emulator.portal_url}/oauth/authorize/?client_id={CLIENT_ID}" in out and CLIENT_SECRET not in out
    code = emulator.issue_authorization_code(CLIENT_ID)
    assert main(["auth", "--code", code]) == 0
    out = capsys.readouterr().out
    assert "generación 1" in out and code not in out
    access, refresh, generation, expires_at, member_id = _row(glyms_dsn)
    assert access and refresh and generation == 1 and expires_at is not None and member_id
    # the code is single use: a second exchange is refused with one line
    assert main(["auth", "--code", code]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "glyms-b24 auth" in err
    assert main(["price-types"]) == 0  # the stored tokens work


def test_cli_imports_a_legacy_token_file(emulator, glyms_dsn, monkeypatch, capsys, tmp_path):
    _env(monkeypatch, emulator, glyms_dsn)
    legacy = tmp_path / "bitrix24_tokens.json"
    legacy.write_text(json.dumps(emulator.issue_tokens(CLIENT_ID)))
    assert main(["auth", "--import-tokens", str(legacy)]) == 0
    assert "importados" in capsys.readouterr().out
    stored_access = _row(glyms_dsn)[0]
    assert stored_access == json.loads(legacy.read_text())["access_token"]
    with oauth_client(emulator, glyms_dsn) as client:
        assert client.call("user.current").result["ID"]
    broken = tmp_path / "broken.json"
    broken.write_text('{"access_token": "x"}')
    assert main(["auth", "--import-tokens", str(broken)]) == 2
    assert "refresh_token" in capsys.readouterr().err


def test_logs_never_show_tokens_or_the_secret(emulator, glyms_dsn, caplog):
    store_tokens(emulator, glyms_dsn)
    caplog.set_level(logging.DEBUG)
    with oauth_client(emulator, glyms_dsn) as client:
        client.call("user.current")
        emulator.expire_access_tokens()
        client.call("user.current")
        client.batch({"a": ("user.current", None)})
        assert CLIENT_SECRET not in repr(client) and CLIENT_SECRET not in repr(client.auth)
    access, refresh, *_ = _row(glyms_dsn)
    text = caplog.text
    assert "user.current" in text and "oauth/token" in text  # urllib3 request lines are there ...
    for secret in (access, refresh, CLIENT_SECRET):
        assert secret not in text  # ... but redacted
    hook_url = emulator.add_webhook(user_id=1)
    caplog.clear()
    with Bitrix24Client(WebhookAuth(hook_url), FAST) as hook:
        hook.call("user.current")
    assert "/rest/1/" in caplog.text  # the request line is logged ...
    assert hook_url.rstrip("/").rsplit("/", 1)[1] not in caplog.text
