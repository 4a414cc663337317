"""The services sync on a Glyms whose view we never saw: odd widths and types, repeated ids and codes, price ties.

Every row ends synced or as a row-level outcome with its reason, nothing is written twice, and a
second run writes nothing (a price tie never flips)."""

from decimal import Decimal

import psycopg2
import pytest

from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.glyms.install import install_sql
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.settings.resource import SyncSettings
from glyms_b24_pipeline.sync.writer import PortalWriter
from glyms_b24_pipeline_tests.defs.services.test_services_sync import catalog_state, materialization, sync
from glyms_b24_pipeline_tests.glyms.minimal_schema import create_minimal_glyms

ODD_TYPES = {
    "lims.v_prestacion_max_version.id_prestacion": "bigint",
    "lims.v_prestacion_max_version.activa": "smallint",
    "lims.v_prestacion_max_version.codigo": "varchar(12)",
    "public.contrato_presta.valor_unico": "numeric(18,6)",
    "public.contrato_presta.fecha_version": "timestamptz",
}
SERVICES = [  # id_prestacion, codigo, descripcion, activa, id_tipo_ot
    (1, "A1", "Glucemia", 1, 1),
    (1, "A1", "Glucemia", 1, 1),  # the view gives it twice, identical
    (2, "B2", "Uremia", 1, 1),
    (3, "", "Sin código", 1, 1),
    (4, "SH", "Compartido A", 1, 1),
    (5, "SH", "Compartido B", 1, 1),
    (6, "C6", None, 1, 1),
    (7, "C7", "Empate", 1, 1),
    (8, "C8", "Empate con nulo", 1, 1),
    (9, "C9", "Inactivo", 0, 1),
]
PRICES = [  # codigo_presta, valor_unico, fecha_version (contract 14: clínica)
    ("A1", Decimal("100.004999"), "2024-01-01"),
    ("B2", Decimal("55"), "2024-01-01"),
    ("", Decimal("999"), "2024-01-01"),  # a blank code's price belongs to nobody
    ("SH", Decimal("70.5"), "2024-01-01"),
    ("C7", Decimal("200"), "2024-05-01 10:00+00"),  # two versions of one moment: the higher, every run
    ("C7", Decimal("150.123456"), "2024-05-01 10:00+00"),
    ("C7", Decimal("300"), "2023-05-01 10:00+00"),
    ("C8", None, "2024-05-01"),
    ("C8", Decimal("50"), "2024-05-01"),
]


def _execute(dsn, statement, rows=()):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        if rows:
            cur.executemany(statement, rows)
        else:
            cur.execute(statement)
    conn.close()


@pytest.fixture
def odd_glyms(empty_database_dsn):
    create_minimal_glyms(empty_database_dsn, ODD_TYPES)
    install_sql(empty_database_dsn)
    _execute(empty_database_dsn, "INSERT INTO lims.v_prestacion_max_version (id_prestacion, codigo, descripcion, activa, "
                                 "id_tipo_ot) VALUES (%s, %s, %s, %s, %s)", SERVICES)
    _execute(empty_database_dsn, "INSERT INTO public.contrato_presta (id_contrato, codigo_presta, valor_unico, "
                                 "fecha_version) VALUES (14, %s, %s, %s)", PRICES)
    return empty_database_dsn


def test_every_row_ends_synced_or_with_its_reason_and_a_second_run_writes_nothing(odd_glyms, emulator):
    resources = {"glyms_db": GlymsDatabase(dsn=odd_glyms),
                 "bitrix24": Bitrix24Resource(webhook_url=emulator.add_webhook(user_id=1)),
                 "portal_writer": PortalWriter(dsn=odd_glyms), "sync_settings": SyncSettings()}
    first = sync(resources)
    assert first.success
    services, prices = catalog_state(emulator)
    assert sorted(services, key=int) == ["1", "2", "3", "4", "5", "7", "8"]
    assert len(emulator.services(iblock_id=24)) == 7  # service 1 once
    price_of = {xml: prices[s["id"]]["price"] if s["id"] in prices else None for xml, s in services.items()}
    assert price_of == {"1": 100.0, "2": 55.0, "3": None, "4": 70.5, "5": 70.5, "7": 200.0, "8": 50.0}
    assert services["3"]["code"] in (None, "")
    push = materialization(first, "bitrix24", "services_push")
    assert (push["failed"], push["not_synced"]) == (0, 1)
    assert _skipped(odd_glyms) == {"6": "descripcion (name) is blank"}

    # the view starts giving service 2 twice, the copies differing: its catalog service is left as it is
    _execute(odd_glyms, "INSERT INTO lims.v_prestacion_max_version (id_prestacion, codigo, descripcion, activa, "
                        "id_tipo_ot) VALUES (2, 'B2', 'Uremia (copia)', 1, 1)")
    before = catalog_state(emulator)
    second = sync(resources)
    assert second.success
    plan = materialization(second, "sync", "services_plan")
    assert (plan["writes"], plan["invalid"], plan["deactivate"]) == (0, 2, 0)
    assert catalog_state(emulator) == before
    assert _skipped(odd_glyms)["2"] == ("id_prestacion 2 appears 2 times in lims.v_prestacion_max_version with "
                                        "different descripcion; not synced until the view gives it once")
    third = sync(resources)
    assert materialization(third, "sync", "services_plan")["writes"] == 0


def _skipped(dsn):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT DISTINCT ON (glyms_key) glyms_key, error FROM glyms_b24.sync_audit WHERE outcome = 'skipped' "
                    "ORDER BY glyms_key, audit_id DESC")
        rows = dict(cur.fetchall())
    conn.close()
    return rows
