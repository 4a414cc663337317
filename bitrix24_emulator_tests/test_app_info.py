"""``app.info`` on the OAuth server (token check by SDKs) and as a portal REST method."""

from __future__ import annotations

from datetime import datetime

import requests

from bitrix24_emulator.testing import TEST_CLIENT_ID


def _oauth_app_info(emulator, **params):
    return requests.get(f"{emulator.oauth_url}/rest/app.info/", params=params, timeout=5)


def test_oauth_server_app_info_describes_the_token_and_the_installation(emulator):
    tokens = emulator.issue_tokens(TEST_CLIENT_ID)
    response = _oauth_app_info(emulator, auth=tokens["access_token"])
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"result", "time"}
    result = body["result"]
    assert result["client_id"] == TEST_CLIENT_ID
    assert result["scope"] == "crm,catalog,user,im"
    assert result["user_id"] == 1
    expires = datetime.fromisoformat(result["expires"])
    assert expires.utcoffset().total_seconds() == -3 * 3600
    assert abs(expires.timestamp() - tokens["expires"]) <= 1
    assert result["install"] == {
        "installed": True, "version": 1, "status": "L", "scope": "crm,catalog,user,im",
        "domain": emulator.portal_domain, "uri": emulator.portal_url,
        "client_endpoint": f"{emulator.portal_url}/rest/", "member_id": emulator.state.member_id,
        "member_type": "PORTAL"}
    by_post = requests.post(f"{emulator.oauth_url}/rest/app.info.json", data={"auth": tokens["access_token"]},
                            timeout=5)
    assert by_post.json()["result"] == result


def test_oauth_server_app_info_refuses_missing_unknown_and_expired_tokens(emulator):
    missing = _oauth_app_info(emulator)
    assert missing.status_code == 401 and missing.json()["error"] == "NO_AUTH_FOUND"
    unknown = _oauth_app_info(emulator, auth="not-a-token")
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_token"
    token = emulator.issue_tokens(TEST_CLIENT_ID)["access_token"]
    emulator.expire_access_tokens()
    expired = _oauth_app_info(emulator, auth=token)
    assert expired.status_code == 401 and expired.json()["error"] == "expired_token"


def test_oauth_server_serves_no_other_rest_method(emulator):
    token = emulator.issue_tokens(TEST_CLIENT_ID)["access_token"]
    response = requests.get(f"{emulator.oauth_url}/rest/user.current", params={"auth": token}, timeout=5)
    assert response.status_code == 404


def test_portal_app_info_for_an_application(emulator):
    emulator.register_app("local.second.app", "s2")
    first = emulator.issue_tokens(TEST_CLIENT_ID)["access_token"]
    second = emulator.issue_tokens("local.second.app")["access_token"]
    response = requests.post(f"{emulator.portal_url}/rest/app.info", json={"auth": first}, timeout=5)
    assert response.status_code == 200
    result = response.json()["result"]
    assert result == {"ID": result["ID"], "CODE": TEST_CLIENT_ID, "VERSION": 1, "STATUS": "L", "INSTALLED": True,
                      "PAYMENT_EXPIRED": "N", "DAYS": None, "LANGUAGE_ID": "la", "LICENSE": "la_project",
                      "LICENSE_TYPE": "project", "LICENSE_FAMILY": "project"}
    assert isinstance(result["ID"], int)
    other = requests.post(f"{emulator.portal_url}/rest/app.info.json", json={"auth": second}, timeout=5).json()
    assert other["result"]["CODE"] == "local.second.app" and other["result"]["ID"] != result["ID"]
    assert "time" in other


def test_portal_app_info_for_a_webhook_and_inside_a_batch(emulator):
    hook = emulator.add_webhook(user_id=1, scope="crm,user")
    response = requests.post(hook + "app.info", json={}, timeout=5)
    assert response.json()["result"] == {"SCOPE": ["crm", "user"], "LICENSE": "la_project"}
    batch = requests.post(hook + "batch", json={"cmd": {"info": "app.info", "me": "user.current"}}, timeout=5)
    assert batch.json()["result"]["result"]["info"]["SCOPE"] == ["crm", "user"]


def test_app_ids_survive_a_state_round_trip(emulator, tmp_path, make_emulator):
    emulator.register_app("local.kept.app", "k")
    token = emulator.issue_tokens("local.kept.app")["access_token"]
    before = requests.post(f"{emulator.portal_url}/rest/app.info", json={"auth": token}, timeout=5).json()["result"]
    path = emulator.save_state(str(tmp_path / "state.json"))
    reborn = make_emulator()
    reborn.load_state(path)
    after = requests.post(f"{reborn.portal_url}/rest/app.info", json={"auth": token}, timeout=5).json()["result"]
    assert after["ID"] == before["ID"]
