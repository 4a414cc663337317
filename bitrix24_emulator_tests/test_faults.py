"""Fault injection: every kind, and the selectors (method, nth, probability, duration, count)."""

from __future__ import annotations

import time

import pytest
import requests

from bitrix24_emulator import Fault
from bitrix24_emulator.testing import TEST_CLIENT_ID, TEST_CLIENT_SECRET

ADD = "crm.company.add"


def _add(rest, title="Falla"):
    return rest(ADD, fields={"TITLE": title})


@pytest.mark.parametrize("kind,status", [("http_500", 500), ("http_502", 502), ("http_504", 504)])
def test_http_errors_are_not_applied(emulator, rest, kind, status):
    emulator.add_fault(Fault(kind=kind, method=ADD))
    response = _add(rest)
    assert response.status_code == status
    assert emulator.companies() == []
    if status == 500:
        assert response.json()["error"] == "INTERNAL_SERVER_ERROR"
    else:
        assert response.headers["Content-Type"].startswith("text/html") and "nginx" in response.text
    assert _add(rest).status_code == status  # without nth/count/probability it fires every time
    assert emulator.request_log[-1].fault == kind
    assert rest("user.current").status_code == 200  # other methods are untouched
    emulator.clear_faults()
    assert _add(rest).status_code == 200


def test_html_error_page_instead_of_json(emulator, rest):
    emulator.add_fault(Fault(kind="html_error", count=1))
    response = rest("user.current")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        response.json()
    assert rest("user.current").json()["result"]["ID"] == "1"


def test_html_error_status_is_configurable(emulator, rest):
    emulator.add_fault(Fault(kind="html_error", status=503, count=1))
    assert rest("user.current").status_code == 503


def test_slow_answer_is_applied_late(emulator, rest):
    emulator.add_fault(Fault(kind="slow", method=ADD, delay_seconds=0.4, count=1))
    began = time.monotonic()
    assert _add(rest).status_code == 200
    assert time.monotonic() - began >= 0.4
    assert len(emulator.companies()) == 1


def test_timeout_is_not_applied(emulator, emulator_token):
    emulator.add_fault(Fault(kind="timeout", method=ADD, delay_seconds=2.0, count=1))
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(f"{emulator.portal_url}/rest/{ADD}", json={"auth": emulator_token, "fields": {"TITLE": "x"}},
                      timeout=0.3)
    assert emulator.companies() == []


def test_connection_reset_is_not_applied(emulator, rest):
    emulator.add_fault(Fault(kind="connection_reset", method=ADD, count=1))
    with pytest.raises(requests.exceptions.ConnectionError):
        _add(rest)
    assert emulator.companies() == []
    assert emulator.request_log[-1].http_status is None


def test_lost_response_applies_the_write(emulator, rest):
    emulator.add_fault(Fault(kind="lost_response", method="catalog.product.service.add", count=1))
    with pytest.raises(requests.exceptions.ConnectionError):
        rest("catalog.product.service.add", fields={"iblockId": 24, "name": "Perdido", "xmlId": "GL-LOST"})
    assert [s["xmlId"] for s in emulator.services()] == ["GL-LOST"]


def test_lost_response_on_a_batch_applies_every_command(emulator, rest):
    emulator.add_fault(Fault(kind="lost_response", method=ADD, count=1))
    with pytest.raises(requests.exceptions.ConnectionError):
        rest("batch", cmd={"a": f"{ADD}?fields[TITLE]=Uno", "b": f"{ADD}?fields[TITLE]=Dos"})
    assert [c["TITLE"] for c in emulator.companies()] == ["Uno", "Dos"]


def test_expired_token_mid_run_then_refresh_recovers(emulator):
    tokens = emulator.issue_tokens(TEST_CLIENT_ID)
    url = f"{emulator.portal_url}/rest/user.current"
    emulator.add_fault(Fault(kind="expired_token", nth=2))
    assert requests.post(url, json={"auth": tokens["access_token"]}, timeout=5).status_code == 200
    second = requests.post(url, json={"auth": tokens["access_token"]}, timeout=5)
    assert second.status_code == 401 and second.json()["error"] == "expired_token"
    # The token really expired: retrying it fails too, a refresh fixes it.
    assert requests.post(url, json={"auth": tokens["access_token"]}, timeout=5).status_code == 401
    fresh = requests.get(f"{emulator.oauth_url}/oauth/token/", params={
        "grant_type": "refresh_token", "client_id": TEST_CLIENT_ID, "client_secret": TEST_CLIENT_SECRET,
        "refresh_token": tokens["refresh_token"]}, timeout=5).json()
    assert requests.post(url, json={"auth": fresh["access_token"]}, timeout=5).status_code == 200


def test_nth_call_only(emulator, rest):
    emulator.add_fault(Fault(kind="http_502", method="user.current", nth=3))
    statuses = [rest("user.current").status_code for _ in range(5)]
    assert statuses == [200, 200, 502, 200, 200]


def test_nth_with_count_and_method_filter(emulator, rest):
    emulator.add_fault(Fault(kind="http_500", method="user.current", nth=2, count=2))
    statuses = []
    for _ in range(5):
        statuses.append(rest("user.current").status_code)
        statuses.append(rest("crm.status.list").status_code)
    assert statuses[0::2] == [200, 500, 500, 200, 200]
    assert set(statuses[1::2]) == {200}


def test_probability(make_emulator):
    emulator = make_emulator(random_seed=7, rate_limit_burst=1000, rate_limit_drain_per_second=1000.0)
    token = emulator.issue_tokens(TEST_CLIENT_ID)["access_token"]
    emulator.add_fault(Fault(kind="http_504", probability=0.3))
    session = requests.Session()
    statuses = [session.post(f"{emulator.portal_url}/rest/user.current", json={"auth": token}, timeout=5).status_code
                for _ in range(100)]
    assert 10 <= statuses.count(504) <= 50 and statuses.count(200) == 100 - statuses.count(504)


def test_duration(emulator, rest):
    emulator.add_fault(Fault(kind="http_502", duration_seconds=0.3))
    assert rest("user.current").status_code == 502
    time.sleep(0.35)
    assert rest("user.current").status_code == 200


def test_fault_on_the_token_endpoint_and_clear(emulator):
    emulator.add_fault(Fault(kind="http_502", method="oauth.token"))
    code = emulator.issue_authorization_code(TEST_CLIENT_ID)
    params = {"grant_type": "authorization_code", "client_id": TEST_CLIENT_ID, "client_secret": TEST_CLIENT_SECRET,
              "code": code}
    assert requests.get(f"{emulator.oauth_url}/oauth/token/", params=params, timeout=5).status_code == 502
    emulator.clear_faults()
    assert requests.get(f"{emulator.oauth_url}/oauth/token/", params=params, timeout=5).status_code == 200


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        Fault(kind="meteor")


def test_command_error_fails_one_batch_command_and_the_rest_run(emulator, rest):
    from bitrix24_emulator import Fault

    emulator.add_fault(Fault(kind="command_error", method="crm.company.add", nth=2))
    cmd = {f"c{i}": f"crm.company.add?fields[TITLE]=Empresa%20{i}" for i in range(4)}
    body = rest("batch", halt=0, cmd=cmd).json()
    assert set(body["result"]["result"]) == {"c0", "c2", "c3"}
    assert body["result"]["result_error"] == {
        "c1": {"error": "ERROR_CORE", "error_description": "Injected failure (command_error fault)"}
    }
    assert len(emulator.companies()) == 3
