"""fast-bitrix24 in webhook mode, unmodified, as a judge of the emulator's fidelity.

The client paces itself with its own leaky bucket, but records a request only once its answer
arrives, so requests it sends at the same moment are not paced at all. The tests therefore run the
emulator with permissive limits (the ``emulator`` fixture) and never depend on the client's pacing.
"""

from __future__ import annotations

import asyncio
import ssl
import warnings

import aiohttp
import pytest
from fast_bitrix24 import Bitrix, BitrixAsync
from fast_bitrix24.server_response import ErrorInServerResponseException

from bitrix24_emulator import TLS_CA_FILE
from bitrix24_emulator.testing import PERMISSIVE_LIMITS


@pytest.fixture
def bitrix(emulator):
    """The synchronous client on a webhook of the ``emulator`` fixture, with a loop of its own."""
    # The sync wrapper runs every call on asyncio.get_event_loop(): give it one and close it after.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield Bitrix(emulator.add_webhook(user_id=1), verbose=False)
    finally:
        loop.close()
        asyncio.set_event_loop(None)


def _stored(emulator, company_id):
    return next((c for c in emulator.companies() if c["ID"] == str(company_id)), None)


def test_company_round_trip(emulator, bitrix):
    company_id = bitrix.call("crm.company.add", {"fields": {
        "TITLE": "Metalúrgica del Sur", "ORIGIN_ID": "glyms-815",
        "EMAIL": [{"VALUE": "info@metsur.example", "VALUE_TYPE": "WORK"}],
        "PHONE": [{"VALUE": "+54 341 555-0101", "VALUE_TYPE": "WORK"}]}})
    assert isinstance(company_id, int)
    stored = _stored(emulator, company_id)
    assert stored["TITLE"] == "Metalúrgica del Sur" and stored["ORIGIN_ID"] == "glyms-815"
    assert [p["VALUE"] for p in stored["PHONE"]] == ["+54 341 555-0101"]

    got = bitrix.get_by_ID("crm.company.get", [company_id])
    assert got["ID"] == str(company_id) and got["TITLE"] == "Metalúrgica del Sur"
    assert got["EMAIL"][0]["VALUE"] == "info@metsur.example"

    phone_id = got["PHONE"][0]["ID"]
    assert bitrix.call("crm.company.update", {"id": company_id, "fields": {
        "TITLE": "Metalúrgica del Sur SA", "PHONE": [{"ID": phone_id, "DELETE": "Y"}]}}) is True
    stored = _stored(emulator, company_id)
    assert stored["TITLE"] == "Metalúrgica del Sur SA" and stored["HAS_PHONE"] == "N"

    emulator.seed_company(TITLE="Otra", ORIGIN_ID="glyms-816")
    listed = bitrix.get_all("crm.company.list", {"filter": {"ORIGIN_ID": "glyms-815"},
                                                 "select": ["ID", "TITLE", "ORIGIN_ID"]})
    assert listed == [{"ID": str(company_id), "TITLE": "Metalúrgica del Sur SA", "ORIGIN_ID": "glyms-815"}]

    assert bitrix.call("crm.company.delete", {"id": company_id}) is True
    assert _stored(emulator, company_id) is None


def test_batch_with_a_reference_and_a_failing_command(emulator, bitrix):
    results = bitrix.call_batch({"halt": 0, "cmd": {
        "new": "crm.company.add?fields[TITLE]=Alta%20en%20batch&fields[ORIGIN_ID]=glyms-b7",
        "read": "crm.company.get?id=$result[new]"}})
    assert results["read"]["ID"] == str(results["new"]) and results["read"]["TITLE"] == "Alta en batch"

    failing = {"halt": 0, "cmd": {"ok": "crm.company.add?fields[TITLE]=Segunda",
                                  "missing": "crm.company.get?id=999999"}}
    with pytest.raises(ErrorInServerResponseException) as raised:
        bitrix.call_batch(failing)
    assert raised.value.args[0] == {"missing": {"error": "", "error_description": "Not found"}}
    # The raw answer carries both halves; the command before the failure was applied.
    raw = bitrix.call("batch", failing, raw=True)["result"]
    assert set(raw["result"]) == {"ok"} and set(raw["result_error"]) == {"missing"}
    titles = [c["TITLE"] for c in emulator.companies()]
    assert titles.count("Segunda") == 2 and "Alta en batch" in titles


def test_get_all_pages_120_rows_exactly_once(emulator, bitrix):
    seeded = {str(emulator.seed_company(TITLE=f"Cliente {n:03d}")) for n in range(120)}
    emulator.reset_observability()
    with warnings.catch_warnings():
        # fast_bitrix24 warns (RuntimeWarning) when the rows it got do not add up to "total".
        warnings.simplefilter("error", RuntimeWarning)
        rows = bitrix.get_all("crm.company.list", {"select": ["ID", "TITLE"]})
    assert len(rows) == 120 and {row["ID"] for row in rows} == seeded
    calls = [(entry.method, entry.batch_commands) for entry in emulator.request_log]
    assert calls == [("crm.company.list", 0), ("batch", 2)]


def test_bulk_call_sends_concurrent_batches(emulator, bitrix):
    ids = bitrix.call("crm.company.add", [{"fields": {"TITLE": f"Lote {n:03d}"}} for n in range(120)])
    assert len(ids) == 120 and len(set(ids)) == 120
    assert sorted(c["TITLE"] for c in emulator.companies()) == [f"Lote {n:03d}" for n in range(120)]
    # Completion order of simultaneous batches is not fixed; their sizes are.
    assert sorted(entry.batch_commands for entry in emulator.request_log) == [20, 50, 50]


def test_webhook_over_https(make_emulator):
    """The client's own ``client=`` hook carries the trust in the emulator's test CA."""
    emulator = make_emulator(tls=True, **PERMISSIVE_LIMITS)
    webhook = emulator.add_webhook(user_id=1)
    assert webhook.startswith("https://")
    for n in range(60):
        emulator.seed_company(TITLE=f"Seguro {n}")

    async def scenario():
        context = ssl.create_default_context(cafile=TLS_CA_FILE)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context),
                                         raise_for_status=True) as session:
            client = BitrixAsync(webhook, verbose=False, client=session)
            added = await client.call("crm.company.add", {"fields": {"TITLE": "Por TLS"}})
            rows = await client.get_all("crm.company.list", {"select": ["ID"]})
            return added, rows

    added, rows = asyncio.run(scenario())
    assert _stored(emulator, added)["TITLE"] == "Por TLS"
    assert len(rows) == 61 and len({row["ID"] for row in rows}) == 61
