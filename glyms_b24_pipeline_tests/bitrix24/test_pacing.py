"""Client-side pacing against the emulator's real leaky bucket (tight limits, so it is quick)."""

import threading
import time

import requests

from glyms_b24_pipeline.bitrix24.auth import WebhookAuth
from glyms_b24_pipeline.bitrix24.client import Bitrix24Client
from glyms_b24_pipeline.bitrix24.encoding import ResultRef

from .conftest import FAST, limits, log_of, webhook_client


def test_threads_of_one_process_share_the_bucket_and_never_get_503(make_emulator):
    emu = make_emulator(rate_limit_burst=10, rate_limit_drain_per_second=10.0)
    hook_url = emu.add_webhook(user_id=1)

    clients = [
        Bitrix24Client(WebhookAuth(hook_url), limits(rate_limit_burst=10, rate_limit_drain_per_second=10.0, max_retries=0))
        for _ in range(3)
    ]
    assert clients[0].bucket is clients[1].bucket is clients[2].bucket
    failures = []

    def work(client):
        try:
            for _ in range(15):
                client.call("crm.status.list", {"filter": {"ENTITY_ID": "COMPANY_TYPE"}})
        except Exception as exc:  # max_retries=0: a single 503 would land here
            failures.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert failures == []
    statuses = [e.http_status for e in log_of(emu)]
    assert statuses.count(200) == 45 and 503 not in statuses
    # 45 requests with a burst of ~9 free: the other 36 at 10/s -> at least 3.6 s, and not much more
    assert 3.4 <= elapsed <= 6.0
    assert sum(c.counters.seconds_waited for c in clients) > 3.0


def test_a_503_from_a_busy_portal_fills_our_bucket(make_emulator):
    emu = make_emulator(rate_limit_burst=10, rate_limit_drain_per_second=10.0)
    # another program on the same IP has already used the portal's whole burst
    other = emu.add_webhook(user_id=1)
    assert all(requests.post(other + "user.current", timeout=5).status_code == 200 for _ in range(10))
    with webhook_client(emu, rate_limit_burst=10, rate_limit_drain_per_second=10.0, max_retries=3) as hook:
        for _ in range(5):
            hook.call("crm.status.list", {"filter": {"ENTITY_ID": "COMPANY_TYPE"}})
        assert hook.counters.rate_limited_503 == 1  # one 503, then our bucket knows the portal is full
        assert hook.bucket.level > 4


def test_batched_calls_are_paced_by_their_durations_before_the_portal_blocks_them(make_emulator):
    """Batch sub-results carry no running total; the client sums their durations instead."""
    from glyms_b24_pipeline.bitrix24.auth import WebhookAuth
    from glyms_b24_pipeline.bitrix24.client import Bitrix24Client

    from .conftest import limits

    emu = make_emulator(
        rate_limit_burst=100000, rate_limit_drain_per_second=100000.0,
        operating_budget_seconds=3.0, operating_window_seconds=3.0, operating_cost_seconds={"crm.company.add": 0.2},
    )
    client = Bitrix24Client(WebhookAuth(emu.add_webhook(user_id=1)),
                            limits(operating_budget_seconds=3.0, operating_wait_max_seconds=10.0))
    client.operating.window_seconds = 3.0  # this portal's window (the real one is 600 s)
    with client:
        for round_number in range(4):  # 4 batches x 5 adds x 0.2 s = 4 s of a 3 s budget
            outcomes = client.batch({f"c{round_number}_{i}": ("crm.company.add", {"fields": {"TITLE": f"E{i}"}})
                                     for i in range(5)}, idempotent=False)
            assert all(o.ok for o in outcomes.values()), [str(o.error) for o in outcomes.values() if not o.ok]
        assert client.counters.operating_limited_429 == 0
        assert client.counters.seconds_waited > 0.5
    assert len(emu.companies()) == 20


def test_fast_listing_waits_out_an_operating_block_and_resumes(make_emulator):
    from glyms_b24_pipeline.bitrix24.auth import WebhookAuth
    from glyms_b24_pipeline.bitrix24.client import Bitrix24Client

    from .conftest import limits

    emu = make_emulator(
        rate_limit_burst=100000, rate_limit_drain_per_second=100000.0,
        operating_budget_seconds=1.0, operating_window_seconds=1.5,
        operating_cost_seconds={"catalog.product.service.list": 0.3},
    )
    for i in range(260):
        emu.seed_service(iblockId=24, name=f"Servicio {i}", xmlId=str(i + 1))
    # the client believes in the real 480 s budget, so only the portal's 429 can stop it
    client = Bitrix24Client(WebhookAuth(emu.add_webhook(user_id=1)), limits(max_retries=6))
    # a 429 inside a batch names no reset time: wait one of this portal's windows (real: 60 s)
    client.operating.default_block_seconds = 1.5
    with client:
        rows = client.list_fast("catalog.product.service.list",
                                {"select": ["id", "iblockId", "xmlId"], "filter": {"iblockId": 24}},
                                id_field="id", result_key="services", pages_per_batch=2)
        assert client.counters.operating_limited_429 >= 1
    assert [int(r["xmlId"]) for r in rows] == list(range(1, 261))


def test_commands_refused_for_operating_time_are_resent_with_their_dependents(make_emulator):
    from glyms_b24_pipeline.bitrix24.auth import WebhookAuth
    from glyms_b24_pipeline.bitrix24.client import Bitrix24Client


    emu = make_emulator(
        rate_limit_burst=100000, rate_limit_drain_per_second=100000.0,
        operating_budget_seconds=1.0, operating_window_seconds=1.5, operating_cost_seconds={"crm.company.add": 0.3},
    )
    client = Bitrix24Client(WebhookAuth(emu.add_webhook(user_id=1)), FAST)  # believes in 480 s: meets the 429
    client.operating.default_block_seconds = 1.5  # this portal's window (real: 60 s)
    commands = {}
    for i in range(6):
        commands[f"c{i}"] = ("crm.company.add", {"fields": {"TITLE": f"Empresa {i}"}})
        commands[f"u{i}"] = ("crm.company.update", {"id": ResultRef(f"c{i}"), "fields": {"COMMENTS": f"nota {i}"}})
    with client:
        outcomes = client.batch(commands, idempotent=False)
        assert client.counters.operating_limited_429 >= 1
    assert all(o.ok for o in outcomes.values()), {k: str(o.error) for k, o in outcomes.items() if not o.ok}
    companies = emu.companies()
    assert sorted(c["TITLE"] for c in companies) == [f"Empresa {i}" for i in range(6)]  # none twice
    assert sorted(c["COMMENTS"] for c in companies) == [f"nota {i}" for i in range(6)]
