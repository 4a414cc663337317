"""Writes are never sent twice blindly: a lost answer is reported, not resent."""

import socket

from bitrix24_emulator import Fault
from glyms_b24_pipeline.bitrix24 import errors
from glyms_b24_pipeline.bitrix24.auth import WebhookAuth
from glyms_b24_pipeline.bitrix24.client import Bitrix24Client

from .conftest import limits, log_of


def _creates(n):
    return {f"c{i}": ("crm.company.add", {"fields": {"TITLE": f"Empresa {i}"}}) for i in range(n)}


def test_lost_answer_of_a_write_batch_is_not_resent(emulator, hook_client):
    emulator.add_fault(Fault(kind="lost_response", method="crm.company.add", nth=1))
    outcomes = hook_client.batch(_creates(3), idempotent=False)
    assert all(not o.ok and o.error.outcome_unknown for o in outcomes.values())
    assert isinstance(outcomes["c0"].error, errors.TransportError)
    # applied once by the portal, sent once by the client
    assert len(emulator.companies()) == 3
    assert len(log_of(emulator, "batch")) == 1


def test_reads_and_idempotent_batches_are_still_retried(emulator, hook_client):
    emulator.add_fault(Fault(kind="http_502", method="crm.company.list", nth=1))
    outcomes = hook_client.batch({"l": ("crm.company.list", {"select": ["ID"]})})
    assert outcomes["l"].ok
    assert len(log_of(emulator, "batch")) == 2


def test_a_server_error_on_a_write_batch_is_outcome_unknown(emulator, hook_client):
    emulator.add_fault(Fault(kind="http_500", method="crm.company.add", nth=1))
    outcomes = hook_client.batch(_creates(2), idempotent=False)
    assert {type(o.error) for o in outcomes.values()} == {errors.ServerError}
    assert all(o.error.outcome_unknown for o in outcomes.values())
    assert emulator.companies() == []  # the 500 came before processing: nothing applied
    assert len(log_of(emulator, "batch")) == 1


def test_rate_limited_write_batch_is_resent(make_emulator):
    # the portal frees a slot every 50 ms; six jittered back-offs (>= 0.35 s in all) always outlast it
    emu = make_emulator(rate_limit_burst=1, rate_limit_drain_per_second=20.0)
    client = Bitrix24Client(WebhookAuth(emu.add_webhook(user_id=1)), limits(rate_limit_burst=50,
                                                                         rate_limit_drain_per_second=50.0,
                                                                         max_retries=6))
    with client:
        client.call("user.current")
        outcomes = client.batch(_creates(2), idempotent=False)  # 503 first: certainly not applied, so resent
    assert all(o.ok for o in outcomes.values())
    assert len(emu.companies()) == 2
    assert client.counters.rate_limited_503 >= 1


def test_refused_connection_is_a_connect_error_with_a_known_outcome():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    client = Bitrix24Client(WebhookAuth(f"http://127.0.0.1:{port}/rest/1/abc/"), limits(max_retries=1))
    with client:
        outcome = client.batch(_creates(1), idempotent=False)["c0"]
    assert isinstance(outcome.error, errors.ConnectError)
    assert not outcome.error.outcome_unknown
    assert client.counters.retries == 1  # resent: the request never reached a portal
