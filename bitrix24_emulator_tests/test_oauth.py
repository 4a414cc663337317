"""OAuth of the emulated portal: consent redirect, both grants, rotation rules, REST-side auth errors."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import requests

from bitrix24_emulator.testing import TEST_CLIENT_ID, TEST_CLIENT_SECRET

TOKEN_KEYS = {"access_token", "client_endpoint", "domain", "expires", "expires_in", "member_id",
              "refresh_token", "scope", "server_endpoint", "status", "user_id"}


def _code_via_authorize(emulator, state="xyz"):
    response = requests.get(f"{emulator.portal_url}/oauth/authorize/",
                            params={"client_id": TEST_CLIENT_ID, "state": state}, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    return parse_qs(urlsplit(response.headers["Location"]).query)


def _exchange(base_url, code, method="get"):
    params = {"grant_type": "authorization_code", "client_id": TEST_CLIENT_ID,
              "client_secret": TEST_CLIENT_SECRET, "code": code}
    if method == "get":
        return requests.get(f"{base_url}/oauth/token/", params=params, timeout=5)
    return requests.post(f"{base_url}/oauth/token/", data=params, timeout=5)


def _refresh(base_url, refresh_token):
    return requests.get(f"{base_url}/oauth/token/", params={
        "grant_type": "refresh_token", "client_id": TEST_CLIENT_ID, "client_secret": TEST_CLIENT_SECRET,
        "refresh_token": refresh_token}, timeout=5)


def _user_current(emulator, token):
    return requests.post(f"{emulator.portal_url}/rest/user.current", json={"auth": token}, timeout=5)


def test_authorize_redirects_with_code_state_domain_member_and_scope(emulator):
    query = _code_via_authorize(emulator, state="estado-1")
    assert query["state"] == ["estado-1"]
    assert query["domain"] == [f"127.0.0.1:{emulator.port}"]
    assert query["member_id"] == [emulator.state.member_id]
    assert query["scope"] == ["crm,catalog,user,im"]
    assert query["server_domain"] == [f"127.0.0.1:{emulator.oauth_port}"]
    assert query["code"][0].startswith("http://") is False
    location = requests.get(f"{emulator.portal_url}/oauth/authorize/", params={"client_id": TEST_CLIENT_ID},
                            allow_redirects=False, timeout=5).headers["Location"]
    assert location.startswith("http://localhost/?code=")


def test_authorize_with_unknown_client_does_not_redirect(emulator):
    response = requests.get(f"{emulator.portal_url}/oauth/authorize/", params={"client_id": "local.nope"},
                            allow_redirects=False, timeout=5)
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_code_exchange_at_oauth_server_returns_the_superset(emulator):
    code = _code_via_authorize(emulator)["code"][0]
    response = _exchange(emulator.oauth_url, code)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == TOKEN_KEYS
    assert body["client_endpoint"] == f"{emulator.portal_url}/rest/"
    assert body["server_endpoint"] == f"{emulator.oauth_url}/rest/"
    assert body["domain"] == f"127.0.0.1:{emulator.oauth_port}"
    assert body["expires_in"] == 3600 and isinstance(body["expires"], int)
    assert abs(body["expires"] - (time.time() + 3600)) < 5
    assert body["status"] == "L" and body["user_id"] == 1
    assert _user_current(emulator, body["access_token"]).json()["result"]["ID"] == "1"


def test_code_exchange_also_served_at_the_portal_and_by_post(emulator):
    code = _code_via_authorize(emulator)["code"][0]
    response = _exchange(emulator.portal_url, code, method="post")
    assert response.status_code == 200 and set(response.json()) == TOKEN_KEYS


def test_code_is_single_use(emulator):
    code = emulator.issue_authorization_code(TEST_CLIENT_ID)
    assert _exchange(emulator.oauth_url, code).status_code == 200
    second = _exchange(emulator.oauth_url, code)
    assert second.status_code == 400 and second.json() == {"error": "invalid_grant"}


def test_code_expires(make_emulator):
    emulator = make_emulator(authorization_code_lifetime_seconds=0)
    code = emulator.issue_authorization_code(TEST_CLIENT_ID)
    time.sleep(0.02)
    response = _exchange(emulator.oauth_url, code)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_token_endpoint_errors_have_real_statuses(emulator):
    url = f"{emulator.oauth_url}/oauth/token/"
    wrong_client = requests.get(url, params={"grant_type": "refresh_token", "client_id": "local.unknown",
                                             "client_secret": "x", "refresh_token": "y"}, timeout=5)
    assert wrong_client.status_code == 200 and wrong_client.json() == {"error": "wrong_client"}
    wrong_secret = requests.get(url, params={"grant_type": "refresh_token", "client_id": TEST_CLIENT_ID,
                                             "client_secret": "bad", "refresh_token": "y"}, timeout=5)
    assert wrong_secret.status_code == 400 and wrong_secret.json() == {"error": "invalid_client"}
    missing = requests.get(url, params={"grant_type": "refresh_token", "client_id": TEST_CLIENT_ID,
                                        "client_secret": TEST_CLIENT_SECRET}, timeout=5)
    assert missing.status_code == 400
    assert missing.json() == {"error": "invalid_request", "error_description": 'No "refresh_token" parameter found'}
    unknown = _refresh(emulator.oauth_url, "not-a-token")
    assert unknown.status_code == 400 and unknown.json() == {"error": "invalid_grant"}


def test_refresh_rotates_and_old_refresh_token_is_refused(emulator):
    first = emulator.issue_tokens(TEST_CLIENT_ID)
    refreshed = _refresh(emulator.oauth_url, first["refresh_token"])
    assert refreshed.status_code == 200
    second = refreshed.json()
    assert set(second) == TOKEN_KEYS
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    reused = _refresh(emulator.oauth_url, first["refresh_token"])
    assert reused.status_code == 400 and reused.json() == {"error": "invalid_grant"}
    assert _user_current(emulator, second["access_token"]).status_code == 200
    # The chain continues with the new refresh token.
    assert _refresh(emulator.oauth_url, second["refresh_token"]).status_code == 200


def test_refresh_revokes_the_old_access_token_by_default(emulator):
    first = emulator.issue_tokens(TEST_CLIENT_ID)
    _refresh(emulator.oauth_url, first["refresh_token"]).raise_for_status()
    old = _user_current(emulator, first["access_token"])
    assert old.status_code == 401 and old.json()["error"] == "invalid_token"


def test_old_access_token_kept_when_revocation_is_off(make_emulator):
    emulator = make_emulator(revoke_access_token_on_refresh=False)
    first = emulator.issue_tokens(TEST_CLIENT_ID)
    _refresh(emulator.oauth_url, first["refresh_token"]).raise_for_status()
    assert _user_current(emulator, first["access_token"]).status_code == 200


def test_expired_access_token_and_refresh_recovers(emulator):
    tokens = emulator.issue_tokens(TEST_CLIENT_ID)
    emulator.expire_access_tokens()
    expired = _user_current(emulator, tokens["access_token"])
    assert expired.status_code == 401
    assert expired.json() == {"error": "expired_token", "error_description": "The access token provided has expired"}
    fresh = _refresh(emulator.oauth_url, tokens["refresh_token"]).json()
    assert _user_current(emulator, fresh["access_token"]).status_code == 200


def test_access_token_lifetime_is_a_setting(make_emulator):
    emulator = make_emulator(access_token_lifetime_seconds=1)
    tokens = emulator.issue_tokens(TEST_CLIENT_ID)
    assert tokens["expires_in"] == 1
    assert _user_current(emulator, tokens["access_token"]).status_code == 200
    time.sleep(1.1)
    assert _user_current(emulator, tokens["access_token"]).json()["error"] == "expired_token"


def test_rest_auth_errors(emulator):
    url = f"{emulator.portal_url}/rest/user.current"
    none = requests.post(url, json={}, timeout=5)
    assert none.status_code == 401
    assert none.json() == {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}
    bad = requests.post(url, json={"auth": "garbage"}, timeout=5)
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_token"


def test_token_accepted_as_query_body_and_bearer(emulator):
    token = emulator.issue_tokens(TEST_CLIENT_ID)["access_token"]
    url = f"{emulator.portal_url}/rest/user.current"
    assert requests.get(url, params={"auth": token}, timeout=5).status_code == 200
    assert requests.post(url, data={"auth": token}, timeout=5).status_code == 200
    assert requests.get(url, params={"access_token": token}, timeout=5).status_code == 200
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 200


def test_insufficient_scope_status_is_a_setting(make_emulator):
    for status in (401, 403):
        emulator = make_emulator(insufficient_scope_status=status)
        emulator.register_app("local.crm.only", "s", scope="crm")
        token = emulator.issue_tokens("local.crm.only")["access_token"]
        response = requests.post(f"{emulator.portal_url}/rest/catalog.priceType.list", json={"auth": token}, timeout=5)
        assert response.status_code == status
        assert response.json()["error"] == "insufficient_scope"
        ok = requests.post(f"{emulator.portal_url}/rest/crm.status.list", json={"auth": token}, timeout=5)
        assert ok.status_code == 200


def test_incoming_webhook(emulator):
    base = emulator.add_webhook(user_id=1, code="abc123")
    assert base == f"{emulator.portal_url}/rest/1/abc123/"
    response = requests.post(base + "user.current.json", json={}, timeout=5)
    assert response.status_code == 200 and response.json()["result"]["ID"] == "1"
    wrong = requests.post(f"{emulator.portal_url}/rest/1/wrong/user.current", json={}, timeout=5)
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"}
    assert emulator.request_log[-2].transport == "webhook"
