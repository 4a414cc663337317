"""``batch``: named and array commands, references, halt, per-command errors, the 50-command cap."""

from __future__ import annotations

import requests

from bitrix24_emulator import build_php_query


def test_named_batch_with_references_and_maps(emulator, rest):
    emulator.seed_service(name="Primero", xmlId="GL-A")
    body = rest("batch", halt=0, cmd={
        "list": "catalog.product.service.list?" + build_php_query(
            {"select": ["id", "iblockId", "xmlId"], "filter": {"iblockId": 24}}),
        "price": "catalog.price.add?fields[productId]=$result[list][services][0][id]&fields[catalogGroupId]=1"
                 "&fields[price]=250&fields[currency]=ARS",
        "user": "user.current",
        "company": "crm.company.add?fields[TITLE]=Empresa de $result[user][NAME]",
    }).json()
    assert list(body) == ["result", "time"]
    result = body["result"]
    assert list(result) == ["result", "result_error", "result_total", "result_next", "result_time"]
    assert result["result"]["price"]["price"]["productId"] == result["result"]["list"]["services"][0]["id"]
    assert result["result_error"] == []
    assert result["result_total"] == {"list": 1}
    assert result["result_next"] == []
    assert set(result["result_time"]) == {"list", "price", "user", "company"}
    company = emulator.companies()[-1]
    assert company["TITLE"] == "Empresa de Administrador"


def test_errors_are_per_command_and_http_200(rest):
    body = rest("batch", cmd={"bad": "crm.company.get?id=999999", "cat": "catalog.product.service.get?id=1",
                              "nope": "no.such.method", "ok": "user.current"})
    assert body.status_code == 200
    result = body.json()["result"]
    assert result["result_error"]["bad"] == {"error": "", "error_description": "Not found"}
    assert result["result_error"]["cat"]["error"] == 200040300040
    assert result["result_error"]["nope"]["error"] == "ERROR_METHOD_NOT_FOUND"
    assert list(result["result"]) == ["ok"]


def test_halt_stops_after_first_error(emulator, rest):
    body = rest("batch", halt=1, cmd={"a": "crm.company.add?fields[TITLE]=Uno", "b": "crm.company.get?id=999999",
                                      "c": "crm.company.add?fields[TITLE]=Dos"}).json()["result"]
    assert list(body["result"]) == ["a"] and list(body["result_error"]) == ["b"]
    assert [c["TITLE"] for c in emulator.companies()] == ["Uno"]


def test_array_cmd_gives_array_maps(rest):
    body = rest("batch", cmd=["user.current", "crm.status.entity.items?entityId=COMPANY_TYPE"]).json()["result"]
    assert isinstance(body["result"], list) and len(body["result"]) == 2
    assert body["result"][0]["ID"] == "1"
    gap = rest("batch", cmd=["crm.company.get?id=999999", "user.current"]).json()["result"]
    assert gap["result"] == {"1": gap["result"]["1"]}  # keys not 0..n-1 -> object
    assert gap["result_error"] == [{"error": "", "error_description": "Not found"}]  # keys 0..n-1 -> array


def test_fifty_first_command_is_refused(rest):
    commands = {f"c{i}": "user.current" for i in range(51)}
    body = rest("batch", cmd=commands).json()["result"]
    assert len(body["result"]) == 50
    assert body["result_error"] == {"c50": {"error": "ERROR_BATCH_LENGTH_EXCEEDED",
                                            "error_description": "Max batch length exceeded"}}


def test_nested_batch_not_allowed(rest):
    body = rest("batch", cmd={"inner": "batch?cmd[x]=user.current"}).json()["result"]
    assert body["result_error"]["inner"]["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED"


def test_form_encoded_batch_double_encoding(emulator, emulator_token):
    command = "crm.company.add?" + build_php_query({"fields": {"TITLE": "A&B Laboratorios"}})
    body = build_php_query({"auth": emulator_token, "halt": 0, "cmd": {"add": command}})
    response = requests.post(f"{emulator.portal_url}/rest/batch", data=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert response.status_code == 200
    assert isinstance(response.json()["result"]["result"]["add"], int)
    assert emulator.companies()[-1]["TITLE"] == "A&B Laboratorios"


def test_whole_value_reference_is_raw_and_embedded_needs_a_string(emulator, rest):
    ids = [emulator.seed_service(name=f"S{i}") for i in range(3)]
    for service_id in ids:
        emulator.seed_price(service_id, 10)
    body = rest("batch", cmd={
        "ids": "catalog.product.service.list?select[]=id&select[]=iblockId&filter[iblockId]=24",
        "prices": "catalog.price.list?filter[productId]=$result[ids][services][1][id]",
        "company": "crm.company.add?fields[TITLE]=Servicio $result[ids][services][1][id]",
    }).json()["result"]
    assert [p["productId"] for p in body["result"]["prices"]["prices"]] == [ids[1]]
    # An integer inside a longer string is not substituted (only strings are).
    assert emulator.companies()[-1]["TITLE"] == "Servicio $result[ids][services][1][id]"


def test_sub_command_scope_is_checked(emulator):
    emulator.register_app("local.crm.only", "s", scope="crm")
    token = emulator.issue_tokens("local.crm.only")["access_token"]
    body = requests.post(f"{emulator.portal_url}/rest/batch", json={"auth": token, "cmd": {
        "a": "crm.status.entity.items?entityId=INDUSTRY", "b": "catalog.priceType.list"}}, timeout=5).json()["result"]
    assert list(body["result"]) == ["a"] and body["result_error"]["b"]["error"] == "insufficient_scope"


def test_batch_logged_with_its_command_count(emulator, rest):
    emulator.reset_observability()
    rest("batch", cmd=["user.current"] * 7)
    entry = emulator.request_log[-1]
    assert entry.method == "batch" and entry.batch_commands == 7 and entry.http_status == 200
    assert emulator.counters["batch_commands"] == 7
