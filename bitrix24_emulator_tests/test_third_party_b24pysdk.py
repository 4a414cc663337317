"""The official Python SDK (b24pysdk) in OAuth mode, unmodified, as a judge of the emulator's fidelity.

Two things point it at the emulator, both outside its code: a local application's domain with the
emulator's port (``BitrixAppLocal(domain="127.0.0.1:PORT")`` keeps the port; tokens built from a
token response would not, see ``test_token_response_alone_loses_the_port``), and the OAuth server
address, which the SDK hard-codes as ``https://oauth.bitrix24.tech`` with no setting: the two URL
constants are swapped for the emulator's for the test's duration. The SDK only speaks HTTPS, so the
emulator runs with ``tls=True`` and ``requests`` trusts its test CA through ``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from b24pysdk import BitrixAppLocal, BitrixToken, BitrixTokenLocal, Client
from b24pysdk.api.requesters import BitrixOAuthRequester
from b24pysdk.credentials.auth import RenewedOAuth
from b24pysdk.errors import BitrixAPIError

from bitrix24_emulator import TLS_CA_FILE
from bitrix24_emulator.testing import PERMISSIVE_LIMITS, TEST_CLIENT_ID, TEST_CLIENT_SECRET


@pytest.fixture
def sdk(make_emulator, monkeypatch):
    """A TLS emulator, the SDK pointed at it, and a client holding a fresh token pair."""
    emulator = make_emulator(tls=True, **PERMISSIVE_LIMITS)
    monkeypatch.setattr(BitrixOAuthRequester, "_OAUTH_TOKEN_URL", f"{emulator.oauth_url}/oauth/token/")
    monkeypatch.setattr(BitrixOAuthRequester, "_APP_INFO_URL", f"{emulator.oauth_url}/rest/app.info/")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", TLS_CA_FILE)
    app = BitrixAppLocal(domain=emulator.portal_domain, client_id=TEST_CLIENT_ID, client_secret=TEST_CLIENT_SECRET)
    token = BitrixTokenLocal.from_oauth(RenewedOAuth.from_dict(emulator.issue_tokens(TEST_CLIENT_ID)), app)
    return SimpleNamespace(emulator=emulator, app=app, token=token, client=Client(token))


def _stored(emulator, company_id):
    return next((c for c in emulator.companies() if c["ID"] == str(company_id)), None)


def test_company_round_trip(sdk):
    company = sdk.client.crm.company
    fields = {"TITLE": "Laboratorio Andino SA", "ORIGIN_ID": "glyms-4711",
              "EMAIL": [{"VALUE": "compras@andino.example", "VALUE_TYPE": "WORK"}],
              "PHONE": [{"VALUE": "+54 11 4000-1000", "VALUE_TYPE": "WORK"}]}
    company_id = company.add(fields).result
    assert isinstance(company_id, int)
    stored = _stored(sdk.emulator, company_id)
    assert stored["TITLE"] == "Laboratorio Andino SA" and stored["ORIGIN_ID"] == "glyms-4711"
    assert [e["VALUE"] for e in stored["EMAIL"]] == ["compras@andino.example"]

    got = company.get(company_id).result
    assert got["TITLE"] == "Laboratorio Andino SA" and got["HAS_EMAIL"] == "Y" and got["HAS_PHONE"] == "Y"
    assert got["PHONE"][0]["VALUE"] == "+54 11 4000-1000"

    email_id = got["EMAIL"][0]["ID"]
    assert company.update(company_id, {"TITLE": "Laboratorio Andino SRL",
                                       "EMAIL": [{"ID": email_id, "VALUE": "ventas@andino.example"}]}).result is True
    stored = _stored(sdk.emulator, company_id)
    assert stored["TITLE"] == "Laboratorio Andino SRL"
    assert [e["VALUE"] for e in stored["EMAIL"]] == ["ventas@andino.example"]

    sdk.emulator.seed_company(TITLE="Otra empresa", ORIGIN_ID="glyms-9999")
    listed = company.list(filter={"ORIGIN_ID": "glyms-4711"}, select=["ID", "TITLE", "ORIGIN_ID", "EMAIL"]).result
    assert [(row["ID"], row["TITLE"]) for row in listed] == [(str(company_id), "Laboratorio Andino SRL")]
    assert listed[0]["EMAIL"][0]["VALUE"] == "ventas@andino.example"

    assert company.delete(company_id).result is True
    assert _stored(sdk.emulator, company_id) is None
    with pytest.raises(BitrixAPIError) as missing:
        _ = company.get(company_id).result  # the request runs when the result is read
    assert missing.value.json_response["error_description"] == "Not found"


def test_batch_with_a_reference_and_a_failing_command(sdk):
    answer = sdk.token.call_batch({
        "new": ("crm.company.add", {"fields": {"TITLE": "Creada en batch", "ORIGIN_ID": "glyms-b1"}}),
        "read": ("crm.company.get", {"id": "$result[new]"}),
        "broken": ("crm.company.add", {"fields": {"ORIGIN_ID": "sin-titulo"}}),
        "rename": ("crm.company.update", {"id": "$result[new]", "fields": {"TITLE": "Renombrada"}}),
    })
    batch = answer["result"]
    new_id = batch["result"]["new"]
    assert batch["result"]["read"]["ID"] == str(new_id) and batch["result"]["read"]["TITLE"] == "Creada en batch"
    assert batch["result"]["rename"] is True
    assert set(batch["result_error"]) == {"broken"} and batch["result_error"]["broken"]["error"] == "ERROR_CORE"
    assert _stored(sdk.emulator, new_id)["TITLE"] == "Renombrada"
    assert not [c for c in sdk.emulator.companies() if c["ORIGIN_ID"] == "sin-titulo"]

    # The typed batch of the high-level client parses the same answer, time objects included.
    company = sdk.client.crm.company
    typed = sdk.client.call_batch({"one": company.get(new_id), "gone": company.get(999999)}).result
    assert typed.result["one"]["TITLE"] == "Renombrada"
    assert typed.result_error["gone"]["error_description"] == "Not found"
    assert typed.result_time["one"].duration >= 0


def test_paged_lists_deliver_every_row_exactly_once(sdk):
    seeded = {str(sdk.emulator.seed_company(TITLE=f"Empresa {n:03d}", ORIGIN_ID=f"seed-{n}")) for n in range(120)}
    company = sdk.client.crm.company

    by_offset = company.list(select=["ID", "TITLE"]).as_list().result
    assert len(by_offset) == 120 and {row["ID"] for row in by_offset} == seeded

    by_cursor = list(company.list(select=["ID", "TITLE"]).as_list_fast().result)
    assert len(by_cursor) == 120 and {row["ID"] for row in by_cursor} == seeded
    assert [int(row["ID"]) for row in by_cursor] == sorted(int(i) for i in seeded)

    log = sdk.emulator.request_log
    assert any(entry.method == "batch" and entry.batch_commands >= 2 for entry in log)


def test_expired_token_is_refreshed_through_the_oauth_server(sdk):
    company_id = sdk.client.crm.company.add({"TITLE": "Antes de expirar"}).result
    old_access, old_refresh = sdk.token.auth_token, sdk.token.refresh_token
    sdk.emulator.expire_access_tokens()
    sdk.emulator.reset_observability()

    assert sdk.client.crm.company.get(company_id).result["TITLE"] == "Antes de expirar"

    assert sdk.token.auth_token != old_access and sdk.token.refresh_token != old_refresh
    methods = [(entry.server, entry.method, entry.error) for entry in sdk.emulator.request_log]
    assert methods == [("portal", "crm.company.get", "expired_token"), ("oauth", "oauth.token", None),
                       ("portal", "crm.company.get", None)]
    # The rotated pair is the live one: the old refresh token is spent.
    with pytest.raises(BitrixAPIError) as reused:
        sdk.app.refresh_oauth_token(old_refresh)
    assert reused.value.json_response["error"] == "invalid_grant"


def test_app_info_and_authorization_code_through_the_oauth_server(sdk):
    info = sdk.token.get_app_info().result
    assert info.client_id == TEST_CLIENT_ID and info.user_id == 1
    assert info.install.member_id == sdk.emulator.state.member_id
    assert info.install.client_endpoint == f"{sdk.emulator.portal_url}/rest/"
    assert info.install.domain == sdk.emulator.portal_domain

    portal_info = sdk.client.app.info().response.value
    assert portal_info.code == TEST_CLIENT_ID and portal_info.installed is True and portal_info.bitrix_id >= 1

    renewed = sdk.app.get_oauth_token(sdk.emulator.issue_authorization_code(TEST_CLIENT_ID))
    assert renewed.member_id == sdk.emulator.state.member_id and renewed.user_id == 1
    fresh = BitrixTokenLocal.from_oauth(renewed, sdk.app)
    assert Client(fresh).user.current().result["ID"] == "1"


def test_token_response_alone_loses_the_port(sdk):
    """Why the fixture uses a local app: the SDK takes the host of client_endpoint and drops its port."""
    renewed = RenewedOAuth.from_dict(sdk.emulator.issue_tokens(TEST_CLIENT_ID))
    token = BitrixToken.from_oauth(renewed, sdk.app)
    assert token.domain == "127.0.0.1" != sdk.emulator.portal_domain
