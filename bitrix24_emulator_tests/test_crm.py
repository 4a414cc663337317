"""CRM methods: companies (typing, multifields, select/filter/order), user fields, directories."""

from __future__ import annotations

import pytest

LEGACY_COMPANY_TYPES = {"UC_HMSG7D", "4", "UC_EYGC4I"}
LEGACY_INDUSTRIES = {"UC_FV5RTZ", "OTHER", "1", "UC_5KOWIB", "UC_6IPFTB", "UC_PJRWUH", "UC_QMEHSY", "UC_G2UX05",
                     "UC_8B7GEU", "UC_D0S7HJ", "UC_FWPBRZ", "UC_281LBU", "UC_N97ZBK", "UC_SGFFD2", "UC_Z8QQ65",
                     "UC_5HKBY1", "UC_8DMZTD", "UC_APU0VJ"} | {str(n) for n in range(3, 18)}
LEGACY_UF = {"UF_CRM_1748636158002", "UF_CRM_1748637070", "UF_CRM_1748888310536"}


def test_add_returns_int_and_get_renders_strings(rest):
    added = rest("crm.company.add", fields={"TITLE": "Lab Norte", "COMPANY_TYPE": "UC_HMSG7D", "REVENUE": 1500,
                                            "UF_CRM_1748636158002": 77, "NOT_A_FIELD": "x", "DATE_CREATE": "2001-01-01"})
    assert added.status_code == 200
    company_id = added.json()["result"]
    assert isinstance(company_id, int)
    company = rest("crm.company.get", id=company_id).json()["result"]
    assert company["ID"] == str(company_id)
    assert company["TITLE"] == "Lab Norte" and company["COMPANY_TYPE"] == "UC_HMSG7D"
    assert company["REVENUE"] == "1500" and company["UF_CRM_1748636158002"] == "77"
    assert company["UF_CRM_1748637070"] == ""  # empty string UF
    assert company["OPENED"] == "Y" and company["ASSIGNED_BY_ID"] == "1" and company["LEAD_ID"] is None
    assert "NOT_A_FIELD" not in company and not company["DATE_CREATE"].startswith("2001")
    assert company["INDUSTRY"] == "IT"  # first directory item is the default
    assert "PHONE" not in company


def test_upper_case_parameter_names_are_accepted(rest):
    company_id = rest("crm.company.add", FIELDS={"TITLE": "Mayúsculas"}).json()["result"]
    assert rest("crm.company.update", ID=company_id, FIELDS={"TITLE": "Cambiado"}).json()["result"] is True
    assert rest("crm.company.get", ID=company_id).json()["result"]["TITLE"] == "Cambiado"


def test_multifield_rules(rest):
    company_id = rest("crm.company.add", fields={"TITLE": "Multi", "PHONE": [
        {"VALUE": "111", "VALUE_TYPE": "WORK"}, {"VALUE": "222"}, {"VALUE": "333"}, {"VALUE": "444"}],
        "EMAIL": [{"VALUE": "a@lab.example", "VALUE_TYPE": "WORK"}]}).json()["result"]
    phones = rest("crm.company.get", id=company_id).json()["result"]["PHONE"]
    assert [p["VALUE"] for p in phones] == ["111", "222", "333", "444"]
    assert phones[0] == {"ID": phones[0]["ID"], "VALUE_TYPE": "WORK", "VALUE": "111", "TYPE_ID": "PHONE"}
    assert isinstance(phones[0]["ID"], str) and phones[1]["VALUE_TYPE"] == "WORK"
    ids = [int(p["ID"]) for p in phones]
    # An item without ID is added, not a replacement; ID+VALUE changes; three delete forms.
    rest("crm.company.update", id=company_id, fields={"PHONE": [
        {"VALUE": "555", "VALUE_TYPE": "MOBILE"}, {"ID": ids[0], "VALUE": "999", "VALUE_TYPE": "HOME"},
        {"ID": ids[1], "DELETE": "Y"}, {"ID": ids[2], "VALUE": ""}, {"ID": ids[3]}]}).raise_for_status()
    company = rest("crm.company.get", id=company_id).json()["result"]
    assert [(p["VALUE"], p["VALUE_TYPE"]) for p in company["PHONE"]] == [("999", "HOME"), ("555", "MOBILE")]
    assert company["EMAIL"][0]["VALUE"] == "a@lab.example"  # untouched type kept
    assert company["HAS_PHONE"] == "Y" and company["HAS_EMAIL"] == "Y"


