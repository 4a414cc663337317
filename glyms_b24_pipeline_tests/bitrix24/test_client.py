"""The client against the emulator over real HTTP: calls, batch, fast listing, retries, errors."""

import time

import pytest

from bitrix24_emulator import Fault
from glyms_b24_pipeline.bitrix24 import errors
from glyms_b24_pipeline.bitrix24.client import BatchCommand
from glyms_b24_pipeline.bitrix24.encoding import ResultRef

from .conftest import log_of, webhook_client


def test_call_returns_result_total_and_time(hook_client, emulator):
    emulator.seed_company(TITLE="Laboratorio Sur")
    response = hook_client.call("crm.company.list", {"select": ["ID", "TITLE"], "filter": {"TITLE": "Laboratorio Sur"}})
    assert [row["TITLE"] for row in response.result] == ["Laboratorio Sur"]
    assert response.total == 1 and response.next is None
    assert "operating" in response.time
    assert hook_client.counters.requests == 1 and hook_client.counters.retries == 0


def test_none_is_sent_as_empty_never_as_the_string_none(hook_client, emulator):
    company_id = hook_client.call("crm.company.add", {"fields": {"TITLE": "Veterinaria Norte", "COMMENTS": "x"}}).result
    hook_client.call("crm.company.update", {"id": company_id, "fields": {"COMMENTS": None}})
    outcome = hook_client.batch({"u": ("crm.company.update", {"id": company_id, "fields": {"ADDRESS": None, "COMMENTS": None}})})
    assert outcome["u"].ok
    stored = hook_client.call("crm.company.get", {"id": company_id}).result
    assert stored["COMMENTS"] in (None, "") and stored.get("ADDRESS") in (None, "")
    assert "None" not in [v for v in stored.values() if isinstance(v, str)]


def test_batch_of_120_with_three_invalid_commands(hook_client, emulator):
    bad = {7, 64, 118}
    commands = [
        BatchCommand(f"c{i}", "crm.company.add", {"fields": {"TITLE": "" if i in bad else f"Cliente {i}", "COMMENTS": f"fila {i}"}})
        for i in range(120)
    ]
    outcomes = hook_client.batch(commands)
    assert list(outcomes) == [f"c{i}" for i in range(120)]
    failed = {key for key, outcome in outcomes.items() if not outcome.ok}
    assert failed == {f"c{i}" for i in bad}
    assert sum(1 for o in outcomes.values() if o.ok) == 117
    for key in failed:
        error = outcomes[key].error
        assert isinstance(error, errors.ValidationError)
        assert error.method == "crm.company.add" and error.description and "\n" not in str(error)
    ids = [outcomes[f"c{i}"].result for i in range(120) if i not in bad]
    assert len(set(ids)) == 117 and len(emulator.companies()) == 117
    batches = log_of(emulator, "batch")
    assert [e.batch_commands for e in batches] == [50, 50, 20]


def test_dependent_commands_stay_in_one_batch_and_resolve_result_references(hook_client, emulator):
    commands = {"first": ("crm.status.list", {"filter": {"ENTITY_ID": "COMPANY_TYPE"}})}
    for i in range(30):
        commands[f"svc{i}"] = ("catalog.product.service.add", {"fields": {"iblockId": 24, "name": f"Servicio {i}", "xmlId": f"P{i}"}})
        commands[f"price{i}"] = (
            "catalog.price.add",
            {"fields": {"productId": ResultRef(f"svc{i}", ("service", "id")), "catalogGroupId": 1, "price": 100 + i,
                        "currency": "ARS"}},
        )
    outcomes = hook_client.batch(commands)
    assert all(o.ok for o in outcomes.values()), [str(o.error) for o in outcomes.values() if not o.ok]
    for i in range(30):
        service_id = outcomes[f"svc{i}"].result["service"]["id"]
        assert int(outcomes[f"price{i}"].result["price"]["productId"]) == int(service_id)
    # 61 commands: svc24/price24 sit at positions 49/50, so the boundary moves from 50 to 49
    assert [e.batch_commands for e in log_of(emulator, "batch")] == [49, 12]


