"""The legacy script's spellings keep working, each telling the new one once (stderr, Spanish)."""

import pytest

from bitrix24_emulator.testing import TEST_CLIENT_ID, TEST_CLIENT_SECRET
from glyms_b24_pipeline.bitrix24.auth import TokenStore
from glyms_b24_pipeline.cli.legacy import translate
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline.settings.errors import ConfigError


def sqlite_home(tmp_path):
    """A DAGSTER_HOME with the project's instance settings and SQLite storage."""
    from glyms_b24_pipeline.runs.instance import write_instance_yaml

    home = tmp_path / "dagster_home"
    write_instance_yaml(home, None)
    return home


def oauth_env(emulator, dsn):
    return {"B24_PORTAL_URL": emulator.portal_url, "B24_CLIENT_ID": TEST_CLIENT_ID, "B24_CLIENT_SECRET": TEST_CLIENT_SECRET,
            "B24_OAUTH_URL": emulator.oauth_url, "GLYMS_PG_DSN": dsn}


def notices(stderr):
    return [line for line in stderr.splitlines() if line.startswith("aviso:")]


@pytest.mark.parametrize("argv, expected", [
    (["--sync_type", "all"], ["sync", "--type", "all"]),
    (["--sync_type=services", "--debug"], ["--debug", "sync", "--type", "services"]),
    (["--debug", "--sync_type", "companies", "--dry-run"], ["--debug", "sync", "--type", "companies", "--dry-run"]),
    (["--config", "x.yaml", "--price_types"], ["--config", "x.yaml", "price-types"]),
    (["--directory_items=INDUSTRY"], ["directory-items", "INDUSTRY"]),
    (["--auth_code=abc"], ["auth", "--code", "abc"]),
    (["sync", "--type", "services"], ["sync", "--type", "services"]),
])
def test_translate(argv, expected):
    assert translate(argv).argv == expected


def test_translate_refuses_two_legacy_modes_and_a_missing_value():
    with pytest.raises(ConfigError, match="una sola"):
        translate(["--price_types", "--sync_type", "all"])
    with pytest.raises(ConfigError, match="--sync_type necesita un valor"):
        translate(["--sync_type"])


def test_price_types_and_directory_items_aliases(emulator, glyms_cli):
    env = {"B24_WEBHOOK_URL": emulator.add_webhook(user_id=1)}
    old = glyms_cli("--price_types", env=env)
    assert old.returncode == 0 and old.stdout == glyms_cli("price-types", env=env).stdout
    assert notices(old.stderr) == ["aviso: --price_types está obsoleto; use: glyms-b24 price-types"]

    old = glyms_cli("--directory_items", "INDUSTRY", env=env)
    assert old.returncode == 0 and "STATUS_ID" in old.stdout
    assert notices(old.stderr) == ["aviso: --directory_items está obsoleto; use: glyms-b24 directory-items INDUSTRY"]


def test_auth_code_alias_stores_the_tokens_and_never_echoes_the_code(emulator, glyms_dsn, glyms_cli):
    code = emulator.issue_authorization_code(TEST_CLIENT_ID)
    done = glyms_cli(f"--auth_code={code}", env=oauth_env(emulator, glyms_dsn))
    assert done.returncode == 0, done.stderr
    assert notices(done.stderr) == ["aviso: --auth_code está obsoleto; use: glyms-b24 auth --code CODIGO"]
    assert code not in done.stdout + done.stderr
    assert f"tokens guardados para {emulator.portal_url} (generación 1" in done.stdout
    assert TokenStore(glyms_dsn, emulator.portal_url, TEST_CLIENT_ID).load() is not None


def test_sync_type_alias_with_debug_after_it_runs_the_sync(emulator, glyms_dsn, glyms_cli, tmp_path):
    seed_glyms(glyms_dsn, services=15, customers=0, seed=2)
    env = {"B24_WEBHOOK_URL": emulator.add_webhook(user_id=1), "GLYMS_PG_DSN": glyms_dsn, "DAGSTER_HOME": str(sqlite_home(tmp_path))}
    done = glyms_cli("--sync_type", "services", "--dry-run", "--debug", env=env)
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: the seed plants rows the checks warn about
    assert notices(done.stderr) == ["aviso: --sync_type está obsoleto; use: glyms-b24 --debug sync --type services --dry-run"]
    assert "simulación de services: no se escribió nada" in done.stdout
    # --debug: our own loggers at DEBUG (methods and sizes), third-party ones quiet
    debug_lines = [line for line in done.stderr.splitlines() if " DEBUG " in line or " INFO " in line]
    # (inside a run Dagster prefixes the message with the job, the run and the step)
    assert any("glyms_b24_pipeline.bitrix24.client:" in line and "batch of" in line for line in debug_lines)
    assert all(" glyms_b24_pipeline." in line for line in debug_lines), [
        line for line in debug_lines if " glyms_b24_pipeline." not in line][:5]


def test_sync_type_takes_its_choices_from_the_registry(glyms_cli):
    done = glyms_cli("--sync_type", "nonexistent")
    assert done.returncode == 2 and "opción no válida: 'nonexistent'" in done.stderr
