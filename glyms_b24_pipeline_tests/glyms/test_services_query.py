"""The services query: active services, newest price version of the configured contract."""

from datetime import datetime
from decimal import Decimal

import psycopg2
import pytest

from glyms_b24_pipeline.defs.services.assets import read_glyms_services
from glyms_b24_pipeline.glyms.connection import GlymsDatabaseError
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.sandbox.glyms_seed import add_price_version, add_service_version, insert_services, seed_glyms
from glyms_b24_pipeline.settings.model import ServicesSettings

CONTRACTS = {"tipo_ot_ids": [1, 2, 3], "contract_ids": [14, 259, 371]}


def _insert(dsn, services, prices):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        insert_services(cur, [(*service, "2024-01-01") for service in services])
        cur.executemany(
            "INSERT INTO public.contrato_presta (id_contrato, codigo_presta, valor_unico, fecha_version) VALUES (%s, %s, %s, %s)",
            prices,
        )


def test_newest_price_of_the_configured_contract(glyms_dsn):
    _insert(
        glyms_dsn,
        [
            (1, 1, "C1", "Glucemia", None, 1, 1),
            (2, 1, "I2", "Coliformes", "Agua", 1, 2),
            (3, 1, "V3", "Brucelosis", None, 0, 3),  # inactive: not synced
            (4, 1, "X4", "Sin tipo mapeado", None, 1, 9),  # unmapped type: no contract, no price
        ],
        [
            (14, "C1", Decimal("100.00"), datetime(2024, 1, 1)),
            (14, "C1", Decimal("130.00"), datetime(2024, 6, 1)),  # newest for contract 14
            (14, "C1", Decimal("120.00"), datetime(2024, 3, 1)),
            (1, "C1", Decimal("999.00"), datetime(2025, 1, 1)),  # other contract, newer: ignored
            (259, "I2", Decimal("55.50"), datetime(2024, 2, 1)),
            (14, "I2", Decimal("77.00"), datetime(2025, 2, 1)),  # contract of another type: ignored
        ],
    )
    rows = GlymsDatabase(dsn=glyms_dsn).rows("active_services", CONTRACTS)
    assert [(r["id_prestacion"], r["id_contrato"], r["precio"]) for r in rows] == [
        (1, 14, Decimal("130.00")),
        (2, 259, Decimal("55.50")),
        (4, None, None),
    ]


def test_contracts_come_from_configuration(glyms_dsn):
    _insert(
        glyms_dsn,
        [(1, 1, "C1", "Glucemia", None, 1, 1)],
        [(14, "C1", Decimal("100.00"), datetime(2024, 1, 1)), (15, "C1", Decimal("200.00"), datetime(2024, 1, 1))],
    )
    rows = GlymsDatabase(dsn=glyms_dsn).rows("active_services", {"tipo_ot_ids": [1], "contract_ids": [15]})
    assert rows[0]["precio"] == Decimal("200.00")


def test_view_uses_the_latest_service_version(glyms_dsn):
    _insert(glyms_dsn, [(1, 1, "C1", "Glucemia", None, 1, 1)], [])
    add_service_version(glyms_dsn, 1, descripcion="Glucemia en ayunas")
    add_service_version(glyms_dsn, 1, activa=0)
    db = GlymsDatabase(dsn=glyms_dsn)
    assert db.rows("active_services", CONTRACTS) == []
    add_service_version(glyms_dsn, 1, activa=1)
    add_price_version(glyms_dsn, "C1", 14, Decimal("10.00"), datetime(2024, 1, 1))
    df = db.table("active_services", CONTRACTS).dataframe()
    assert list(df["descripcion"]) == ["Glucemia en ayunas"]
    assert list(df["precio"]) == [Decimal("10.00")]


def test_seeded_sandbox_has_dirty_rows_and_prices(glyms_dsn):
    summary = seed_glyms(glyms_dsn, services=200, customers=50, seed=7)
    df = GlymsDatabase(dsn=glyms_dsn).table("active_services", CONTRACTS).dataframe()
    assert len(df) == summary.active_services > 150
    assert df["precio"].notna().sum() > 100
    assert df["precio"].isna().any()  # services without price exist
    assert (df["descripcion"].fillna("").str.strip() == "").any() or summary.dirty_services
    assert summary.dirty_customers and summary.customers == 50
    # customers went through the triggers
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM f_cliente.sync_log_bitrix24 WHERE sync_status = 'PENDING'")
        assert cur.fetchone()[0] == 50


def test_same_seed_same_data(glyms_dsn):
    first = seed_glyms(glyms_dsn, services=30, customers=5, seed=3, first_service_id=1)
    second = seed_glyms(glyms_dsn, services=30, customers=5, seed=3, first_service_id=1001)
    assert first.dirty_services == [i - 1000 for i in second.dirty_services]


def test_missing_view_is_one_clear_line(empty_database_dsn):
    with pytest.raises(GlymsDatabaseError) as info:
        read_glyms_services(GlymsDatabase(dsn=empty_database_dsn), ServicesSettings())
    assert str(info.value).startswith("lims.v_prestacion_max_version is missing: is GLYMS_PG_DSN pointing at the Glyms database?")
    assert "\n" not in str(info.value)


def test_explain_reads_the_price_the_sync_reads(glyms_dsn):
    """service_explain.sql repeats active_services.sql's price rule for one key: both must give one price."""
    _insert(
        glyms_dsn,
        [(1, 1, "C1", "Glucemia", None, 1, 1), (2, 1, "I2", "Coliformes", None, 1, 2), (3, 1, " ", "Sin codigo", None, 1, 1),
         (4, 1, "C1", "Comparte codigo", None, 1, 1)],
        [
            (14, "C1", Decimal("100.00"), datetime(2024, 6, 1)),
            (14, "C1", Decimal("140.00"), datetime(2024, 6, 1)),  # a tie: the higher is in force
            (14, "C1", None, datetime(2024, 6, 1)),
            (14, "C1", Decimal("999.00"), datetime(2023, 1, 1)),
            (259, "I2", None, datetime(2024, 2, 1)),
            (259, "I2", Decimal("55.50"), datetime(2024, 1, 1)),  # older: the newest version has no value
            (14, " ", Decimal("1.00"), datetime(2024, 1, 1)),  # a blank code looks up no price
        ],
    )
    db = GlymsDatabase(dsn=glyms_dsn)
    columns = ("id_prestacion", "id_contrato", "precio", "precio_fecha_version", "precio_valores_en_fecha")
    synced = {r["id_prestacion"]: tuple(r[c] for c in columns) for r in db.rows("active_services", CONTRACTS)}
    for key in ("1", "2", "3", "4"):
        explained = {r["id_prestacion"]: tuple(r[c] for c in columns)
                     for r in db.rows("service_explain", {"key": key, **CONTRACTS})}
        assert explained[int(key)] == synced[int(key)], key
    assert synced[1][2] == Decimal("140.00") and synced[2][2] is None and synced[3][2] is None
