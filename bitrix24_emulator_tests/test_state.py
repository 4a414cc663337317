"""Persistence, seeding helpers and observability."""

from __future__ import annotations

import json

import pytest
import requests

from bitrix24_emulator import Bitrix24Emulator, EmulatorSettings
from bitrix24_emulator.testing import TEST_CLIENT_ID, TEST_CLIENT_SECRET


def test_state_survives_a_restart(tmp_path):
    path = str(tmp_path / "portal.json")
    first = Bitrix24Emulator(EmulatorSettings(), state_file=path).start()
    first.register_app(TEST_CLIENT_ID, TEST_CLIENT_SECRET)
    tokens = first.issue_tokens(TEST_CLIENT_ID)
    service_id = first.seed_service(name="Persistente", xmlId="GL-P")
    first.seed_price(service_id, 321)
    company_id = first.seed_company(TITLE="Empresa persistente", PHONE=[{"VALUE": "42"}])
    first.stop()
    assert json.load(open(path))["format"] == "glyms-b24-emulator-state/1"

    second = Bitrix24Emulator(EmulatorSettings(), state_file=path).start()
    try:
        assert [s["xmlId"] for s in second.services()] == ["GL-P"]
        assert second.prices(service_id)[0]["price"] == 321
        assert second.companies()[0]["PHONE"][0]["VALUE"] == "42"
        # Ids keep increasing after a reload; tokens and apps are still valid.
        assert second.seed_service(name="Nuevo") > service_id
        assert second.seed_company(TITLE="Otra") > company_id
        # The new run listens on another port: use the stored token against it.
        response = requests.post(f"{second.portal_url}/rest/user.current", json={"auth": tokens["access_token"]},
                                 timeout=5)
        assert response.status_code == 200
        refreshed = requests.get(f"{second.oauth_url}/oauth/token/", params={
            "grant_type": "refresh_token", "client_id": TEST_CLIENT_ID, "client_secret": TEST_CLIENT_SECRET,
            "refresh_token": tokens["refresh_token"]}, timeout=5)
        assert refreshed.status_code == 200
    finally:
        second.stop()


def test_save_state_explicitly(emulator, tmp_path):
    emulator.seed_company(TITLE="Guardada")
    path = emulator.save_state(str(tmp_path / "x" / "state.json"))
    other = Bitrix24Emulator()
    other.load_state(path)
    assert [c["TITLE"] for c in other.companies()] == ["Guardada"]


def test_seeding_helpers_are_visible_over_rest(emulator, rest):
    emulator.add_catalog(30, "Catálogo extra")
    section_id = emulator.add_section("Microbiología", iblock_id=30)
    emulator.add_price_type("DISTRIBUIDOR", price_type_id=3)
    emulator.add_status("INDUSTRY", "UC_NUEVO", "Rubro nuevo")
    emulator.add_user_field("UF_CRM_EXTRA", "string", "Extra")
    emulator.add_currency("EUR")
    assert 30 in [c["iblockId"] for c in rest("catalog.catalog.list").json()["result"]["catalogs"]]
    sections = rest("catalog.section.list", filter={"iblockId": 30}).json()["result"]["sections"]
    assert [s["id"] for s in sections] == [section_id]
    assert 3 in [t["id"] for t in rest("catalog.priceType.list").json()["result"]["priceTypes"]]
    items = rest("crm.status.entity.items", entityId="INDUSTRY").json()["result"]
    assert "UC_NUEVO" in [i["STATUS_ID"] for i in items]
    assert "UF_CRM_EXTRA" in rest("crm.company.fields").json()["result"]
    service_id = emulator.seed_service(iblockId=30, name="x", iblockSectionId=section_id)
    price = rest("catalog.price.add", fields={"productId": service_id, "catalogGroupId": 3, "price": 5,
                                              "currency": "EUR"})
    assert price.status_code == 200


def test_request_log_and_counters(emulator, rest):
    emulator.reset_observability()
    rest("user.current")
    rest("crm.company.get", id=999999)
    requests.post(f"{emulator.portal_url}/rest/nope.method", json={}, timeout=5)
    log = emulator.request_log
    assert [(e.method, e.http_status, e.error) for e in log] == [
        ("user.current", 200, None), ("crm.company.get", 400, ""), ("nope.method", 404, "ERROR_METHOD_NOT_FOUND")]
    assert log[0].transport == "oauth" and log[0].time > 0 and log[0].batch_commands == 0
    counters = emulator.counters
    assert counters["requests"] == 3
    assert counters["by_status"] == {"200": 1, "400": 1, "404": 1}
    assert counters["by_method"]["user.current"] == 1
    emulator.reset_observability()
    assert emulator.request_log == [] and emulator.counters["requests"] == 0


def test_only_loopback():
    with pytest.raises(ValueError):
        Bitrix24Emulator().start(host="0.0.0.0")