def test_company_errors(rest):
    assert rest("crm.company.get", id=424242).json() == {"error": "", "error_description": "Not found"}
    update = rest("crm.company.update", id=424242, fields={"TITLE": "x"})
    assert update.status_code == 400 and update.json() == {"error": "", "error_description": "Company is not found"}
    assert rest("crm.company.delete", id=424242).json()["error_description"] == "Company is not found"
    for bad in ({}, {"id": 0}, {"id": "abc"}):
        response = rest("crm.company.get", **bad)
        assert response.json() == {"error": "", "error_description": "ID is not defined or invalid."}
    assert rest("crm.company.add", fields="x").json() == {"error": "", "error_description": "Parameter 'fields' must be array."}
    no_title = rest("crm.company.add", fields={"COMPANY_TYPE": "4"})
    assert no_title.status_code == 400 and no_title.json()["error"] == "ERROR_CORE"
    bad_mail = rest("crm.company.add", fields={"TITLE": "x", "EMAIL": [{"VALUE": "not-an-email"}]})
    assert bad_mail.json()["error"] == "ERROR_CORE"


def test_delete_returns_true(emulator, rest):
    company_id = emulator.seed_company(TITLE="Borrar")
    assert rest("crm.company.delete", id=company_id).json()["result"] is True
    assert rest("crm.company.get", id=company_id).status_code == 400


def test_list_select_rules(emulator, rest):
    emulator.seed_company(TITLE="Con teléfono", PHONE=[{"VALUE": "123", "VALUE_TYPE": "WORK"}])
    default = rest("crm.company.list").json()["result"][0]
    assert "TITLE" in default and LEGACY_UF <= set(default) and "PHONE" not in default
    star = rest("crm.company.list", select=["*"]).json()["result"][0]
    assert "TITLE" in star and not LEGACY_UF & set(star) and "PHONE" not in star
    chosen = rest("crm.company.list", select=["TITLE", "PHONE"]).json()["result"][0]
    assert list(chosen) == ["TITLE", "ID", "PHONE"]
    assert chosen["PHONE"][0]["VALUE"] == "123"


@pytest.mark.parametrize("filter_, expected", [
    ({"TITLE": "Beta"}, ["Beta"]),
    ({"=TITLE": "Beta"}, ["Beta"]),
    ({"!TITLE": "Beta"}, ["Alfa", "Gamma"]),
    ({"%TITLE": "mm"}, ["Gamma"]),
    ({"@COMPANY_TYPE": ["4", "UC_EYGC4I"]}, ["Beta", "Gamma"]),
    ({"COMPANY_TYPE": ["4"]}, ["Beta"]),
    ({"UF_CRM_1748888310536": "1"}, ["Gamma"]),
    ({"PHONE": "555"}, ["Alfa"]),
])
def test_list_filter_operators(emulator, rest, filter_, expected):
    emulator.seed_company(TITLE="Alfa", COMPANY_TYPE="UC_HMSG7D", PHONE=[{"VALUE": "555"}])
    emulator.seed_company(TITLE="Beta", COMPANY_TYPE="4")
    emulator.seed_company(TITLE="Gamma", COMPANY_TYPE="UC_EYGC4I", UF_CRM_1748888310536="1")
    result = rest("crm.company.list", filter=filter_, select=["TITLE"]).json()["result"]
    assert [row["TITLE"] for row in result] == expected


def test_list_id_comparisons_and_order(emulator, rest):
    ids = [emulator.seed_company(TITLE=f"E{i}") for i in range(5)]
    def titles(**params):
        return [row["ID"] for row in rest("crm.company.list", select=["ID"], **params).json()["result"]]
    assert titles(filter={">ID": ids[2]}) == [str(i) for i in ids[3:]]
    assert titles(filter={">=ID": ids[2]}) == [str(i) for i in ids[2:]]
    assert titles(filter={"<ID": ids[2]}) == [str(i) for i in ids[:2]]
    assert titles(filter={"<=ID": ids[2]}) == [str(i) for i in ids[:3]]
    assert titles(order={"ID": "DESC"}) == [str(i) for i in reversed(ids)]


