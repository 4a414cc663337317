"""Look-ups served from indexes stay right after every kind of change, over real HTTP."""

from __future__ import annotations

import requests

from bitrix24_emulator import Bitrix24Emulator, EmulatorSettings
from bitrix24_emulator.testing import PERMISSIVE_LIMITS, TEST_CLIENT_ID, TEST_CLIENT_SECRET

DUPLICATE_PRICE = "Validate price error. Catalog product is allowed has only single price without ranges in price group."


def _company_ids(rest, filter_):
    body = rest("crm.company.list", filter=filter_, select=["ID"]).json()
    return [int(row["ID"]) for row in body["result"]]


def _service_ids(rest, filter_):
    body = rest("catalog.product.service.list", select=["id", "iblockId"], filter={"iblockId": 24, **filter_}).json()
    return [row["id"] for row in body["result"]["services"]]


def _price_ids(rest, filter_):
    return [row["id"] for row in rest("catalog.price.list", filter=filter_).json()["result"]["prices"]]


def _add_price(rest, product_id, group_id=1, amount=10):
    return rest("catalog.price.add", fields={"productId": product_id, "catalogGroupId": group_id, "price": amount,
                                             "currency": "ARS"})


def test_company_origin_id_change_moves_it_in_the_index(emulator, rest):
    company_id = rest("crm.company.add", fields={"TITLE": "Lab", "ORIGIN_ID": "21"}).json()["result"]
    other_id = emulator.seed_company(TITLE="Otra", ORIGIN_ID="22")
    assert _company_ids(rest, {"ORIGIN_ID": "21"}) == [company_id]
    rest("crm.company.update", id=company_id, fields={"ORIGIN_ID": "31"}).raise_for_status()
    assert _company_ids(rest, {"ORIGIN_ID": "21"}) == []
    assert _company_ids(rest, {"ORIGIN_ID": "31"}) == [company_id]
    assert _company_ids(rest, {"@ORIGIN_ID": ["21", "22", "31"]}) == [company_id, other_id]
    rest("crm.company.update", id=company_id, fields={"ORIGIN_ID": ""}).raise_for_status()
    assert _company_ids(rest, {"ORIGIN_ID": "31"}) == []
    assert _company_ids(rest, {"ORIGIN_ID": ""}) == [company_id]
    rest("crm.company.delete", id=other_id).raise_for_status()
    assert _company_ids(rest, {"@ORIGIN_ID": ["21", "22", "31"]}) == []


def test_company_origin_id_equality_keeps_the_number_and_text_rules(emulator, rest):
    text_id = emulator.seed_company(TITLE="Texto", ORIGIN_ID="007")
    number_id = rest("crm.company.add", fields={"TITLE": "Número", "ORIGIN_ID": 7}).json()["result"]
    # "007" and "7" differ as text; a JSON number compares as a number with either.
    assert _company_ids(rest, {"ORIGIN_ID": "7"}) == [number_id]
    assert _company_ids(rest, {"ORIGIN_ID": "007"}) == [text_id, number_id]
    assert _company_ids(rest, {"ORIGIN_ID": 7}) == [text_id, number_id]


def test_service_xml_id_change_and_delete(emulator, rest):
    first = emulator.seed_service(name="Uno", xmlId="GL-1")
    second = rest("catalog.product.service.add", fields={"iblockId": 24, "name": "Dos", "xmlId": "GL-2"}).json()
    second_id = second["result"]["service"]["id"]
    assert _service_ids(rest, {"xmlId": ["GL-1", "GL-2"]}) == [first, second_id]
    rest("catalog.product.service.update", id=first, fields={"xmlId": "GL-9"}).raise_for_status()
    assert _service_ids(rest, {"xmlId": "GL-1"}) == []
    assert _service_ids(rest, {"xmlId": "GL-9"}) == [first]
    rest("catalog.product.service.delete", id=second_id).raise_for_status()
    assert _service_ids(rest, {"xmlId": ["GL-1", "GL-2", "GL-9"]}) == [first]


def test_xml_id_is_looked_up_per_iblock_and_type(emulator, rest):
    emulator.add_catalog(30, "Otro catálogo")
    in_24 = emulator.seed_service(name="En 24", xmlId="MISMO")
    emulator.seed_service(iblockId=30, name="En 30", xmlId="MISMO")
    emulator.seed_product(name="Producto simple", xmlId="MISMO")
    assert _service_ids(rest, {"xmlId": "MISMO"}) == [in_24]


