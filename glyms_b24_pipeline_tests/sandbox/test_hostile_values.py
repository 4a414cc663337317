"""Hostile values that cannot be stored in the sandbox's Glyms schema, through the pure mapping functions:
NUL, text in type-id columns, prices a driver may hand over as text or float."""

from decimal import Decimal

import pytest

from glyms_b24_pipeline.defs.companies.mapping import desired_company, normalise_email, normalise_phone
from glyms_b24_pipeline.defs.services.plan import desired_service
from glyms_b24_pipeline.settings.model import CompaniesSettings, ServicesSettings
from glyms_b24_pipeline.sync.text import clean_text, is_blank

SERVICES = ServicesSettings()
COMPANIES = CompaniesSettings()


def test_nul_and_every_other_control_character_are_removed_but_line_breaks_and_tabs_stay():
    assert clean_text("Lab\x00 Sur\x07\x1b\x7f\x85\x9f") == "Lab Sur"
    assert clean_text("Línea 1\r\nLínea 2\tfin") == "Línea 1\r\nLínea 2\tfin"
    assert clean_text("مختبر \u200fמעבדה 👩‍🔬") == "مختبر \u200fמעבדה 👩‍🔬"  # marks and joiners are kept
    assert clean_text(None) == ""


@pytest.mark.parametrize("text", ["", "   ", "\u00a0", "\u200b\ufeff", "\u2028", "\t\n"])
def test_text_that_shows_nothing_is_blank(text):
    assert is_blank(text)


@pytest.mark.parametrize("text", ["0", ".", "👍", "\u200fא"])
def test_text_that_shows_something_is_not_blank(text):
    assert not is_blank(text)


def test_a_service_or_customer_with_nul_in_its_name_is_cleaned_not_refused():
    service, reason, _ = desired_service({"id_prestacion": 1, "descripcion": "Gluce\x00mia", "precio": Decimal("1")},
                                         SERVICES)
    assert service is not None and service.name == "Glucemia", reason
    company, reason, _ = desired_company({"id_cliente": 1, "razon_social": "Lab\x00 Sur"}, COMPANIES)
    assert company is not None and company.fields["TITLE"] == "Lab Sur", reason


@pytest.mark.parametrize("raw, section", [(" 1 ", 48), (1.0, 48), ("uno", None), ("1.5", None), ("", None), (-3, None)])
def test_type_ids_a_text_column_could_hold_map_or_warn(raw, section):
    service, reason, warnings = desired_service({"id_prestacion": 7, "codigo": "E7", "descripcion": "Ensayo", "id_tipo_ot": raw,
                                                 "precio": Decimal("10")}, SERVICES)
    assert service is not None, reason
    assert service.section_id == section
    assert bool(warnings) == (section is None)
    company, _, warnings = desired_company({"id_cliente": 7, "razon_social": "Lab", "id_tipo_ot": raw,
                                            "id_cliente_tipo": raw}, COMPANIES)
    assert company is not None
    assert ("COMPANY_TYPE" in company.fields) == (section is not None)
    if section is None and str(raw).strip():
        assert any("has no COMPANY_TYPE mapping" in w for w in warnings)


@pytest.mark.parametrize("raw, price, reason", [
    ("1500.50", Decimal("1500.50"), ""), (1500.5, Decimal("1500.50"), ""), ("  0 ", Decimal("0.00"), ""),
    ("abc", None, "precio 'abc' is not a number"), ("NaN", None, "precio 'NaN' is not a number"),
    ("-0.01", None, "precio -0.01 is negative"), (Decimal("999999999999.99"), Decimal("999999999999.99"), ""),
])
def test_prices_as_a_driver_may_hand_them_over(raw, price, reason):
    service, why, _ = desired_service({"id_prestacion": 7, "descripcion": "Ensayo", "id_tipo_ot": 1, "precio": raw},
                                      SERVICES)
    assert why == reason
    assert (service.price if service else None) == price


def test_mail_rules_for_addresses_typed_by_hand():
    assert normalise_email("a@lab.com.ar / b@lab.com.ar")[0] == "a@lab.com.ar"
    assert normalise_email("a@lab.com.ar b@lab.com.ar")[0] == "a@lab.com.ar"
    assert normalise_email("juan perez@gmail.com")[0] is None  # never guessed into perez@gmail.com
    assert normalise_email("Compras <compras@lab.com.ar>") == ("compras@lab.com.ar", None)
    assert normalise_email("josé@ñandú.com.ar")[0] == "josé@xn--and-6ma2c.com.ar"
    assert normalise_email("sin mail; ventas@lab.com.ar")[0] == "ventas@lab.com.ar"


def test_phone_rules_keep_what_was_typed():
    assert normalise_phone("0341 4567890 int. 123", "AR") == ("+543414567890 ext. 123", None)
    assert normalise_phone("0341-LAB-TEST", "AR")[0] == "0341-LAB-TEST"  # never digits nobody typed
    assert normalise_phone("-", "AR") == (None, "telefono '-' has no digits; left out")
    assert normalise_phone("0341 15 456-7890", "AR") == ("+5493414567890", None)


def test_10000_character_names_where_glyms_holds_them_in_text_columns():
    long_name = "Análisis " * 1111 + "X"  # 10,000 characters
    service, reason, _ = desired_service({"id_prestacion": 7, "descripcion": long_name, "id_tipo_ot": 1,
                                          "precio": Decimal("10")}, SERVICES)
    assert service is None and reason == "descripcion is 10000 characters long; Bitrix24 keeps at most 255"
    company, _, warnings = desired_company({"id_cliente": 7, "razon_social": long_name}, COMPANIES)
    assert company is not None and company.fields["TITLE"] == long_name[:255].rstrip()
    assert "razon_social is 10000 characters long; cut to 255" in warnings
