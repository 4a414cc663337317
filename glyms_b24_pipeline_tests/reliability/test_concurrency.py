"""Processes started together outside Dagster's queue: no double processing, no duplicate, no lost token."""

import subprocess
import sys
from collections import Counter

import pytest

from bitrix24_emulator import Fault
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline_tests.defs.companies.conftest import add_customer, by_origin, log_rows, sql

pytestmark = pytest.mark.slow


def _cli(env, *args):
    return subprocess.Popen([sys.executable, "-m", "glyms_b24_pipeline.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(processes):
    outputs = [p.communicate(timeout=240) for p in processes]
    assert all("Traceback" not in out + err for out, err in outputs), outputs
    return outputs


def _assert_companies_once(dsn, portal, customers):
    companies = by_origin(portal)
    assert sorted(companies) == sorted(map(str, customers)) and {len(v) for v in companies.values()} == {1}
    creates = Counter(key for (key,) in sql(dsn, "SELECT glyms_key FROM glyms_b24.sync_audit "
                                                 "WHERE entity = 'company' AND operation = 'create'"))
    assert set(creates.values()) == {1}


def test_a_companies_sync_and_a_services_sync_started_together(glyms_dsn, portal, cli_env):
    seed_glyms(glyms_dsn, services=150, customers=0, seed=21)
    customers = [add_customer(glyms_dsn, codigo=f"C{n}", razon_social=f"Empresa {n}") for n in range(60)]
    portal.add_fault(Fault(kind="slow", method="catalog.product.service.add", nth=1, delay_seconds=3))
    portal.add_fault(Fault(kind="slow", method="crm.company.add", nth=1, delay_seconds=3))
    _finish([_cli(cli_env, "sync", "--type", "services"), _cli(cli_env, "sync", "--type", "companies")])
    services = Counter(s["xmlId"] for s in portal.services(iblock_id=24))
    assert services and set(services.values()) == {1}
    _assert_companies_once(glyms_dsn, portal, customers)
    assert {row[2] for row in log_rows(glyms_dsn).values()} == {"PROCESSED"}


def test_a_companies_sync_racing_the_reconciliation(glyms_dsn, portal, cli_env):
    old = [add_customer(glyms_dsn, codigo=f"O{n}", razon_social=f"Antigua {n}") for n in range(40)]
    sql(glyms_dsn, "DELETE FROM f_cliente.sync_log_bitrix24")  # customers that predate the triggers
    new = [add_customer(glyms_dsn, codigo=f"N{n}", razon_social=f"Nueva {n}") for n in range(40)]
    portal.add_fault(Fault(kind="slow", method="crm.company.add", nth=1, delay_seconds=3))
    _finish([_cli(cli_env, "reconcile", "companies"), _cli(cli_env, "sync", "--type", "companies")])
    _assert_companies_once(glyms_dsn, portal, old + new)
    assert {row[2] for row in log_rows(glyms_dsn).values()} == {"PROCESSED"}
    assert sql(glyms_dsn, "SELECT count(DISTINCT dagster_run_id) FROM f_cliente.sync_log_bitrix24")[0][0] == 1
