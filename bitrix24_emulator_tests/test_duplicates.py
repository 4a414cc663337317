"""``crm.duplicate.findbycomm``: companies by phone or e-mail, over real HTTP."""

from __future__ import annotations

import pytest
import requests

from bitrix24_emulator import Bitrix24Emulator


def _find(rest, type_, values, **params):
    response = rest("crm.duplicate.findbycomm", type=type_, values=values, **params)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_emails_match_case_insensitively(emulator, rest):
    company_id = emulator.seed_company(TITLE="Lab", EMAIL=[{"VALUE": "Ventas@Lab.Example", "VALUE_TYPE": "WORK"}])
    emulator.seed_company(TITLE="Otra", EMAIL=[{"VALUE": "otra@lab.example"}])
    assert _find(rest, "EMAIL", ["ventas@lab.example"]) == {"COMPANY": [company_id]}
    assert _find(rest, "EMAIL", [" VENTAS@LAB.EXAMPLE "]) == {"COMPANY": [company_id]}


def test_phones_match_by_digits_ignoring_the_extension(emulator, rest):
    company_id = emulator.seed_company(TITLE="Lab", PHONE=[{"VALUE": "+54 (11) 4444-5555 ext. 12"}])
    local_id = emulator.seed_company(TITLE="Local", PHONE=[{"VALUE": "011 4444-5555"}])
    assert _find(rest, "PHONE", ["+541144445555"]) == {"COMPANY": [company_id]}
    assert _find(rest, "PHONE", ["+54 11 4444 5555 #99"]) == {"COMPANY": [company_id]}
    assert _find(rest, "PHONE", ["(011) 4444.5555 доб. 7"]) == {"COMPANY": [local_id]}
    # a leading + is part of the number: without it these are different numbers
    assert _find(rest, "PHONE", ["541144445555"]) == []


def test_several_values_and_companies_give_sorted_unique_ids(emulator, rest):
    first = emulator.seed_company(TITLE="A", PHONE=[{"VALUE": "111"}, {"VALUE": "222"}])
    second = emulator.seed_company(TITLE="B", PHONE=[{"VALUE": "222"}])
    emulator.seed_company(TITLE="C", PHONE=[{"VALUE": "333"}])
    assert _find(rest, "PHONE", ["222", "111", "1-1-1"]) == {"COMPANY": [first, second]}


def test_entity_type_selects_what_is_searched(emulator, rest):
    company_id = emulator.seed_company(TITLE="Lab", EMAIL=[{"VALUE": "a@lab.example"}])
    assert _find(rest, "EMAIL", ["a@lab.example"], entity_type="COMPANY") == {"COMPANY": [company_id]}
    assert _find(rest, "EMAIL", ["a@lab.example"], entity_type="company") == {"COMPANY": [company_id]}
    assert _find(rest, "EMAIL", ["a@lab.example"], entity_type="CONTACT") == []
    assert _find(rest, "EMAIL", ["a@lab.example"], entity_type="LEAD") == []


def test_nothing_found_is_an_empty_array(emulator, rest):
    emulator.seed_company(TITLE="Lab", PHONE=[{"VALUE": "111"}])
    body = rest("crm.duplicate.findbycomm", type="EMAIL", values=["111"]).json()
    assert body["result"] == [] and "time" in body
    # PHP's empty array: the raw answer carries [] rather than {}
    assert '"result":[]' in rest("crm.duplicate.findbycomm", type="PHONE", values=["999"]).text


@pytest.mark.parametrize("params, description", [
    ({"values": ["a@b.example"]}, "Communication type is not defined"),
    ({"type": "", "values": ["a@b.example"]}, "Communication type is not defined"),
    ({"type": "FAX", "values": ["1"]}, "Communication type 'FAX' is not supported in current context"),
    ({"type": "EMAIL"}, "Communication values is not defined"),
    ({"type": "EMAIL", "values": []}, "Communication values is not defined"),
    ({"type": "EMAIL", "values": "a@b.example"}, "Communication values is not defined"),
    ({"type": "PHONE", "values": [str(n) for n in range(21)]},
     "Too many communication values: 21 given, the maximum is 20"),
])
def test_errors(rest, params, description):
    response = rest("crm.duplicate.findbycomm", **params)
    assert response.status_code == 400
    assert response.json() == {"error": "", "error_description": description}


def test_twenty_values_are_allowed(emulator, rest):
    company_id = emulator.seed_company(TITLE="Lab", PHONE=[{"VALUE": "19"}])
    assert _find(rest, "PHONE", [str(n) for n in range(20)]) == {"COMPANY": [company_id]}


def test_the_index_follows_multifield_changes_and_deletes(emulator, rest):
    company_id = rest("crm.company.add", fields={"TITLE": "Lab", "PHONE": [{"VALUE": "111"}],
                                                 "EMAIL": [{"VALUE": "viejo@lab.example"}]}).json()["result"]
    phone_id = rest("crm.company.get", id=company_id).json()["result"]["PHONE"][0]["ID"]
    rest("crm.company.update", id=company_id, fields={
        "PHONE": [{"ID": phone_id, "VALUE": "222"}], "EMAIL": [{"VALUE": "nuevo@lab.example"}]}).raise_for_status()
    assert _find(rest, "PHONE", ["111"]) == []
    assert _find(rest, "PHONE", ["222"]) == {"COMPANY": [company_id]}
    assert _find(rest, "EMAIL", ["viejo@lab.example", "nuevo@lab.example"]) == {"COMPANY": [company_id]}
    rest("crm.company.update", id=company_id, fields={"PHONE": [{"ID": phone_id, "DELETE": "Y"}]}).raise_for_status()
    assert _find(rest, "PHONE", ["222"]) == []
    rest("crm.company.delete", id=company_id).raise_for_status()
    assert _find(rest, "EMAIL", ["viejo@lab.example", "nuevo@lab.example"]) == []


def test_found_after_a_restart_from_the_state_file(tmp_path):
    path = str(tmp_path / "portal.json")
    with Bitrix24Emulator(state_file=path) as first:
        company_id = first.seed_company(TITLE="Guardada", PHONE=[{"VALUE": "+54 11 4444-5555"}])
    with Bitrix24Emulator(state_file=path) as second:
        hook = second.add_webhook()
        body = requests.post(f"{hook}crm.duplicate.findbycomm", json={"type": "PHONE", "values": ["+5411 4444 5555"]},
                             timeout=10).json()
    assert body["result"] == {"COMPANY": [company_id]}


def test_inside_a_batch_with_form_encoded_values(emulator, rest):
    company_id = emulator.seed_company(TITLE="Lab", EMAIL=[{"VALUE": "a@lab.example"}])
    body = rest("batch", cmd={"d": "crm.duplicate.findbycomm?type=EMAIL&values[]=x@y.example&values[]=A@lab.example"})
    assert body.json()["result"]["result"]["d"] == {"COMPANY": [company_id]}


def test_needs_the_crm_scope(emulator):
    hook = emulator.add_webhook(scope="catalog")
    response = requests.post(f"{hook}crm.duplicate.findbycomm", json={"type": "EMAIL", "values": ["a@b.example"]},
                             timeout=10)
    assert response.status_code == 401 and response.json()["error"] == "insufficient_scope"