def test_data_that_looks_like_a_placeholder_is_sent_alone_and_stored_exactly(hook_client, emulator):
    names = ["Análisis $result[s1]", "Cultivo $next[p0][0]", "Perfil $error[x] y $total[y]"]
    commands = {"first": ("catalog.product.service.add", {"fields": {"iblockId": 24, "name": "Hemograma", "xmlId": "1"}})}
    for i, name in enumerate(names):
        commands[f"s{i}"] = ("catalog.product.service.add", {"fields": {"iblockId": 24, "name": name, "xmlId": f"x{i}"}})
        commands[f"p{i}"] = ("catalog.price.add", {"fields": {"productId": ResultRef(f"s{i}", ("service", "id")),
                                                             "catalogGroupId": 1, "price": 10 + i, "currency": "ARS"}})
    outcomes = hook_client.batch(commands, idempotent=False)
    assert all(o.ok for o in outcomes.values()), {k: str(o.error) for k, o in outcomes.items() if not o.ok}
    stored = {s["xmlId"]: s for s in emulator.services(iblock_id=24)}
    assert [stored[f"x{i}"]["name"] for i in range(3)] == names
    assert {p["productId"] for p in emulator.prices()} == {stored[f"x{i}"]["id"] for i in range(3)}
    # the plain create went in a batch; the three placeholder-like ones and their prices went alone
    assert [e.batch_commands for e in log_of(emulator, "batch")] == [1]
    assert len(log_of(emulator, "catalog.product.service.add")) == 3 and len(log_of(emulator, "catalog.price.add")) == 3


def test_a_listing_filter_holding_placeholder_text_pages_with_single_calls(hook_client, emulator):
    for i in range(60):
        emulator.seed_company(TITLE=f"Empresa {i}", COMMENTS="nota $result[p0]" if i % 2 else "nota")
    rows = hook_client.list_fast("crm.company.list", {"select": ["ID", "TITLE"], "filter": {"COMMENTS": "nota $result[p0]"}})
    assert len(rows) == 30 and log_of(emulator, "batch") == []


def test_batch_halt_marks_unexecuted_commands(hook_client):
    outcomes = hook_client.batch(
        [
            BatchCommand("a", "crm.company.add", {"fields": {"TITLE": "Uno"}}),
            BatchCommand("b", "crm.company.add", {"fields": {"TITLE": ""}}),
            BatchCommand("c", "crm.company.add", {"fields": {"TITLE": "Tres"}}),
        ],
        halt=True,
    )
    assert outcomes["a"].ok and isinstance(outcomes["b"].error, errors.ValidationError)
    assert isinstance(outcomes["c"].error, errors.NotExecutedError)


def test_a_failed_batch_request_fails_its_chunk_without_raising(emulator):
    emulator.add_fault(Fault(kind="http_500", method="crm.company.add"))  # every batch containing an add
    with webhook_client(emulator, max_retries=1) as hook:
        commands = [BatchCommand(f"c{i}", "crm.company.add", {"fields": {"TITLE": f"X{i}"}}) for i in range(60)]
        commands.append(BatchCommand("get", "crm.status.list", {"filter": {"ENTITY_ID": "COMPANY_TYPE"}}))
        outcomes = hook.batch(commands)
    assert len(outcomes) == 61
    assert all(isinstance(outcomes[f"c{i}"].error, errors.ServerError) for i in range(60))
    # the second chunk also held the status list: it failed with its chunk (2 tries each chunk)
    assert len(log_of(emulator, "batch")) == 4


def test_fast_listing_of_6000_services_takes_three_requests(hook_client, emulator):
    for i in range(6000):
        emulator.seed_service(name=f"Servicio {i}", xmlId=f"P{i}")
    emulator.reset_observability()
    rows = hook_client.list_fast(
        "catalog.product.service.list",
        {"select": ["id", "iblockId", "xmlId"], "filter": {"iblockId": 24}},
        id_field="id",
        result_key="services",
    )
    assert len(rows) == 6000
    ids = [int(r["id"]) for r in rows]
    assert ids == sorted(set(ids))
    assert {r["xmlId"] for r in rows} == {f"P{i}" for i in range(6000)}
    assert len(log_of(emulator)) <= 3 and hook_client.counters.requests <= 3


def test_fast_listing_stops_cleanly_on_small_and_empty_results(hook_client, emulator):
    for i in range(3):
        emulator.seed_company(TITLE=f"Empresa {i}")
    rows = hook_client.list_fast("crm.company.list", {"select": ["ID", "TITLE"], "filter": {}})
    assert [r["TITLE"] for r in rows] == ["Empresa 0", "Empresa 1", "Empresa 2"]
    assert hook_client.list_fast("crm.company.list", {"filter": {"TITLE": "nadie"}}) == []
    # exactly one page boundary: 50 rows, then an empty page in the same batch
    for i in range(47):
        emulator.seed_company(TITLE=f"Otra {i}")
    emulator.reset_observability()
    assert len(hook_client.list_fast("crm.company.list", {"select": ["ID"]})) == 50
    assert len(log_of(emulator)) == 1


