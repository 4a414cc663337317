"""Fixtures for the companies sync: seeded customers, resources on the emulator, a run helper."""

import dagster as dg
import psycopg2
import pytest

from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.defs.companies.assets import (
    CompaniesPushConfig,
    CompaniesReconcileConfig,
    consumer_assets,
    reconcile_assets,
)
from glyms_b24_pipeline.defs.companies.changelog import ChangeLog
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.settings.resource import SyncSettings
from glyms_b24_pipeline.sync.writer import PortalWriter


def make_resources(dsn, emulator, config_file=None, **bitrix24):
    return {
        "glyms_db": GlymsDatabase(dsn=dsn),
        "bitrix24": Bitrix24Resource(**(bitrix24 or {"webhook_url": emulator.add_webhook(user_id=1)})),
        "portal_writer": PortalWriter(dsn=dsn),
        "change_log": ChangeLog(dsn=dsn),
        "sync_settings": SyncSettings(config_file=str(config_file) if config_file else None),
    }


@pytest.fixture
def resources(glyms_dsn, portal):
    return make_resources(glyms_dsn, portal)


def consume(resources, instance=None, **push_config):
    """One run of the change-log consumer."""
    return dg.materialize(consumer_assets, resources=resources, instance=instance or dg.DagsterInstance.ephemeral(),
                          run_config=dg.RunConfig(ops={"bitrix24__companies_push": CompaniesPushConfig(**push_config)}),
                          raise_on_error=False)


def reconcile(resources, **push_config):
    return dg.materialize(reconcile_assets, resources=resources, instance=dg.DagsterInstance.ephemeral(),
                          run_config=dg.RunConfig(ops={"bitrix24__companies_reconcile_push":
                                                       CompaniesReconcileConfig(**push_config)}),
                          raise_on_error=False)


def metadata(result, *path):
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if mat.asset_key.path == list(path):
            return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    return None


def checks(result):
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


def sql(dsn, statement, params=None):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else None


def log_rows(dsn):
    """log_id -> (id_cliente, operation, status, attempts, error, company id)."""
    return {row[0]: row[1:] for row in sql(dsn, "SELECT log_id, id_cliente, operation_type, sync_status, attempts, "
                                                 "error_message, bitrix_company_id FROM f_cliente.sync_log_bitrix24 "
                                                 "ORDER BY log_id")}


def add_customer(dsn, **fields):
    values = {"codigo": "C1", "razon_social": "Laboratorio Sur S.A.", "nombre_fantasia": "Lab Sur",
              "direccion": "San Martín 123, Rosario", "telefono": "0341 456-7890", "mail": "info@labsur.com.ar",
              "observaciones": None, "id_tipo_ot": 1, "id_cliente_tipo": 7, **fields}
    columns = ", ".join(values)
    placeholders = ", ".join(["%s"] * len(values))
    return sql(dsn, f"INSERT INTO public.cliente ({columns}) VALUES ({placeholders}) RETURNING id_cliente",
               list(values.values()))[0][0]


def update_customer(dsn, id_cliente, **fields):
    assignments = ", ".join(f"{name} = %s" for name in fields)
    sql(dsn, f"UPDATE public.cliente SET {assignments} WHERE id_cliente = %s", [*fields.values(), id_cliente])


def by_origin(emulator):
    found = {}
    for company in emulator.companies():
        found.setdefault(company.get("ORIGIN_ID"), []).append(company)
    return found