def test_fields_describe_standard_multifield_and_user_fields(rest):
    fields = rest("crm.company.fields").json()["result"]
    assert fields["TITLE"]["isRequired"] is True and fields["TITLE"]["type"] == "string"
    assert fields["COMPANY_TYPE"]["statusType"] == "COMPANY_TYPE"
    assert fields["PHONE"]["type"] == "crm_multifield" and fields["PHONE"]["isMultiple"] is True
    for name in LEGACY_UF:
        assert fields[name]["isDynamic"] is True and fields[name]["type"] == "string"


def test_userfield_list_and_add(rest):
    listed = rest("crm.company.userfield.list").json()
    assert LEGACY_UF <= {row["FIELD_NAME"] for row in listed["result"]}
    assert listed["total"] == len(listed["result"])
    row = next(r for r in listed["result"] if r["FIELD_NAME"] == "UF_CRM_1748636158002")
    assert row["ENTITY_ID"] == "CRM_COMPANY" and row["USER_TYPE_ID"] == "string" and isinstance(row["ID"], str)
    added = rest("crm.company.userfield.add", fields={"FIELD_NAME": "nota_interna", "USER_TYPE_ID": "string",
                                                      "LABEL": "Nota"})
    assert isinstance(added.json()["result"], int)
    names = {r["FIELD_NAME"] for r in rest("crm.company.userfield.list").json()["result"]}
    assert "UF_CRM_NOTA_INTERNA" in names
    again = rest("crm.company.userfield.add", fields={"FIELD_NAME": "NOTA_INTERNA", "USER_TYPE_ID": "string"})
    assert again.status_code == 400 and again.json()["error"] == "ERROR_CORE"
    missing = rest("crm.company.userfield.add", fields={"USER_TYPE_ID": "string"})
    assert missing.json() == {"error": "", "error_description": "The 'FIELD_NAME' field is not found."}


def test_status_list_has_legacy_and_default_items(rest):
    company_types = rest("crm.status.list", filter={"ENTITY_ID": "COMPANY_TYPE"}).json()
    ids = {row["STATUS_ID"] for row in company_types["result"]}
    assert LEGACY_COMPANY_TYPES | {"CUSTOMER", "SUPPLIER", "COMPETITOR", "PARTNER", "OTHER"} <= ids
    assert company_types["total"] == len(company_types["result"])
    row = company_types["result"][0]
    assert isinstance(row["SORT"], str) and isinstance(row["ID"], str) and row["ENTITY_ID"] == "COMPANY_TYPE"
    industries = {row["STATUS_ID"] for row in rest("crm.status.list", filter={"ENTITY_ID": "INDUSTRY"}).json()["result"]}
    assert LEGACY_INDUSTRIES | {"IT", "TELECOM"} <= industries
    sorts = [int(r["SORT"]) for r in company_types["result"]]
    assert sorts == sorted(sorts)


def test_status_entity_items(rest):
    items = rest("crm.status.entity.items", entityId="COMPANY_TYPE").json()["result"]
    assert all(set(item) == {"NAME", "SORT", "STATUS_ID"} and isinstance(item["SORT"], int) for item in items)
    assert {"UC_HMSG7D", "4"} <= {item["STATUS_ID"] for item in items}
    missing = rest("crm.status.entity.items")
    assert missing.status_code == 400 and missing.json()["error"] == ""


def test_user_current_and_notification(emulator, rest):
    user = rest("user.current").json()["result"]
    assert user["ID"] == "1" and user["ACTIVE"] is True
    notified = rest("im.notify.system.add", USER_ID=1, MESSAGE="Sincronización terminada")
    assert isinstance(notified.json()["result"], int)
    assert emulator.notifications()[-1]["message"] == "Sincronización terminada"
    assert rest("im.notify.system.add", USER_ID=1).status_code == 400