@pytest.mark.parametrize("kind", ["http_500", "http_502", "http_504", "html_error", "connection_reset", "lost_response"])
def test_server_errors_and_resets_are_retried(hook_client, emulator, kind):
    emulator.add_fault(Fault(kind=kind, method="crm.status.list", nth=1, count=2))
    response = hook_client.call("crm.status.list", {"filter": {"ENTITY_ID": "COMPANY_TYPE"}})
    assert response.result
    assert hook_client.counters.retries == 2 and hook_client.counters.requests == 3
    assert len(log_of(emulator, "crm.status.list")) == 3


def test_timeouts_are_retried(emulator):
    emulator.add_fault(Fault(kind="timeout", method="crm.status.list", nth=1, delay_seconds=3.0))
    with webhook_client(emulator, read_timeout_seconds=0.5) as hook:
        started = time.monotonic()
        assert hook.call("crm.status.list", {"filter": {"ENTITY_ID": "COMPANY_TYPE"}}).result
        assert hook.counters.retries == 1
        assert time.monotonic() - started < 2.5


def test_retries_are_bounded(emulator):
    emulator.add_fault(Fault(kind="http_502", method="crm.status.list"))  # always
    with webhook_client(emulator, max_retries=3) as hook:
        started = time.monotonic()
        with pytest.raises(errors.ServerError) as caught:
            hook.call("crm.status.list", {"filter": {"ENTITY_ID": "COMPANY_TYPE"}})
        assert caught.value.http_status == 502 and caught.value.method == "crm.status.list"
        assert hook.counters.requests == 4 and hook.counters.retries == 3
        assert time.monotonic() - started < 2.0


def test_validation_errors_are_not_retried(hook_client, emulator):
    with pytest.raises(errors.ValidationError) as caught:
        hook_client.call("crm.company.add", {"fields": {"TITLE": ""}})
    assert caught.value.http_status == 400 and caught.value.method == "crm.company.add"
    assert caught.value.code is not None and caught.value.description
    assert hook_client.counters.requests == 1 and hook_client.counters.retries == 0
    with pytest.raises(errors.NotFoundError) as missing:
        hook_client.call("crm.no.such.method")
    assert missing.value.http_status == 404 and missing.value.code == "ERROR_METHOD_NOT_FOUND"
    assert len(log_of(emulator)) == 2


def test_a_503_storm_is_ridden_out(make_emulator):
    # the portal allows 5 requests then 10/s; this client was configured far too generously
    emu = make_emulator(rate_limit_burst=5, rate_limit_drain_per_second=10.0)
    with webhook_client(emu, max_retries=8, backoff_base_seconds=0.05, backoff_max_seconds=0.4) as hook:
        for _ in range(25):
            assert hook.call("crm.status.list", {"filter": {"ENTITY_ID": "COMPANY_TYPE"}}).result
        assert hook.counters.rate_limited_503 > 0
        assert hook.counters.retries == hook.counters.rate_limited_503
    statuses = [e.http_status for e in log_of(emu)]
    assert statuses.count(200) == 25 and statuses.count(503) == hook.counters.rate_limited_503


def test_429_waits_for_operating_reset_then_succeeds(make_emulator):
    emu = make_emulator(
        rate_limit_burst=100000, rate_limit_drain_per_second=100000.0,
        operating_budget_seconds=1.0, operating_window_seconds=2.0, operating_cost_seconds={"crm.status.list": 0.6},
    )
    # the client believes the budget is 480 s, so it does not slow down and meets the 429
    with webhook_client(emu, operating_budget_seconds=480.0) as hook:
        for _ in range(3):
            hook.call("crm.status.list", {"filter": {"ENTITY_ID": "COMPANY_TYPE"}})
        assert hook.counters.operating_limited_429 >= 1
        assert hook.counters.seconds_waited > 0.1
    assert 429 in [e.http_status for e in log_of(emu)]


def test_operating_time_slows_the_client_before_the_portal_blocks_it(make_emulator):
    emu = make_emulator(
        rate_limit_burst=100000, rate_limit_drain_per_second=100000.0,
        operating_budget_seconds=1.0, operating_window_seconds=2.0, operating_cost_seconds={"crm.status.list": 0.45},
    )
    with webhook_client(emu, operating_budget_seconds=1.0) as hook:
        for _ in range(4):
            hook.call("crm.status.list", {"filter": {"ENTITY_ID": "COMPANY_TYPE"}})
        assert hook.counters.operating_limited_429 == 0 and hook.counters.seconds_waited > 0.1
    assert 429 not in [e.http_status for e in log_of(emu)]
