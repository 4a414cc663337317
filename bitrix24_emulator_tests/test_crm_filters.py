"""CRM list filters keep only the entity's fields: options and unknown keys never filter."""

from __future__ import annotations

import pytest


def _company_titles(rest, filter_):
    body = rest("crm.company.list", filter=filter_, select=["TITLE"])
    assert body.status_code == 200
    return [row["TITLE"] for row in body.json()["result"]]


@pytest.fixture
def companies(emulator):
    emulator.seed_company(TITLE="Laboratorio 21", ORIGIN_ID="21", PHONE=[{"VALUE": "555"}],
                          UF_CRM_1748888310536="1")
    emulator.seed_company(TITLE="Laboratorio 22", ORIGIN_ID="22")


@pytest.mark.parametrize("option", ["N", "Y"])
def test_check_permissions_is_an_option_not_a_field(rest, companies, option):
    assert _company_titles(rest, {"ORIGIN_ID": "21", "CHECK_PERMISSIONS": option}) == ["Laboratorio 21"]


@pytest.mark.parametrize("unknown_key", ["NO_SUCH_FIELD", "=NO_SUCH_FIELD", "!NO_SUCH_FIELD", ">NO_SUCH_FIELD",
                                         "<=NO_SUCH_FIELD", "@NO_SUCH_FIELD", "%NO_SUCH_FIELD", "no_such_field"])
def test_unknown_filter_keys_are_dropped(rest, companies, unknown_key):
    value = ["x"] if unknown_key.startswith("@") else "x"
    assert _company_titles(rest, {"ORIGIN_ID": "21", unknown_key: value}) == ["Laboratorio 21"]
    assert _company_titles(rest, {unknown_key: value}) == ["Laboratorio 21", "Laboratorio 22"]


@pytest.mark.parametrize("filter_, expected", [
    ({"ORIGIN_ID": "21", "TITLE": "Laboratorio 22"}, []),
    ({"origin_id": "22"}, ["Laboratorio 22"]),
    ({"UF_CRM_1748888310536": "1", "CHECK_PERMISSIONS": "N"}, ["Laboratorio 21"]),
    ({"PHONE": "555", "NO_SUCH_FIELD": "x"}, ["Laboratorio 21"]),
    ({"!ID": 0, ">=ORIGIN_ID": "22"}, ["Laboratorio 22"]),
])
def test_entity_fields_still_filter(rest, companies, filter_, expected):
    assert _company_titles(rest, filter_) == expected


def test_user_fields_added_later_are_fields_too(emulator, rest, companies):
    emulator.add_user_field("UF_CRM_NUEVO")
    rest("crm.company.add", fields={"TITLE": "Con campo nuevo", "UF_CRM_NUEVO": "si"}).raise_for_status()
    assert _company_titles(rest, {"UF_CRM_NUEVO": "si"}) == ["Con campo nuevo"]


def test_status_list_drops_options_and_unknown_keys(rest):
    plain = rest("crm.status.list", filter={"ENTITY_ID": "EMPLOYEES"}).json()["result"]
    assert [row["STATUS_ID"] for row in plain] == ["EMPLOYEES_1", "EMPLOYEES_2", "EMPLOYEES_3", "EMPLOYEES_4"]
    with_options = rest("crm.status.list", filter={"ENTITY_ID": "EMPLOYEES", "CHECK_PERMISSIONS": "N",
                                                   "NO_SUCH_FIELD": "x"}).json()["result"]
    assert with_options == plain
