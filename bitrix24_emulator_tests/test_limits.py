"""Both portal limits: the leaky bucket (503) and the per-method operating time (429)."""

from __future__ import annotations

import time

import requests

from bitrix24_emulator.testing import TEST_CLIENT_ID


def _client(emulator):
    token = emulator.issue_tokens(TEST_CLIENT_ID)["access_token"]
    session = requests.Session()

    def call(method, **params):
        return session.post(f"{emulator.portal_url}/rest/{method}", json={"auth": token, **params}, timeout=5)

    return call


def test_burst_of_60_gets_503_after_about_50(make_emulator):
    emulator = make_emulator()  # defaults: burst 50, drain 2/s
    call = _client(emulator)
    statuses = [call("user.current").status_code for _ in range(60)]
    accepted = statuses.count(200)
    assert statuses[:50] == [200] * 50
    assert 50 <= accepted <= 53 and statuses[-1] == 503
    refused = call("user.current")
    assert refused.status_code == 503
    assert refused.json() == {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
    assert emulator.counters["rate_limited"] >= 7


def test_paced_requests_at_the_drain_rate_are_never_refused(make_emulator):
    emulator = make_emulator(rate_limit_burst=3, rate_limit_drain_per_second=10.0)
    call = _client(emulator)
    statuses = []
    for _ in range(15):
        statuses.append(call("user.current").status_code)
        time.sleep(0.1)
    assert statuses == [200] * 15


def test_bucket_drains_and_batch_counts_once(make_emulator):
    emulator = make_emulator(rate_limit_burst=3, rate_limit_drain_per_second=5.0)
    call = _client(emulator)
    commands = {f"c{i}": "user.current" for i in range(20)}
    assert [call("batch", cmd=commands).status_code for _ in range(3)] == [200, 200, 200]
    assert call("batch", cmd=commands).status_code == 503
    time.sleep(0.5)  # 2.5 slots drained
    assert call("user.current").status_code == 200


def test_limits_change_at_run_time(make_emulator):
    emulator = make_emulator(rate_limit_burst=2, rate_limit_drain_per_second=0.5)
    call = _client(emulator)
    assert [call("user.current").status_code for _ in range(3)] == [200, 200, 503]
    emulator.set_limits(burst=100)
    assert call("user.current").status_code == 200


def test_operating_time_blocks_the_sixth_call_per_method(make_emulator):
    emulator = make_emulator(operating_cost_seconds=100.0)
    call = _client(emulator)
    operating = []
    for _ in range(5):
        response = call("crm.status.list")
        assert response.status_code == 200
        operating.append(response.json()["time"]["operating"])
        reset_at = response.json()["time"]["operating_reset_at"]
    assert [round(value) for value in operating] == [100, 200, 300, 400, 500]
    assert isinstance(reset_at, int) and time.time() < reset_at <= time.time() + 601
    blocked = call("crm.status.list")
    assert blocked.status_code == 429
    assert blocked.json() == {"error": "OPERATION_TIME_LIMIT",
                              "error_description": "Method is blocked due to operation time limit."}
    assert call("user.current").status_code == 200  # another method has its own budget
    body = call("batch", cmd={"s": "crm.status.list", "u": "user.current"}).json()["result"]
    assert body["result_error"]["s"]["error"] == "OPERATION_TIME_LIMIT" and "u" in body["result"]


def test_operating_time_resets_with_the_window(make_emulator):
    emulator = make_emulator(operating_cost_seconds={"crm.status.list": 10.0}, operating_budget_seconds=15.0,
                             operating_window_seconds=0.5)
    call = _client(emulator)
    assert call("crm.status.list").status_code == 200
    last = call("crm.status.list")
    assert last.status_code == 200
    assert call("crm.status.list").status_code == 429
    wait = last.json()["time"]["operating_reset_at"] - time.time()
    assert 0 < wait <= 1.6  # whole seconds, so up to one second past the window
    time.sleep(wait + 0.05)
    assert call("crm.status.list").status_code == 200
