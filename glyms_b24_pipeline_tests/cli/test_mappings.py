"""`glyms-b24 check-mappings` and `check_mappings()`: configured ids against the portal, Glyms values against the maps."""

import json

import pytest

from glyms_b24_pipeline.bitrix24.auth import WebhookAuth
from glyms_b24_pipeline.bitrix24.client import Bitrix24Client
from glyms_b24_pipeline.defs.services.mappings import SERVICES_MAPPINGS
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline.settings.model import parse_settings
from glyms_b24_pipeline.sync.mappings import BrokenMapping, check_mappings

BROKEN = """\
services:
  price_type_id: 7
  sections_by_tipo_ot: {1: 84, 2: 46, 3: 44}
companies:
  company_type_by_tipo_ot: {1: UC_HMSG7D, 2: CUSTOMR, 3: UC_EYGC4I}
  user_fields:
    codigo: UF_CRM_1748636158003
"""


def test_a_good_map_exits_0(emulator, glyms_dsn, glyms_cli):
    seed_glyms(glyms_dsn, services=30, customers=20, seed=4)
    done = glyms_cli("check-mappings", env={"B24_WEBHOOK_URL": emulator.add_webhook(user_id=1), "GLYMS_PG_DSN": glyms_dsn})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("todo en orden: mapeos correctos (")


def test_a_broken_map_names_every_wrong_value_with_the_closest_and_exits_1(emulator, glyms_dsn, glyms_cli, tmp_path):
    seed_glyms(glyms_dsn, services=30, customers=20, seed=4)
    with_glyms_values_unmapped = BROKEN + "  industry_by_cliente_tipo: {7: UC_FV5RTZ}\n"
    config = tmp_path / "glyms_b24.yaml"
    config.write_text(with_glyms_values_unmapped, encoding="utf-8")
    env = {"B24_WEBHOOK_URL": emulator.add_webhook(user_id=1), "GLYMS_PG_DSN": glyms_dsn}

    table = glyms_cli("--config", str(config), "check-mappings", env=env)
    assert table.returncode == 1, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:2] == ["TIPO", "CLAVE"]
    section = next(line for line in lines if "services.sections_by_tipo_ot[1]" in line)
    assert "la sección 84 no existe en el catálogo (iblock) 24" in section and "48 (Análisis de laboratorio)" in section

    report = json.loads(glyms_cli("--config", str(config), "check-mappings", "--format", "json", env=env).stdout)
    assert report["ok"] is False
    by_setting = {p["setting"]: p for p in report["problems"] if p["kind"] != "companies_unmapped"}
    assert set(by_setting) == {"services.price_type_id", "services.sections_by_tipo_ot[1]",
                               "companies.company_type_by_tipo_ot[2]", "companies.user_fields.codigo"}
    assert by_setting["companies.company_type_by_tipo_ot[2]"]["closest"][0] == "CUSTOMER (Cliente)"
    assert by_setting["companies.user_fields.codigo"]["closest"][0].startswith("UF_CRM_1748636158002")
    unmapped = [p for p in report["problems"] if p["kind"] == "companies_unmapped"]
    assert unmapped and all(p["setting"] == "companies.industry_by_cliente_tipo" for p in unmapped)
    assert all("is in use in Glyms" in p["problem"] for p in unmapped)  # JSON: the messages as composed


def test_check_mappings_is_reusable_per_sync(emulator, glyms_dsn):
    seed_glyms(glyms_dsn, services=30, customers=0, seed=4)
    settings = parse_settings({"services": {"sections_by_tipo_ot": {1: 48, 2: 46}}}, "test")
    with Bitrix24Client(WebhookAuth(emulator.add_webhook(user_id=1))) as client:
        report = check_mappings(client, glyms_dsn, settings, [SERVICES_MAPPINGS])
        before = len([e for e in emulator.request_log if e.method.startswith("crm.")])
    assert not report.ok and set(report.problems) == {"services_unmapped"}
    assert [(p.setting, p.value) for p in report.problems["services_unmapped"]] == [("services.sections_by_tipo_ot", 3)]
    assert "services.sections_by_tipo_ot: id_tipo_ot 3 is in use" in report.summary()
    assert before == 0  # a services-only check reads no CRM directory
    with pytest.raises(BrokenMapping, match=r"^nothing written: mapping problems: 1; the first: services.sections_by_tipo_ot: "):
        report.raise_if_broken()


def test_check_mappings_without_the_database_setting_exits_2(emulator, glyms_cli):
    done = glyms_cli("check-mappings", env={"B24_WEBHOOK_URL": emulator.add_webhook(user_id=1)})
    assert done.returncode == 2
    assert done.stderr.strip() == "error: la variable de entorno GLYMS_PG_DSN no está definida (DSN de la base PostgreSQL de Glyms)"
