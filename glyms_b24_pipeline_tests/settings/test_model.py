"""Settings: the example file holds the legacy values; bad files name file and key."""

from pathlib import Path

import pytest

from glyms_b24_pipeline.cli import main
from glyms_b24_pipeline.settings.model import ConfigError, Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "glyms_b24.example.yaml"


def test_example_file_holds_the_legacy_values():
    settings = load_settings(EXAMPLE)
    assert settings == Settings()
    assert settings.services.iblock_id == 24
    assert settings.services.price_type_id == 2
    assert settings.services.currency == "ARS"
    assert settings.services.sections_by_tipo_ot == {1: 48, 2: 46, 3: 44}
    assert settings.services.contracts_by_tipo_ot == {1: 14, 2: 259, 3: 371}
    assert settings.companies.company_type_by_tipo_ot == {1: "UC_HMSG7D", 2: "4", 3: "UC_EYGC4I"}
    assert settings.companies.industry_by_cliente_tipo[7] == "UC_FV5RTZ"
    assert settings.companies.user_fields.bloqueado == "UF_CRM_1748888310536"


def _write(tmp_path, text):
    path = tmp_path / "glyms_b24.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_key_is_an_error_naming_file_and_key(tmp_path):
    path = _write(tmp_path, "services:\n  iblok_id: 24\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value) == f"{path}: services.iblok_id: unknown key (check its spelling; see glyms_b24.example.yaml)"


def test_wrong_type_names_key_and_expectation(tmp_path):
    path = _write(tmp_path, "services:\n  sections_by_tipo_ot: {1: cuarenta}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert message.startswith(f"{path}: services.sections_by_tipo_ot.1: ")
    assert "integer" in message and "'cuarenta'" in message


def test_invalid_yaml_names_line(tmp_path):
    path = _write(tmp_path, "services:\n  iblock_id: [24\n")
    with pytest.raises(ConfigError, match=rf"^{path}: line \d+, column \d+: "):
        load_settings(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_env_var_selects_the_file(tmp_path, monkeypatch):
    path = _write(tmp_path, "services:\n  iblock_id: 31\n  currency: USD\n")
    monkeypatch.setenv("GLYMS_B24_CONFIG", str(path))
    settings = load_settings()
    assert (settings.services.iblock_id, settings.services.currency) == (31, "USD")
    assert settings.services.price_type_id == 2  # unspecified keys keep their defaults


def test_cli_prints_one_line_for_a_bad_config(tmp_path, monkeypatch, capsys):
    path = _write(tmp_path, "bitrix24:\n  rate_limit: {burst: 0}\n")
    monkeypatch.setenv("GLYMS_PG_DSN", "postgresql://u@127.0.0.1:1/x")
    assert main(["--config", str(path), "sync", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: bitrix24.rate_limit.burst: ")
    assert err.count("\n") == 1
