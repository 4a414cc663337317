"""The documentation keeps up with the code: every settings key and variable is in the README's reference."""

import re
from pathlib import Path

import yaml
from pydantic import BaseModel

from glyms_b24_pipeline.settings.model import SECRET_ENV_VARS, Settings

ROOT = Path(__file__).resolve().parent.parent


def settings_keys(model: type[BaseModel] = Settings, prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += settings_keys(annotation, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def test_every_settings_key_is_in_the_configuration_reference():
    documented = set(re.findall(r"^\| `([a-z0-9_.]+)` \|", readme_section("Configuration reference"), re.M))
    keys = settings_keys()
    assert len(keys) > 20
    missing = [key for key in keys if key not in documented]
    assert not missing, f"add these settings keys to the README's configuration reference: {missing}"
    unknown = sorted(documented - set(keys) - {"services", "companies", "bitrix24", "writer"})
    assert not [k for k in unknown if "." in k], f"the reference names keys the settings do not have: {unknown}"


def test_every_environment_variable_is_in_the_reference():
    section = readme_section("Configuration reference")
    for name in (*SECRET_ENV_VARS, "GLYMS_B24_CONFIG", "DAGSTER_HOME"):
        assert f"`{name}`" in section, name


def test_the_example_file_is_valid_and_sets_every_section():
    from glyms_b24_pipeline.settings.model import load_settings

    settings = load_settings(ROOT / "glyms_b24.example.yaml")
    assert set(yaml.safe_load((ROOT / "glyms_b24.example.yaml").read_text())) <= set(Settings.model_fields)
    assert settings.services.iblock_id == 24


def test_the_spanish_manual_covers_every_command_and_every_one_line_error_it_lists():
    manual = (ROOT / "docs" / "es" / "manual_operador.md").read_text(encoding="utf-8")
    for command in ("install-sql", "auth --listen", "auth --code", "--import-tokens", "price-types", "directory-items",
                    "check-mappings", "sync --type services", "--dry-run", "--allow-mass-deactivation", "emulator",
                    "repair services", "repair companies", "repair.services_keep"):
        assert command in manual, command
    assert "https://oauth.bitrix.info" in manual and "B24_OAUTH_URL" in manual


def manual_section(number: str) -> str:
    text = (ROOT / "docs" / "es" / "manual_operador.md").read_text(encoding="utf-8")
    heading = re.search(rf"^#{{2,3}} {re.escape(number)} [^\n]*\n", text, re.M)
    assert heading, number
    end = re.search(r"^#{2,3} \d", text[heading.end() :], re.M)
    return text[heading.start() : heading.end() + end.start() if end else None]


def table_keys(text: str) -> list[str]:
    """The first column of a markdown table's rows, as written between backticks (several per cell too)."""
    keys = []
    for cell in re.findall(r"^\| ([^|]+) \|", text, re.M):
        keys += re.findall(r"`([^`]+)`", cell) or ([cell.strip()] if cell.strip().isdigit() else [])
    return keys


def test_the_spanish_manual_lists_the_same_settings_and_variables_as_the_readme():
    english = readme_section("Configuration reference")
    spanish = manual_section("4.5")
    assert table_keys(spanish) == table_keys(english)  # the same keys and variables, in the same order
    assert len(table_keys(spanish)) > 60
    assert set(settings_keys()) <= set(table_keys(spanish))


def test_the_spanish_manual_lists_the_same_exit_codes_as_the_readme():
    english = readme_section("Command line")
    english = english[english.index("### Exit codes") :]
    spanish = manual_section("7.2")
    codes = table_keys(english[: english.index("\n## ") if "\n## " in english else None])
    assert codes == ["0", "1", "2", "3", "130"]
    assert table_keys(spanish[spanish.index("| código de salida |") :]) == codes


def test_the_parity_check_catches_a_missing_key():
    spanish = manual_section("4.5").replace("| `writer.lock_wait_seconds` |", "| `writer.lock_wait` |")
    assert table_keys(spanish) != table_keys(readme_section("Configuration reference"))
