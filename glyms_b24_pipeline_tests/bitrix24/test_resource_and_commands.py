"""The Dagster resource (EnvVar secrets, lazy reused client, counters) and the CLI utilities."""

import dagster as dg

from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.cli import main
from glyms_b24_pipeline.settings.limits import ClientLimits

from .conftest import CLIENT_ID, CLIENT_SECRET, store_tokens


def test_resource_in_a_materialization_with_env_var_secrets(emulator, glyms_dsn, monkeypatch):
    store_tokens(emulator, glyms_dsn)
    monkeypatch.setenv("B24_PORTAL_URL", emulator.portal_url)
    monkeypatch.setenv("B24_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("B24_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("B24_OAUTH_URL", emulator.oauth_url)
    monkeypatch.setenv("GLYMS_PG_DSN", glyms_dsn)

    @dg.asset
    def company_types(context: dg.AssetExecutionContext, bitrix24: Bitrix24Resource) -> dg.MaterializeResult:
        client = bitrix24.get_client()
        assert bitrix24.get_client() is client  # one client per resource instance
        rows = client.call("crm.status.list", {"filter": {"ENTITY_ID": "COMPANY_TYPE"}}).result
        emulator.expire_access_tokens()
        client.call("user.current")
        return dg.MaterializeResult(metadata={"rows": len(rows), **bitrix24.counters_metadata()})

    resource = Bitrix24Resource(
        portal_url=dg.EnvVar("B24_PORTAL_URL"),
        client_id=dg.EnvVar("B24_CLIENT_ID"),
        client_secret=dg.EnvVar("B24_CLIENT_SECRET"),
        oauth_url=dg.EnvVar("B24_OAUTH_URL"),
        token_store_dsn=dg.EnvVar("GLYMS_PG_DSN"),
        limits=ClientLimits(max_retries=2),
    )
    result = dg.materialize([company_types], resources={"bitrix24": resource})
    assert result.success
    metadata = result.asset_materializations_for_node("company_types")[0].metadata
    assert metadata["rows"].value > 0
    assert metadata["b24_requests"].value == 3 and metadata["b24_refreshes"].value == 1
    assert metadata["b24_rate_limited_503"].value == 0 and metadata["b24_retries"].value == 0


def test_resource_repr_hides_secrets(emulator):
    hook = emulator.add_webhook(user_id=1)
    resource = Bitrix24Resource(webhook_url=hook, client_secret="top-secret", token_store_dsn="postgresql://u:pw@h/db")
    text = repr(resource) + str(resource)
    assert "top-secret" not in text and hook not in text and "pw@" not in text
    client = resource.get_client()  # webhook mode needs no client id, secret or database
    assert client.call("user.current").result["ID"]
    assert hook.rstrip("/").rsplit("/", 1)[1] not in repr(client)
    assert resource.counters_metadata()["b24_requests"] == 1


def _lines(out):
    return [line for line in out.splitlines() if line.strip()]


def test_price_types_and_directory_items_print_aligned_tables(emulator, monkeypatch, capsys):
    monkeypatch.setenv("B24_WEBHOOK_URL", emulator.add_webhook(user_id=1))
    monkeypatch.delenv("GLYMS_B24_CONFIG", raising=False)
    emulator.add_price_type("Precio mayorista con descuento", price_type_id=7)
    assert main(["price-types"]) == 0
    lines = _lines(capsys.readouterr().out)
    header, rule, rows = lines[0], lines[1], lines[2:-1]
    assert header.split() == ["ID", "NAME", "XML_ID", "BASE", "SORT"]
    assert any("Precio mayorista con descuento" in row for row in rows)
    name_col = header.index("NAME")
    xml_col = header.index("XML_ID")
    for row in rows:  # every column starts where its header starts
        assert row[name_col - 1] == " " and row[name_col] != " "
        assert row[xml_col - 1] == " "
    assert set(rule.replace(" ", "")) == {"-"}

    emulator.add_status("INDUSTRY", "UC_LAB", "Laboratorios clínicos")
    assert main(["directory-items", "industry"]) == 0
    lines = _lines(capsys.readouterr().out)
    assert lines[0].split() == ["ID", "STATUS_ID", "NAME", "SORT", "SYSTEM"]
    status_col = lines[0].index("STATUS_ID")
    lab = next(line for line in lines if "UC_LAB" in line)
    assert lab.index("UC_LAB") == status_col and "Laboratorios clínicos" in lab

    assert main(["directory-items", "NO_SUCH_ENTITY"]) == 2
    assert "no tiene ítems de ENTITY_ID NO_SUCH_ENTITY" in capsys.readouterr().err


def test_cli_reports_missing_configuration_in_one_line(monkeypatch, capsys):
    for name in ("B24_WEBHOOK_URL", "B24_PORTAL_URL", "B24_CLIENT_ID", "B24_CLIENT_SECRET", "GLYMS_PG_DSN", "GLYMS_B24_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    assert main(["--lang", "en", "price-types"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "B24_PORTAL_URL" in err


def test_a_wrong_webhook_says_which_variable_to_check(emulator, monkeypatch, capsys):
    from glyms_b24_pipeline.cli import main

    good = emulator.add_webhook(user_id=1)
    monkeypatch.setenv("B24_WEBHOOK_URL", good.rstrip("/").rsplit("/", 1)[0] + "/wrongcode/")
    assert main(["--lang", "en", "price-types"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Bitrix24: ") and "INVALID_CREDENTIALS Invalid request credentials (HTTP 401)" in err
    assert err.rstrip().endswith("check B24_WEBHOOK_URL (user id, code and the webhook's scopes)")
    assert "wrongcode" not in err
    assert err.count("\n") == 1
