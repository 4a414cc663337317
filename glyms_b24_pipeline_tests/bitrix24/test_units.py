"""Pure building blocks: query encoding, batch chunk planning, error classification, pacing maths."""

import json
import threading

import pytest

from glyms_b24_pipeline.bitrix24 import errors
from glyms_b24_pipeline.bitrix24.auth import TokenSet, redact
from glyms_b24_pipeline.bitrix24.client import BatchCommand, plan_chunks, solo_commands
from glyms_b24_pipeline.bitrix24.encoding import (
    ResultRef,
    build_query,
    carries_placeholder_text,
    command_string,
    json_body,
    references,
)
from glyms_b24_pipeline.bitrix24.pacing import LeakyBucket, OperatingTimeTracker, bucket_for_portal, portal_key


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_build_query_is_php_style_and_never_sends_none_as_text():
    query = build_query(
        {"fields": {"NAME": "Análisis + cultivo", "COMMENTS": None, "ACTIVE": True, "OFF": False, "PRICE": 1500.0},
         "select": ["id", "xmlId"], "filter": {">id": 10, "@xmlId": []}}
    )
    assert query == (
        "fields[NAME]=An%C3%A1lisis%20%2B%20cultivo&fields[COMMENTS]=&fields[ACTIVE]=1&fields[OFF]=0"
        "&fields[PRICE]=1500&select[0]=id&select[1]=xmlId&filter[%3Eid]=10"
    )
    assert "None" not in query
    assert command_string("user.current", None) == "user.current"
    assert command_string("crm.company.get", {"id": 5}) == "crm.company.get?id=5"


def test_references_are_objects_and_text_that_looks_like_one_is_data():
    params = {"fields": {"productId": ResultRef("create_7", ("service", "id")), "price": 10},
              "note": "x $result[other] y"}
    assert references(params) == {"create_7"}
    query = build_query(params)
    assert "fields[productId]=$result[create_7][service][id]" in query
    assert "note=x%20%24result%5Bother%5D%20y" in query  # data is encoded, never rendered as a reference
    assert carries_placeholder_text(params) and not carries_placeholder_text({"x": ResultRef("a")})
    for text in ("$result[x]", "a $next[p0] b", "$error[k]", "$total[k]", "$time[k]"):
        assert carries_placeholder_text({"fields": {"NAME": text}}), text
    assert not carries_placeholder_text({"fields": {"NAME": "USD $100 [promo]", "n": 5}})


def test_commands_with_placeholder_text_and_their_dependents_go_alone():
    commands = [
        BatchCommand("a", "m", {"fields": {"NAME": "plain"}}),
        BatchCommand("b", "m", {"fields": {"NAME": "Análisis $result[s1]"}}),
        BatchCommand("c", "m", {"id": ResultRef("b")}),
        BatchCommand("d", "m", {"id": ResultRef("a")}),
    ]
    assert solo_commands(commands) == {"b", "c"}
    plan_chunks([c for c in commands if c.key not in {"b", "c"}])  # no false dependency on 's1'


def test_json_body_keeps_none_as_null_and_encodes_decimals():
    from decimal import Decimal

    body = json.loads(json_body({"a": None, "b": Decimal("1500.50"), "c": Decimal("3")}))
    assert body == {"a": None, "b": 1500.5, "c": 3}


def _cmds(n, refs=()):
    refs = dict(refs)
    return [BatchCommand(f"k{i}", "m", {"x": ResultRef(f"k{refs[i]}")} if i in refs else {}) for i in range(n)]


def test_chunks_of_fifty_in_order():
    chunks = plan_chunks(_cmds(120))
    assert [len(c) for c in chunks] == [50, 50, 20]
    assert [c.key for chunk in chunks for c in chunk] == [f"k{i}" for i in range(120)]


def test_chunk_boundary_moves_earlier_to_keep_a_dependency_together():
    # k49 (create) and k50 (its price) would be split at 50: the boundary moves to 49.
    chunks = plan_chunks(_cmds(120, {50: 49}))
    assert [len(c) for c in chunks] == [49, 50, 21]
    assert {"k49", "k50"} <= {c.key for c in chunks[1]}


def test_bad_references_are_refused():
    with pytest.raises(ValueError, match="unknown key"):
        plan_chunks([BatchCommand("a", "m", {"x": ResultRef("zz")})])
    with pytest.raises(ValueError, match="does not come before"):
        plan_chunks([BatchCommand("a", "m", {"x": ResultRef("b")}), BatchCommand("b", "m")])
    with pytest.raises(ValueError, match="span more than"):
        plan_chunks(_cmds(60, {55: 0}))
    with pytest.raises(ValueError, match="duplicate"):
        plan_chunks([BatchCommand("a", "m"), BatchCommand("a", "m")])


@pytest.mark.parametrize(
    "status,code,cls",
    [
        (401, "expired_token", errors.AuthError),
        (401, "invalid_token", errors.ReauthorizationRequired),
        (400, "invalid_grant", errors.ReauthorizationRequired),
        (200, "wrong_client", errors.ReauthorizationRequired),
        (503, "QUERY_LIMIT_EXCEEDED", errors.RateLimitError),
        (429, "OPERATION_TIME_LIMIT", errors.OperatingLimitError),
        (404, "ERROR_METHOD_NOT_FOUND", errors.NotFoundError),
        (400, "", errors.ValidationError),
        (400, 200040300040, errors.ValidationError),
        (400, "ERROR_CORE", errors.ValidationError),
        (500, "INTERNAL_SERVER_ERROR", errors.ServerError),
        (502, None, errors.ServerError),
    ],
)
def test_classification(status, code, cls):
    error = errors.classify(method="crm.company.add", http_status=status, code=code, description="Line one\nline two")
    assert type(error) is cls
    assert error.method == "crm.company.add" and error.http_status == status and error.code == code
    assert "\n" not in str(error) and str(error).startswith("crm.company.add:")


