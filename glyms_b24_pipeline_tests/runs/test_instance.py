"""The Dagster instance: the repository's dagster.yaml, and a first use that several processes share safely."""

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg2
import pytest
import yaml

from glyms_b24_pipeline.runs.instance import (
    SHARED_INSTANCE_CONFIG,
    instance_yaml,
    open_instance,
    storage_url,
    write_instance_yaml,
)
from glyms_b24_pipeline.sandbox.postgres import sqlalchemy_url

REPO = Path(__file__).resolve().parents[2]

# One process's first use of the instance: open it, then run a job on it (what two first-ever
# `glyms-b24 sync` runs do). It waits for a common start time so the processes really collide.
FIRST_USE = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import dagster as dg
    from glyms_b24_pipeline.runs.instance import open_instance

    @dg.op
    def hello():
        return 1

    @dg.job
    def first_use():
        hello()

    start = float(sys.argv[2])
    while time.time() < start:
        time.sleep(0.001)
    with open_instance(Path(sys.argv[1])) as instance:
        result = first_use.execute_in_process(instance=instance)
        print("ok" if result.success else "run failed")
""")


def _first_use_at_once(home: Path, processes: int) -> list[tuple[int, str, str]]:
    start = time.time() + 2.5 + processes * 0.8  # every interpreter has imported dagster by then (2 cores)
    running = [subprocess.Popen([sys.executable, "-c", FIRST_USE, str(home), str(start)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(processes)]
    return [(p.wait(timeout=180), p.stdout.read().strip(), p.stderr.read()[-400:]) for p in running]  # type: ignore[union-attr]


@pytest.mark.slow
def test_several_processes_using_a_new_postgresql_instance_at_once_leave_it_sound(empty_database_dsn, tmp_path):
    home = tmp_path / "home"
    write_instance_yaml(home, sqlalchemy_url(empty_database_dsn))
    results = _first_use_at_once(home, 4)
    assert [(code, out) for code, out, _ in results] == [(0, "ok")] * 4, [err for _, _, err in results]
    conn = psycopg2.connect(empty_database_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM alembic_version")
            assert cur.fetchone() == (1,)
    finally:
        conn.close()
    with open_instance(home) as instance:
        assert len(instance.get_runs()) == 4


@pytest.mark.slow
def test_several_processes_using_a_new_sqlite_instance_at_once_leave_it_sound(tmp_path):
    # without the lock this broke the instance in 3 of 3 trials ("alembic_version has more than one head")
    home = tmp_path / "home"
    write_instance_yaml(home, None)
    results = _first_use_at_once(home, 4)
    assert [(code, out) for code, out, _ in results] == [(0, "ok")] * 4, [err for _, _, err in results]
    with open_instance(home) as instance:
        assert len(instance.get_runs()) == 4


def test_the_production_dagster_yaml_is_postgresql_plus_the_shared_blocks_and_the_development_one_sqlite(monkeypatch):
    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    assert config.pop("storage") == {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}
    assert config == SHARED_INSTANCE_CONFIG
    # the top-level one, which `dagster dev` reads in a fresh checkout: no setting needed
    assert yaml.safe_load((REPO / "dagster.yaml").read_text()) == SHARED_INSTANCE_CONFIG
    assert yaml.safe_load(instance_yaml(None)) == SHARED_INSTANCE_CONFIG


def test_the_storage_url_comes_from_the_environment_with_one_line_errors(tmp_path, monkeypatch):
    from glyms_b24_pipeline.settings.errors import ConfigError

    (tmp_path / "dagster.yaml").write_text((REPO / "deploy" / "dagster.yaml").read_text())
    monkeypatch.delenv("DAGSTER_PG_URL", raising=False)
    with pytest.raises(ConfigError, match=r"^environment variable DAGSTER_PG_URL is not set"):
        storage_url(tmp_path)
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://dagster:pw@db.lab:5433/dagster")
    assert storage_url(tmp_path) == "postgresql+psycopg2://dagster:pw@db.lab:5433/dagster"
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://dagster:s3cr3t@127.0.0.1:1/dagster")
    with pytest.raises(Exception) as info:
        open_instance(tmp_path)
    assert str(info.value).startswith("cannot connect to Dagster's database 127.0.0.1:1/dagster")
    assert "s3cr3t" not in str(info.value) and "\n" not in str(info.value)


def test_init_instance_creates_the_storage_once_and_refuses_a_home_without_dagster_yaml(
        pg_dagster_home, tmp_path, monkeypatch, capsys):
    from glyms_b24_pipeline.cli import main

    assert main(["init-instance"]) == 0
    assert capsys.readouterr().out.startswith("instancia de Dagster lista: PostgreSQL ")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("GLYMS_PG_DSN", "postgresql://glyms@127.0.0.1:1/glyms")
    for command in (["init-instance"], ["history"], ["prune", "--dry-run"]):
        assert main(command) == 2
        assert "no tiene dagster.yaml" in capsys.readouterr().err


def test_init_instance_warns_when_an_upgraded_dagster_yaml_still_shares_one_writer_slot(pg_dagster_home, capsys):
    from glyms_b24_pipeline.cli import main

    assert main(["init-instance"]) == 0
    assert capsys.readouterr().err == ""  # the repository's dagster.yaml: one slot per portal
    config = pg_dagster_home / "dagster.yaml"
    # the limit of before this version: every writer was tagged "writer"; now the tag names the portal
    config.write_text(config.read_text().replace("value:\n          applyLimitPerUniqueValue: true", "value: writer"))
    assert "value: writer" in config.read_text()
    assert main(["init-instance"]) == 0  # the services still start
    err = capsys.readouterr().err
    assert err.startswith("aviso: dagster.yaml no limita un escritor por portal") and "applyLimitPerUniqueValue" in err
