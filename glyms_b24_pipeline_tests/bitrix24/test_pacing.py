"""Client-side pacing against the emulator's real leaky bucket (tight limits, so it is quick)."""

import threading
import time

import requests

from glyms_b24_pipeline.bitrix24.auth import WebhookAuth
from glyms_b24_pipeline.bitrix24.client import Bitrix24Client

from .conftest import log_of, webhook_client


def test_threads_of_one_process_share_the_bucket_and_never_get_503(make_emulator):
    emu = make_emulator(rate_limit_burst=10, rate_limit_drain_per_second=10.0)
    hook_url = emu.add_webhook(user_id=1)

    clients = [
        Bitrix24Client(WebhookAuth(hook_url), rate_limit_burst=10, rate_limit_drain_per_second=10.0, max_retries=0)
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