def test_not_found_text_and_reauthorise_hint():
    assert isinstance(errors.classify(method="crm.company.get", http_status=400, code="", description="Not found"), errors.NotFoundError)
    text = str(errors.classify(method="oauth.token", http_status=400, code="invalid_grant", description=""))
    assert text.endswith("re-authorise with `glyms-b24 auth`") and "\n" not in text


def test_errors_pickle_with_their_attributes():
    import pickle

    error = pickle.loads(pickle.dumps(errors.ValidationError("bad", method="m", http_status=400, code=0)))
    assert (type(error), error.method, error.http_status, error.code, error.description) == (errors.ValidationError, "m", 400, 0, "bad")


def test_leaky_bucket_lets_the_burst_through_then_paces_at_the_drain_rate():
    clock = FakeClock()
    bucket = LeakyBucket(50, 2.0, clock=clock)
    waits = [bucket.acquire(clock.sleep) for _ in range(100)]
    free = sum(1 for w in waits if w == 0)
    assert 45 <= free < 50  # a small safety margin below the portal's burst
    start = clock.now
    for _ in range(20):
        bucket.acquire(clock.sleep)
    assert clock.now - start == pytest.approx(20 / 2.0)  # steady state: exactly the drain rate


def test_leaky_bucket_is_shared_by_threads_and_saturates_on_503():
    bucket = LeakyBucket(10, 1000.0)
    waits = []
    threads = [threading.Thread(target=lambda: waits.append(bucket.reserve())) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # reservations are booked one after the other: every thread got its own slot
    assert len(set(round(w, 6) for w in waits if w > 0)) == len([w for w in waits if w > 0])
    clock = FakeClock()
    fresh = LeakyBucket(50, 2.0, clock=clock)
    fresh.saturate()
    assert fresh.reserve() > 0


def test_buckets_are_process_wide_per_portal():
    a = bucket_for_portal("https://Portal.example.com/rest/1/secret/", 50, 2.0)
    b = bucket_for_portal("https://portal.example.com", 50, 2.0)
    c = bucket_for_portal("https://other.example.com", 50, 2.0)
    assert a is b and a is not c
    assert portal_key("https://portal.example.com/rest/1/secret/") == "https://portal.example.com"


def test_operating_tracker_slows_then_stops_before_the_budget():
    clock = FakeClock(1_000_000.0)
    tracker = OperatingTimeTracker(100.0, clock=clock, max_slow_delay=5.0)
    tracker.observe("crm.company.list", {"operating": 10.0, "operating_reset_at": clock.now + 60})
    assert tracker.delay_before("crm.company.list") == 0
    tracker.observe("crm.company.list", {"operating": 80.0, "operating_reset_at": clock.now + 60})
    assert 0 < tracker.delay_before("crm.company.list") < 5.0
    tracker.observe("crm.company.list", {"operating": 95.0, "operating_reset_at": clock.now + 42})
    assert tracker.delay_before("crm.company.list") == pytest.approx(42)
    assert tracker.delay_before("crm.company.add") == 0  # per method
    clock.now += 43
    assert tracker.delay_before("crm.company.list") == 0


def test_token_set_repr_and_redaction_hide_secrets():
    tokens = TokenSet.from_response({"access_token": "AT-123", "refresh_token": "RT-456", "expires_in": 3600})
    assert "AT-123" not in repr(tokens) and "RT-456" not in repr(tokens)
    line = 'GET /oauth/token/?grant_type=refresh_token&client_id=x&client_secret=S3&refresh_token=RT-456 HTTP/1.1'
    assert "S3" not in redact(line) and "RT-456" not in redact(line)
    assert "abc123" not in redact("POST /rest/1/abc123/user.current HTTP/1.1")


def test_resolve_references_replaces_references_and_leaves_text_alone():
    from glyms_b24_pipeline.bitrix24.encoding import resolve_references

    done = {"s1": {"service": {"id": 1264}}, "l": [{"ID": "7"}]}
    params = {"fields": {"productId": ResultRef("s1", ("service", "id")), "other": ResultRef("s2", ("service", "id")),
                         "first": ResultRef("l", (0, "ID")), "text": "x $result[s1]"}}
    assert resolve_references(params, done, keep_pending=True) == {"fields": {
        "productId": 1264, "other": ResultRef("s2", ("service", "id")), "first": "7", "text": "x $result[s1]"}}
    with pytest.raises(LookupError):
        resolve_references(params, done)
    with pytest.raises(LookupError):
        resolve_references({"x": ResultRef("s1", ("service", "nope"))}, done)


def test_carry_over_raises_the_level_never_lowers_it_and_never_beyond_the_burst():
    now = [0.0]
    bucket = LeakyBucket(50, 2.0, clock=lambda: now[0])
    bucket.carry_over(30.0)
    assert bucket.level == 30.0
    bucket.carry_over(10.0)
    assert bucket.level == 30.0
    bucket.carry_over(500.0)
    assert bucket.level == 50.0
    now[0] = 5.0
    assert bucket.level == 40.0
