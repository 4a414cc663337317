"""The reconciliation: every customer against every company, the initial load and drift repair."""

import os
import subprocess
import sys

import requests

from .conftest import add_customer, by_origin, checks, make_resources, metadata, reconcile, sql


def hand_edit(portal, method, **params):
    """What a person does in the Bitrix24 UI, through the portal's own API."""
    answer = requests.post(portal.add_webhook(user_id=1) + method, json=params, timeout=10).json()
    assert "result" in answer, answer


def test_reconciliation_loads_customers_that_predate_the_triggers(glyms_dsn, resources, portal):
    ids = [add_customer(glyms_dsn, codigo=f"R{n}", razon_social=f"Empresa {n}") for n in range(12)]
    sql(glyms_dsn, "DELETE FROM f_cliente.sync_log_bitrix24")  # they existed before the triggers
    result = reconcile(resources)
    assert result.success
    companies = by_origin(portal)
    assert sorted(companies) == sorted(map(str, ids)) and {len(v) for v in companies.values()} == {1}
    portal.reset_observability()
    again = reconcile(resources)
    assert metadata(again, "sync", "companies_reconcile_plan")["writes"] == 0
    # an up-to-date portal costs the listing of the managed companies and the mapping check
    assert len([e for e in portal.request_log if e.server == "portal"]) == 2


def test_reconciliation_repairs_hand_edits_and_reports_a_hand_made_duplicate(glyms_dsn, resources, portal):
    edited = add_customer(glyms_dsn, codigo="E1", razon_social="Laboratorio Sur S.A.")
    missing = add_customer(glyms_dsn, codigo="M1", razon_social="Clínica Norte", mail="norte@clinica.com.ar",
                           telefono="0351 4111111")
    assert reconcile(resources).success
    # someone edits a title by hand and deletes another company
    hand_edit(portal, "crm.company.update", id=by_origin(portal)[str(edited)][0]["ID"],
              fields={"TITLE": "Lab Sur (editado a mano)"})
    hand_edit(portal, "crm.company.delete", id=by_origin(portal)[str(missing)][0]["ID"])
    hand_made = portal.seed_company(TITLE="Clínica Norte (cargada a mano)",
                                    EMAIL=[{"VALUE": "norte@clinica.com.ar", "VALUE_TYPE": "WORK"}])
    absent = add_customer(glyms_dsn, codigo="N1", razon_social="Veterinaria Oeste")
    result = reconcile(resources)
    plan = metadata(result, "sync", "companies_reconcile_plan")
    assert (plan["update"], plan["create"], plan["link_candidate"]) == (1, 1, 1)
    companies = by_origin(portal)
    assert companies[str(edited)][0]["TITLE"] == "Laboratorio Sur S.A."
    assert len(companies[str(absent)]) == 1
    assert str(missing) not in companies  # not duplicated: reported as a link candidate
    assert [c["TITLE"] for c in portal.companies() if c["ID"] == str(hand_made)] == ["Clínica Norte (cargada a mano)"]
    audit = sql(glyms_dsn, "SELECT glyms_key, error FROM glyms_b24.sync_audit WHERE operation = 'link_candidate'")
    assert audit == [(str(missing), f"company {hand_made}, typed by hand without ORIGIN_ID, has the same email: not "
                                    "duplicated; set companies.link_existing: email to link it")]


def test_link_existing_links_the_hand_made_company_instead(glyms_dsn, portal, tmp_path):
    settings = tmp_path / "glyms_b24.yaml"
    settings.write_text("companies:\n  link_existing: phone\n")
    resources = make_resources(glyms_dsn, portal, settings)
    customer = add_customer(glyms_dsn, razon_social="Clínica Norte", mail=None, telefono="0351 4111111")
    hand_made = portal.seed_company(TITLE="Clinica norte", PHONE=[{"VALUE": "+54 351 411-1111", "VALUE_TYPE": "WORK"}])
    assert metadata(reconcile(resources), "sync", "companies_reconcile_plan")["link"] == 1
    companies = by_origin(portal)
    assert [(c["ID"], c["TITLE"]) for c in companies[str(customer)]] == [(str(hand_made), "Clínica Norte")]
    assert [e["VALUE"] for e in companies[str(customer)][0]["PHONE"]] == ["+54 351 411-1111"]  # left as typed
    assert len(portal.companies()) == 1


def test_a_company_whose_customer_is_gone_gets_the_note_and_the_guard_stops_a_wholesale_one(
        glyms_dsn, resources, portal):
    ids = [add_customer(glyms_dsn, codigo=f"G{n}", razon_social=f"Empresa {n}") for n in range(4)]
    assert reconcile(resources).success
    sql(glyms_dsn, "DELETE FROM public.cliente WHERE id_cliente = %s", (ids[0],))
    assert metadata(reconcile(resources), "sync", "companies_reconcile_plan")["note"] == 1
    assert "[SISTEMA]" in by_origin(portal)[str(ids[0])][0]["COMMENTS"]
    sql(glyms_dsn, "DELETE FROM public.cliente")  # the wrong database, or a broken query
    stopped = reconcile(resources)
    assert not stopped.success
    failure = [e for e in stopped.all_events if e.is_step_failure][0].event_specific_data.user_failure_data
    assert "would be marked as deleted in Glyms" in failure.description
    assert sum("[SISTEMA]" in (c["COMMENTS"] or "") for c in portal.companies()) == 1
    assert reconcile(resources, allow_mass_deletion=True).success
    assert sum("[SISTEMA]" in (c["COMMENTS"] or "") for c in portal.companies()) == 4


