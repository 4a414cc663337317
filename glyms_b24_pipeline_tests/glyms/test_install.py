"""install-sql: idempotent, triggers log every change of public.cliente, --check finds gaps."""

import psycopg2
import pytest

from glyms_b24_pipeline.cli import main
from glyms_b24_pipeline.glyms.connection import GlymsDatabaseError
from glyms_b24_pipeline.glyms.install import check_install, install_sql
from glyms_b24_pipeline_tests.glyms.minimal_schema import create_minimal_glyms


def _log_rows(dsn):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT id_cliente, operation_type, sync_status, attempts FROM f_cliente.sync_log_bitrix24 ORDER BY log_id")
        return cur.fetchall()


def test_triggers_log_insert_update_delete(glyms_dsn):
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO public.cliente (razon_social) VALUES ('Laboratorio Sur S.A.') RETURNING id_cliente")
        (id_cliente,) = cur.fetchone()
        cur.execute("UPDATE public.cliente SET mail = 'info@labsur.com.ar' WHERE id_cliente = %s", (id_cliente,))
        cur.execute("DELETE FROM public.cliente WHERE id_cliente = %s", (id_cliente,))
    assert _log_rows(glyms_dsn) == [
        (id_cliente, "INSERT", "PENDING", 0),
        (id_cliente, "UPDATE", "PENDING", 0),
        (id_cliente, "DELETE", "PENDING", 0),
    ]


def test_install_is_idempotent_and_keeps_rows(glyms_dsn):
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO public.cliente (razon_social) VALUES ('Veterinaria Norte')")
    install_sql(glyms_dsn)
    install_sql(glyms_dsn)
    assert check_install(glyms_dsn).missing == []
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("UPDATE public.cliente SET direccion = 'Av. Siempreviva 742'")
        # still exactly one trigger per event after three installs
        cur.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.cliente'::regclass AND NOT tgisinternal")
        assert cur.fetchone()[0] == 3
    assert [row[1] for row in _log_rows(glyms_dsn)] == ["INSERT", "UPDATE"]


def test_install_on_a_database_with_the_seed_table_adds_columns(empty_database_dsn):
    create_minimal_glyms(empty_database_dsn)
    with psycopg2.connect(empty_database_dsn) as conn, conn.cursor() as cur:
        # the seed's original DDL, with a row already in it
        cur.execute("CREATE SCHEMA f_cliente")
        cur.execute(
            """CREATE TABLE f_cliente.sync_log_bitrix24 (
                log_id SERIAL PRIMARY KEY, id_cliente INTEGER NOT NULL, operation_type VARCHAR(10) NOT NULL,
                change_timestamp TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
                sync_status VARCHAR(20) DEFAULT 'PENDING', processed_timestamp TIMESTAMP WITH TIME ZONE NULL,
                error_message TEXT NULL)"""
        )
        cur.execute("INSERT INTO f_cliente.sync_log_bitrix24 (id_cliente, operation_type) VALUES (7, 'UPDATE')")
    install_sql(empty_database_dsn)
    assert check_install(empty_database_dsn).missing == []
    assert _log_rows(empty_database_dsn) == [(7, "UPDATE", "PENDING", 0)]


def test_check_reports_a_missing_trigger(glyms_dsn, capsys, monkeypatch):
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("DROP TRIGGER trg_cliente_sync_b24_delete ON public.cliente")
    missing = [(obj.kind, obj.name) for obj in check_install(glyms_dsn).missing]
    assert missing == [("trigger", "public.cliente.trg_cliente_sync_b24_delete")]

    monkeypatch.setenv("GLYMS_PG_DSN", glyms_dsn)
    assert main(["install-sql", "--check"]) == 1
    out = capsys.readouterr().out
    assert "FALTA    trigger   public.cliente.trg_cliente_sync_b24_delete" in out
    # --check changed nothing
    assert len(check_install(glyms_dsn).missing) == 1
    assert main(["install-sql"]) == 0
    assert main(["install-sql", "--check"]) == 0
    assert len(check_install(glyms_dsn).objects) == 23


def test_install_refuses_a_database_without_glyms(empty_database_dsn):
    with pytest.raises(GlymsDatabaseError, match="public.cliente is missing"):
        install_sql(empty_database_dsn)


def test_unreachable_server_is_one_clear_line(monkeypatch, capsys):
    monkeypatch.setenv("GLYMS_PG_DSN", "postgresql://glyms:s3cr3t@127.0.0.1:1/glyms")
    assert main(["install-sql", "--check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no se puede conectar a la base de Glyms 127.0.0.1:1/glyms: el servidor rechaza")
    assert err.count("\n") == 1
    assert "s3cr3t" not in err


def test_missing_database_is_one_clear_line(pg_admin_dsn, monkeypatch, capsys):
    import psycopg2.extensions

    params = psycopg2.extensions.parse_dsn(pg_admin_dsn)
    params["dbname"] = "glyms_b24_no_such_database"
    monkeypatch.setenv("GLYMS_PG_DSN", psycopg2.extensions.make_dsn(**params))
    assert main(["install-sql"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no se puede conectar a la base de Glyms ")
    assert err.strip().endswith(": la base glyms_b24_no_such_database no existe"), err
    assert err.count("\n") == 1
