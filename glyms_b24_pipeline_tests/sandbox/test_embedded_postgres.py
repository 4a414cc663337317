"""The tests' embedded PostgreSQL survives another pytest session starting on the same machine."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg2

from glyms_b24_pipeline.sandbox.postgres import TEST_PG_ENV, postgres_for_tests


def test_a_new_pytest_session_closing_its_base_folder_does_not_stop_the_embedded_server(
        monkeypatch, tmp_path_factory):
    monkeypatch.delenv(TEST_PG_ENV, raising=False)
    # pytest makes /tmp/pytest-of-<user> private (0700) whenever a session starts; a server whose data
    # lived below it, running as the unprivileged user the embedded server uses under root, died then.
    pytest_root = Path(tmp_path_factory.getbasetemp()).parent
    with postgres_for_tests() as admin_dsn:
        data_dir = Path(admin_dsn.split("host=")[-1])
        assert pytest_root not in data_dir.parents
        mode = pytest_root.stat().st_mode
        os.chmod(pytest_root, 0o700)
        try:
            with psycopg2.connect(admin_dsn) as conn, conn.cursor() as cur:
                cur.execute("CHECKPOINT")  # the server opens its control file again
                cur.execute("SELECT 1")
                assert cur.fetchone() == (1,)
        finally:
            os.chmod(pytest_root, mode)