def test_shared_origin_ids_are_flagged_by_the_directory_check(glyms_dsn, resources, portal):
    customer = add_customer(glyms_dsn)
    portal.seed_company(TITLE="Copia 1", ORIGIN_ID=str(customer))
    portal.seed_company(TITLE="Copia 2", ORIGIN_ID=str(customer))
    result = reconcile(resources)
    assert not checks(result)["bitrix24/company_directory:unique_origin_ids"].passed
    assert metadata(result, "sync", "companies_reconcile_plan")["duplicate"] == 1


def test_cli_sync_and_reconcile_companies_print_their_summaries(glyms_dsn, portal, cli_env):
    add_customer(glyms_dsn)
    add_customer(glyms_dsn, codigo="C2", razon_social="   ")
    command = [sys.executable, "-m", "glyms_b24_pipeline.cli", "--lang", "en"]  # the summary in English
    dry = subprocess.run([*command, "reconcile", "companies", "--dry-run"], env=cli_env, capture_output=True,
                         text=True, timeout=120)
    assert "reconcile plan: 0 log rows, 1 to create" in dry.stdout and "1 invalid" in dry.stdout, dry.stdout + dry.stderr
    assert "reconcile dry run: nothing written (1 writes planned)" in dry.stdout and portal.companies() == []
    done = subprocess.run([*command, "sync", "--type", "companies"], env=cli_env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr  # one customer cannot become a company
    assert "companies plan: 2 log rows, 1 to create" in done.stdout and "1 invalid" in done.stdout
    assert "companies push: 1 companies written, 0 failed" in done.stdout
    assert "DONE WITH PROBLEMS" in done.stdout and os.path.isdir(cli_env["DAGSTER_HOME"])


def test_link_candidates_read_the_companies_the_portal_names_one_request_at_a_time(portal, monkeypatch):
    """The portal's matching may name tens of thousands of managed companies (a shared phone): their
    answers are read one request at a time, and an e-mail in the last request still wins over a phone."""
    from glyms_b24_pipeline.bitrix24.auth import WebhookAuth
    from glyms_b24_pipeline.bitrix24.client import BATCH_LIMIT, Bitrix24Client
    from glyms_b24_pipeline.defs.companies import bitrix
    from glyms_b24_pipeline.defs.companies.plan import LinkCandidate
    from glyms_b24_pipeline.settings.limits import ClientLimits
    from glyms_b24_pipeline.settings.model import CompaniesSettings

    monkeypatch.setattr(bitrix, "LOOKUP_CHUNK", 2)  # 100 companies a request, not 2,500: three requests here
    named = 3 * BATCH_LIMIT * 2
    first_by_phone = portal.seed_company(TITLE="A mano 1", PHONE=[{"VALUE": "+54 351 411-1111", "VALUE_TYPE": "WORK"}])
    second_by_phone = portal.seed_company(TITLE="A mano 2", PHONE=[{"VALUE": "+54 351 422-2222", "VALUE_TYPE": "WORK"}])
    for n in range(named - 3):  # managed companies that share the first customer's phone
        portal.seed_company(TITLE=f"Gestionada {n}", ORIGIN_ID=str(100_000 + n),
                            PHONE=[{"VALUE": "+54 351 411-1111", "VALUE_TYPE": "WORK"}])
    by_mail = portal.seed_company(TITLE="A mano 3", EMAIL=[{"VALUE": "A@Lab.ar", "VALUE_TYPE": "WORK"}],
                                  PHONE=[{"VALUE": "+54 351 411-1111", "VALUE_TYPE": "WORK"}])

    class RecordedClient:
        """The real client over HTTP; it notes how many list commands each batch call carries."""

        def __init__(self, client):
            self.client, self.list_batches = client, []

        def batch(self, commands):
            if commands[0].method == "crm.company.list":
                self.list_batches.append(len(commands))
            return self.client.batch(commands)

    client = RecordedClient(Bitrix24Client(WebhookAuth(portal.add_webhook(user_id=1)), ClientLimits.permissive()))
    customers = [{"id_cliente": 1, "mail": "a@lab.ar", "telefono": "0351 4111111"},
                 {"id_cliente": 2, "mail": None, "telefono": "0351 4222222"}]
    assert bitrix.find_link_candidates(client, customers, CompaniesSettings()) == {
        "1": LinkCandidate(by_mail, "email"), "2": LinkCandidate(second_by_phone, "phone")}
    assert first_by_phone < by_mail and client.list_batches == [BATCH_LIMIT] * 3
