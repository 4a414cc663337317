"""`glyms-b24 explain service|customer`: one row, both sides, the next sync's plan; read-only, no portal lock."""

from __future__ import annotations

import json
from decimal import Decimal

import dagster as dg
import psycopg2

from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.defs.services.assets import services_assets
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.sandbox.glyms_seed import insert_services
from glyms_b24_pipeline.settings.resource import SyncSettings
from glyms_b24_pipeline.sync.lock import PortalLock
from glyms_b24_pipeline.sync.writer import PortalWriter
from glyms_b24_pipeline_tests.defs.companies.conftest import add_customer, sql

#: what explain may ask the portal: list and look-up methods only (never a batch, never a write)
READ_METHODS = {"catalog.product.service.list", "catalog.price.list", "crm.company.list", "crm.duplicate.findbycomm"}


def add_service(dsn, id_prestacion, codigo, descripcion, price, tipo_ot=1, activa=1):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        insert_services(cur, [(id_prestacion, 1, codigo, descripcion, None, activa, tipo_ot, "2024-01-01")])
        if price is not None:
            contract = {1: 14, 2: 259, 3: 371}[tipo_ot]
            cur.execute("INSERT INTO public.contrato_presta (id_contrato, codigo_presta, valor_unico, fecha_version) "
                        "VALUES (%s, %s, %s, '2024-01-01')", (contract, codigo, Decimal(price)))
    conn.close()


def sync_services(dsn, emulator):
    resources = {"glyms_db": GlymsDatabase(dsn=dsn), "bitrix24": Bitrix24Resource(webhook_url=emulator.add_webhook()),
                 "portal_writer": PortalWriter(dsn=dsn), "sync_settings": SyncSettings()}
    result = dg.materialize(services_assets, resources=resources, instance=dg.DagsterInstance.ephemeral(),
                            raise_on_error=False)
    assert result.success


def explain(glyms_cli, cli_env, emulator, dsn, *args, lang="en"):
    """Run explain while a sync holds the portal lock (explain must not need it); check it only read."""
    services, companies = emulator.services(), emulator.companies()
    emulator.reset_observability()
    with PortalLock(dsn, emulator.portal_url, "run-of-a-sync"):
        done = glyms_cli("--lang", lang, "explain", *args, env=cli_env, timeout=60)
    methods = {entry.method for entry in emulator.request_log if entry.server == "portal"}
    assert methods <= READ_METHODS, methods
    assert len(emulator.request_log) <= 5
    assert emulator.services() == services and emulator.companies() == companies
    return done


def as_json(done):
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_a_synced_service_is_unchanged_and_every_field_agrees(glyms_dsn, portal, cli_env, glyms_cli):
    add_service(glyms_dsn, 7, "GLU", "Glucemia", "130.00")
    sync_services(glyms_dsn, portal)
    report = as_json(explain(glyms_cli, cli_env, portal, glyms_dsn, "service", "7", "--format", "json"))
    assert report["key"] == "7" and len(report["bitrix24"]) == 1
    assert report["glyms"][0]["mapped"]["name"] == "Glucemia" and report["glyms"][0]["mapped"]["price"] == "130.00"
    assert report["differences"] and all(d["same"] for d in report["differences"])
    assert report["next"][0]["action"] == "unchanged"
    assert {row["entity"] for row in report["audit"]} >= {"service"}
    # by its codigo too, and as text for a person
    text = explain(glyms_cli, cli_env, portal, glyms_dsn, "service", "GLU")
    assert text.returncode == 0, text.stderr
    assert "service 7" in text.stdout and "none: every field agrees" in text.stdout
    assert "next services sync (services_sync): unchanged" in text.stdout


def test_a_service_that_differs_in_one_field_names_it_and_the_update(glyms_dsn, portal, cli_env, glyms_cli):
    add_service(glyms_dsn, 7, "GLU", "Glucemia", "130.00")
    sync_services(glyms_dsn, portal)
    sql(glyms_dsn, "UPDATE lims.v_prestacion_max_version SET descripcion = 'Glucemia en ayunas' WHERE id_prestacion = 7")
    report = as_json(explain(glyms_cli, cli_env, portal, glyms_dsn, "service", "7", "--format", "json"))
    differing = [d for d in report["differences"] if not d["same"]]
    assert differing == [{"field": "name", "glyms": "Glucemia en ayunas", "bitrix24": "Glucemia", "same": False}]
    assert report["next"][0]["action"] == "update" and report["next"][0]["fields"] == {"name": "Glucemia en ayunas"}


def test_a_service_with_legacy_duplicates_lists_them_and_is_not_written(glyms_dsn, portal, cli_env, glyms_cli):
    add_service(glyms_dsn, 2, "COL", "Coliformes", "55.50", tipo_ot=2)
    sync_services(glyms_dsn, portal)
    copy = portal.seed_service(xmlId="2", name="Coliformes", code="COL", active="Y")
    report = as_json(explain(glyms_cli, cli_env, portal, glyms_dsn, "service", "2", "--format", "json"))
    assert copy in [entity["id"] for entity in report["bitrix24"]] and len(report["bitrix24"]) == 2
    assert report["differences"] == []
    assert report["next"][0]["action"] == "duplicate" and "several Bitrix24 services" in report["next"][0]["reason"]
    text = explain(glyms_cli, cli_env, portal, glyms_dsn, "service", "2")
    assert "2 entities carry this key (duplicates)" in text.stdout and "glyms-b24 repair services" in text.stdout


