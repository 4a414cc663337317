"""REST transport: URLs, parameter encodings, the exact success and error envelopes, PHP JSON bytes."""

from __future__ import annotations

import json
import time

import requests

from bitrix24_emulator import build_php_query, parse_php_query, php_json_encode

TIME_KEYS = ["start", "finish", "duration", "processing", "date_start", "date_finish", "operating_reset_at",
             "operating"]


def test_success_envelope_key_order_and_time_types(rest):
    response = rest("user.current")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body) == ["result", "time"]
    timing = body["time"]
    assert list(timing) == TIME_KEYS
    assert isinstance(timing["start"], float) and isinstance(timing["duration"], float)
    assert isinstance(timing["operating_reset_at"], int) and timing["operating_reset_at"] > time.time()
    assert isinstance(timing["operating"], (int, float))
    assert timing["date_start"].endswith("-03:00")


def test_list_envelope_has_next_and_total_before_time(emulator, rest):
    for index in range(51):
        emulator.seed_company(TITLE=f"Empresa {index}")
    body = rest("crm.company.list", select=["ID"]).json()
    assert list(body) == ["result", "next", "total", "time"]
    assert body["next"] == 50 and body["total"] == 51


def test_method_url_forms(emulator, emulator_token):
    base = f"{emulator.portal_url}/rest"
    for path in ("user.current", "user.current.json", "user.current/", "USER.Current"):
        response = requests.get(f"{base}/{path}", params={"auth": emulator_token}, timeout=5)
        assert response.status_code == 200, path
        assert response.json()["result"]["ID"] == "1"


def test_php_style_form_body_and_query_are_merged(emulator, emulator_token):
    url = f"{emulator.portal_url}/rest/crm.company.add"
    body = build_php_query({"fields": {"TITLE": "Laboratorio Sur", "PHONE": [{"VALUE": "+5411", "VALUE_TYPE": "WORK"}]}})
    response = requests.post(url, params={"auth": emulator_token}, data=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert response.status_code == 200
    company = emulator.companies()[-1]
    assert company["TITLE"] == "Laboratorio Sur" and company["PHONE"][0]["VALUE"] == "+5411"


def test_json_only_with_json_content_type_and_malformed_json_is_no_params(emulator, emulator_token):
    url = f"{emulator.portal_url}/rest/user.current"
    as_text = requests.post(url, data=json.dumps({"auth": emulator_token}), headers={"Content-Type": "text/plain"},
                            timeout=5)
    assert as_text.status_code == 401 and as_text.json()["error"] == "NO_AUTH_FOUND"
    malformed = requests.post(url, params={"auth": emulator_token}, data=b"{not json",
                              headers={"Content-Type": "application/json"}, timeout=5)
    assert malformed.status_code == 200


def test_unknown_method_is_404_before_auth(emulator):
    for auth in ({}, {"auth": "garbage"}):
        response = requests.post(f"{emulator.portal_url}/rest/crm.company.explode", json=auth, timeout=5)
        assert response.status_code == 404
        assert response.json() == {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}


def test_error_envelopes_have_no_time_and_typed_error_codes(rest):
    crm = rest("crm.company.get", id=999999)
    assert crm.status_code == 400 and crm.json() == {"error": "", "error_description": "Not found"}
    catalog = rest("catalog.product.service.get", id=999999)
    assert catalog.status_code == 400
    assert catalog.json() == {"error": 200040300040, "error_description": "Access Denied"}
    assert isinstance(catalog.json()["error"], int)


def test_raw_bytes_follow_php_json_encode_flags(emulator, rest):
    service_id = emulator.seed_service(name="Análisis <pH> & 'Cl' / \"total\"")
    raw = rest("catalog.product.service.get", id=service_id).text
    assert '"name":"An\\u00e1lisis \\u003CpH\\u003E \\u0026 \\u0027Cl\\u0027 \\/ \\u0022total\\u0022"' in raw
    assert json.loads(raw)["result"]["service"]["name"] == "Análisis <pH> & 'Cl' / \"total\""


def test_php_json_encode_empty_map_is_list_and_escaped_backslashes_survive():
    assert php_json_encode({"a": {}, "b": []}) == '{"a":[],"b":[]}'
    text = php_json_encode({"x": 'back\\"slash'})
    assert json.loads(text) == {"x": 'back\\"slash'}


def test_php_query_round_trip():
    params = {"fields": {"TITLE": "A&B", "PHONE": [{"VALUE": "1", "VALUE_TYPE": "WORK"}]}, "select": ["ID", "TITLE"],
              "halt": True}
    encoded = build_php_query(params)
    assert "fields%5BPHONE%5D%5B0%5D%5BVALUE%5D=1" in encoded
    assert parse_php_query(encoded) == {"fields": {"TITLE": "A&B", "PHONE": [{"VALUE": "1", "VALUE_TYPE": "WORK"}]},
                                        "select": ["ID", "TITLE"], "halt": "1"}
    assert parse_php_query("select[]=ID&select[]=TITLE") == {"select": ["ID", "TITLE"]}


def test_unknown_path_outside_rest_is_404_html(emulator):
    response = requests.get(f"{emulator.portal_url}/crm/", timeout=5)
    assert response.status_code == 404 and response.headers["Content-Type"].startswith("text/html")