def test_deleted_price_frees_its_type(emulator, rest):
    service_id = emulator.seed_service(name="Con precio")
    price_id = _add_price(rest, service_id).json()["result"]["price"]["id"]
    assert _add_price(rest, service_id).json()["error_description"] == DUPLICATE_PRICE
    rest("catalog.price.delete", id=price_id).raise_for_status()
    assert _price_ids(rest, {"productId": service_id}) == []
    again = _add_price(rest, service_id, amount=20)
    assert again.status_code == 200
    assert _price_ids(rest, {"@productId": [service_id]}) == [again.json()["result"]["price"]["id"]]


def test_price_type_change_moves_the_uniqueness_check(emulator, rest):
    service_id = emulator.seed_service(name="Cambia de tipo")
    price_id = _add_price(rest, service_id, group_id=1).json()["result"]["price"]["id"]
    rest("catalog.price.update", id=price_id, fields={"catalogGroupId": 2, "price": 5, "currency": "ARS"}).raise_for_status()
    assert _add_price(rest, service_id, group_id=2).json()["error_description"] == DUPLICATE_PRICE
    assert _add_price(rest, service_id, group_id=1).status_code == 200


def test_price_modify_keeps_the_indexes(emulator, rest):
    service_id = emulator.seed_service(name="Modificado")
    kept = emulator.seed_price(service_id, 100, price_type_id=1)
    dropped = emulator.seed_price(service_id, 90, price_type_id=2)
    # the kept price moves to the type of the dropped one
    answer = rest("catalog.price.modify", fields={"product": {"id": service_id, "prices": [
        {"id": kept, "catalogGroupId": 2, "price": 110, "currency": "ARS"}]}})
    assert answer.status_code == 200
    assert _price_ids(rest, {"productId": service_id}) == [kept]
    assert rest("catalog.price.get", id=dropped).status_code == 400
    assert _add_price(rest, service_id, group_id=2).json()["error_description"] == DUPLICATE_PRICE
    assert _add_price(rest, service_id, group_id=1).status_code == 200


def test_service_delete_takes_its_prices_out_of_the_index(emulator, rest):
    service_id = emulator.seed_service(name="Se borra")
    other_id = emulator.seed_service(name="Se queda")
    emulator.seed_price(service_id, 1)
    emulator.seed_price(service_id, 2, price_type_id=2)
    other_price = emulator.seed_price(other_id, 3)
    rest("catalog.product.service.delete", id=service_id).raise_for_status()
    assert _price_ids(rest, {"@productId": [service_id, other_id]}) == [other_price]


def test_seeded_ids_out_of_order_page_by_id(emulator, rest):
    late = emulator.seed_service(name="Id alto", id=5000)
    early = emulator.seed_service(name="Id bajo", id=2000)
    middle = emulator.seed_service(name="Id medio", id=3000)
    assert _service_ids(rest, {">id": 0}) == [early, middle, late]
    body = rest("catalog.product.service.list", select=["id", "iblockId"], filter={"iblockId": 24, ">id": early},
                start=-1).json()
    assert [row["id"] for row in body["result"]["services"]] == [middle, late]


def test_indexes_are_rebuilt_from_a_state_file(emulator, rest, tmp_path):
    service_id = emulator.seed_service(name="Guardado", xmlId="GL-S")
    emulator.seed_price(service_id, 50)
    company_id = emulator.seed_company(TITLE="Guardada", ORIGIN_ID="77")
    path = emulator.save_state(str(tmp_path / "state.json"))

    reloaded = Bitrix24Emulator(EmulatorSettings(**PERMISSIVE_LIMITS), state_file=path).start()
    try:
        reloaded.register_app(TEST_CLIENT_ID, TEST_CLIENT_SECRET)
        token = reloaded.issue_tokens(TEST_CLIENT_ID)["access_token"]

        def call(method, **params):
            return requests.post(f"{reloaded.portal_url}/rest/{method}", json={"auth": token, **params}, timeout=10)

        assert _service_ids(call, {"xmlId": "GL-S"}) == [service_id]
        assert _company_ids(call, {"ORIGIN_ID": "77"}) == [company_id]
        assert _add_price(call, service_id).json()["error_description"] == DUPLICATE_PRICE
        # and they keep following changes made after the reload
        call("crm.company.update", id=company_id, fields={"ORIGIN_ID": "78"}).raise_for_status()
        assert _company_ids(call, {"ORIGIN_ID": "77"}) == [] and _company_ids(call, {"ORIGIN_ID": "78"}) == [company_id]
    finally:
        reloaded.stop()


def test_load_state_replaces_the_indexes(emulator, rest, tmp_path):
    before = emulator.seed_company(TITLE="Antes", ORIGIN_ID="1")
    path = emulator.save_state(str(tmp_path / "state.json"))
    emulator.seed_company(TITLE="Después", ORIGIN_ID="2")
    emulator.load_state(path)
    assert _company_ids(rest, {"@ORIGIN_ID": ["1", "2"]}) == [before]
    assert _company_ids(rest, {}) == [before]