def test_an_invalid_customer_shows_the_reason(glyms_dsn, portal, cli_env, glyms_cli):
    customer = add_customer(glyms_dsn, razon_social="   ")
    report = as_json(explain(glyms_cli, cli_env, portal, glyms_dsn, "customer", str(customer), "--format", "json"))
    assert report["glyms"][0]["reason"] == "razon_social (TITLE) is blank"
    # the trigger logged the INSERT: the change-log consumer and the reconciliation both leave it invalid
    assert [row["operation_type"] for row in report["change_log"]] == ["INSERT"]
    assert [(n["sync"], n["action"]) for n in report["next"]] == [("companies_sync", "invalid"),
                                                                   ("companies_reconcile", "invalid")]
    text = explain(glyms_cli, cli_env, portal, glyms_dsn, "customer", str(customer))
    assert "cannot be synced: razon_social (TITLE) is blank" in text.stdout
    assert "the customer cannot be synced" in text.stdout


def test_a_deleted_customer_gets_the_deletion_note_next(glyms_dsn, portal, cli_env, glyms_cli):
    customer = add_customer(glyms_dsn)
    company = portal.seed_company(TITLE="Laboratorio Sur S.A.", ORIGIN_ID=str(customer))
    sql(glyms_dsn, "UPDATE f_cliente.sync_log_bitrix24 SET sync_status = 'PROCESSED'")
    sql(glyms_dsn, "DELETE FROM public.cliente WHERE id_cliente = %s", [customer])
    report = as_json(explain(glyms_cli, cli_env, portal, glyms_dsn, "customer", str(customer), "--format", "json"))
    assert report["glyms"] == [] and [c["ID"] for c in report["bitrix24"]] == [str(company)]
    assert [row["operation_type"] for row in report["change_log"]] == ["DELETE", "INSERT"]
    assert [(n["sync"], n["action"]) for n in report["next"]] == [("companies_sync", "note"), ("companies_reconcile", "note")]
    assert "[SISTEMA] Empresa eliminada" in report["next"][0]["fields"]["COMMENTS"]
    text = explain(glyms_cli, cli_env, portal, glyms_dsn, "customer", str(customer))
    assert "none: the customer does not exist (deleted)" in text.stdout


def test_a_customer_whose_company_differs_in_the_title(glyms_dsn, portal, cli_env, glyms_cli):
    customer = add_customer(glyms_dsn)
    portal.seed_company(TITLE="Lab Sur (viejo)", ORIGIN_ID=str(customer),
                        EMAIL=[{"VALUE": "info@labsur.com.ar", "VALUE_TYPE": "WORK"},
                               {"VALUE": "info@labsur.com.ar", "VALUE_TYPE": "WORK"}])
    sql(glyms_dsn, "UPDATE f_cliente.sync_log_bitrix24 SET sync_status = 'PROCESSED'")
    report = as_json(explain(glyms_cli, cli_env, portal, glyms_dsn, "customer", str(customer), "--format", "json"))
    differing = {d["field"] for d in report["differences"] if not d["same"]}
    assert {"TITLE", "EMAIL"} <= differing  # the legacy's multiplied e-mail counts as a difference
    # nothing waits in the change log: only the reconciliation would write it
    assert [(n["sync"], n["action"]) for n in report["next"]] == [("companies_reconcile", "update")]


def test_a_portal_that_cannot_be_asked_is_one_line(glyms_dsn, portal, cli_env, glyms_cli):
    customer = add_customer(glyms_dsn)
    env = {**cli_env, "B24_WEBHOOK_URL": portal.portal_url + "/rest/1/wrongcode/"}
    done = glyms_cli("--lang", "en", "explain", "customer", str(customer), env=env, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1 and done.stderr.startswith("error: ")
    assert "wrongcode" not in done.stderr
    unknown = glyms_cli("--lang", "en", "explain", "customer", "uno", env=cli_env)
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: ") and len(unknown.stderr.splitlines()) == 1


def test_the_run_summary_suggests_explain_for_a_row_not_synced():
    from glyms_b24_pipeline.cli.sync import SyncRunSummary
    from glyms_b24_pipeline.definitions import syncs_named

    summary = SyncRunSummary(run_id="r1", success=True, syncs=list(syncs_named(["services"])), pushes={"services": {
        "not_synced": 1, "first_not_synced": "2: xmlId 2 is on several Bitrix24 services (1000, 1001)",
        "explain_not_synced": "glyms-b24 explain service 2"}})
    assert "  why one row is so: glyms-b24 explain service 2" in summary.lines()
