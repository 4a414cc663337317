"""The change-log consumer end to end: real PostgreSQL with the Glyms triggers, the emulator over HTTP."""

import threading

import dagster as dg

from bitrix24_emulator import Fault
from glyms_b24_pipeline.settings.limits import ClientLimits

from .conftest import (
    add_customer,
    by_origin,
    checks,
    consume,
    log_rows,
    make_resources,
    metadata,
    sql,
    update_customer,
)


def statuses(dsn):
    return {log_id: row[2] for log_id, row in log_rows(dsn).items()}


def config(tmp_path, text):
    path = tmp_path / "glyms_b24.yaml"
    path.write_text(text)
    return path


def test_insert_update_delete_sequences_end_in_the_right_companies(glyms_dsn, resources, portal):
    a = add_customer(glyms_dsn, codigo="A")
    b = add_customer(glyms_dsn, codigo="B", razon_social="Clínica Norte", mail="norte@clinica.com.ar")
    c = add_customer(glyms_dsn, codigo="C", razon_social="Frigorífico Este")
    update_customer(glyms_dsn, a, direccion="Mitre 1")
    first = consume(resources)
    assert first.success
    companies = by_origin(portal)
    assert sorted(companies) == [str(a), str(b), str(c)] and all(len(v) == 1 for v in companies.values())
    assert companies[str(a)][0]["ADDRESS"] == "Mitre 1" and companies[str(b)][0]["TITLE"] == "Clínica Norte"
    assert set(statuses(glyms_dsn).values()) == {"PROCESSED"}

    update_customer(glyms_dsn, b, direccion="Belgrano 900", mail="ventas@clinica.com.ar")
    sql(glyms_dsn, "DELETE FROM public.cliente WHERE id_cliente = %s", (c,))
    d = add_customer(glyms_dsn, codigo="D", razon_social="Veterinaria Oeste")
    update_customer(glyms_dsn, d, razon_social="Veterinaria Oeste S.R.L.")
    second = consume(resources)
    plan = metadata(second, "sync", "companies_plan")
    assert (plan["create"], plan["update"], plan["note"], plan["log_rows"]) == (1, 1, 1, 4)
    companies = by_origin(portal)
    assert companies[str(b)][0]["ADDRESS"] == "Belgrano 900"
    assert [e["VALUE"] for e in companies[str(b)][0]["EMAIL"]] == ["ventas@clinica.com.ar"]
    assert companies[str(c)][0]["COMMENTS"].startswith("[SISTEMA] Empresa eliminada o inactiva en Glyms el ")
    assert [x["TITLE"] for x in companies[str(d)]] == ["Veterinaria Oeste S.R.L."]  # INSERT + UPDATE = one create
    rows = log_rows(glyms_dsn)
    assert {row[2] for row in rows.values()} == {"PROCESSED"}
    assert all(row[5] == int(companies[str(row[0])][0]["ID"]) for row in rows.values())
    assert metadata(consume(resources), "sync", "companies_plan")["log_rows"] == 0


def test_ten_updates_of_one_customer_cost_one_write(glyms_dsn, resources, portal):
    customer = add_customer(glyms_dsn)
    assert consume(resources).success
    for n in range(10):
        update_customer(glyms_dsn, customer, observaciones=f"nota {n}")
    portal.reset_observability()
    result = consume(resources)
    plan = metadata(result, "sync", "companies_plan")
    assert (plan["log_rows"], plan["writes"]) == (10, 1)
    calls = [e for e in portal.request_log if e.server == "portal"]
    assert [e.batch_commands for e in calls] == [1, 2, 1]  # the look-up, the mapping check, the one write
    assert by_origin(portal)[str(customer)][0]["COMMENTS"] == "nota 9"
    assert list(statuses(glyms_dsn).values()).count("PROCESSED") == 11


def test_a_lost_answer_and_a_rerun_leave_exactly_one_company(glyms_dsn, resources, portal):
    ids = [add_customer(glyms_dsn, codigo=f"L{n}", razon_social=f"Empresa {n}") for n in range(5)]
    portal.add_fault(Fault(kind="lost_response", method="crm.company.add", nth=1))
    result = consume(resources)
    assert metadata(result, "bitrix24", "companies_push")["failed"] == 0  # settled by reading back
    assert set(statuses(glyms_dsn).values()) == {"PROCESSED"}
    for customer in ids:
        update_customer(glyms_dsn, customer, direccion="Nueva 1")
    assert consume(resources).success
    companies = by_origin(portal)
    assert sorted(companies) == sorted(map(str, ids)) and {len(v) for v in companies.values()} == {1}


def test_5xx_and_timeouts_are_retried_on_a_later_run_and_succeed(glyms_dsn, portal, tmp_path):
    settings = config(tmp_path, "companies:\n  retry_backoff_seconds: 0\n")
    resources = make_resources(glyms_dsn, portal, settings, webhook_url=portal.add_webhook(user_id=1),
                               limits=ClientLimits.permissive(read_timeout_seconds=1.5))
    first = add_customer(glyms_dsn, codigo="R1")
    assert consume(resources).success
    update_customer(glyms_dsn, first, direccion="Otra 2")
    second = add_customer(glyms_dsn, codigo="R2", razon_social="Segunda")
    portal.add_fault(Fault(kind="http_500", method="crm.company.add", nth=1))
    portal.add_fault(Fault(kind="timeout", method="crm.company.update", nth=1, delay_seconds=3))
    failing = consume(resources)
    assert failing.success and metadata(failing, "bitrix24", "companies_push")["failed"] == 2
    rows = log_rows(glyms_dsn)
    retried = [row for row in rows.values() if row[2] == "PENDING"]
    assert len(retried) == 2 and {row[3] for row in retried} == {1} and all(row[4] for row in retried)
    assert not checks(failing)["bitrix24/companies_push:push_failures"].passed
    healed = consume(resources)
    assert metadata(healed, "bitrix24", "companies_push")["failed"] == 0
    assert set(statuses(glyms_dsn).values()) == {"PROCESSED"}
    companies = by_origin(portal)
    assert companies[str(first)][0]["ADDRESS"] == "Otra 2" and len(companies[str(second)]) == 1


def test_a_row_failing_max_attempts_times_is_parked_until_requeued(glyms_dsn, portal, tmp_path, monkeypatch):
    from glyms_b24_pipeline.cli import main

    settings = config(tmp_path, "companies:\n  retry_backoff_seconds: 0\n  max_attempts: 2\n")
    resources = make_resources(glyms_dsn, portal, settings)
    customer = add_customer(glyms_dsn)
    fault = portal.add_fault(Fault(kind="http_502", method="crm.company.add", count=10))
    consume(resources)
    assert [row[2:4] for row in log_rows(glyms_dsn).values()] == [("PENDING", 1)]
    consume(resources)
    (status, attempts, error) = next(iter(log_rows(glyms_dsn).values()))[2:5]
    assert (status, attempts) == ("ERROR", 2)
    assert error.startswith("parked after 2 attempts") and "glyms-b24 requeue" in error
    assert not checks(consume(resources))["glyms/pending_customer_changes:rows_in_error"].passed

    portal.remove_fault(fault)
    monkeypatch.setenv("GLYMS_PG_DSN", glyms_dsn)
    assert main(["--config", str(settings), "requeue", "--customer", str(customer)]) == 0
    assert [row[2:4] for row in log_rows(glyms_dsn).values()] == [("PENDING", 0)]
    assert consume(resources).success
    assert [row[2] for row in log_rows(glyms_dsn).values()] == ["PROCESSED"] and len(portal.companies()) == 1


def test_an_invalid_email_is_left_out_with_a_warning_and_the_rest_is_synced(glyms_dsn, resources, portal):
    customer = add_customer(glyms_dsn, mail="ventas@@lab.com", telefono="int. 23")
    result = consume(resources)
    company = by_origin(portal)[str(customer)][0]
    assert company["TITLE"] == "Laboratorio Sur S.A." and "EMAIL" not in company
    assert company["PHONE"][0]["VALUE"] == "int. 23"  # unparseable: sent as typed, with a warning
    evaluation = checks(result)["glyms/pending_customer_changes:email_validity"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert set(statuses(glyms_dsn).values()) == {"PROCESSED"}


def test_repeated_updates_leave_exactly_one_work_email_and_phone(glyms_dsn, resources, portal):
    customer = add_customer(glyms_dsn)
    # the legacy script appended a copy of the e-mail on every update
    portal.seed_company(TITLE="Laboratorio Sur S.A.", ORIGIN_ID=str(customer), EMAIL=[
        {"VALUE": "info@labsur.com.ar", "VALUE_TYPE": "WORK"}] * 3 + [{"VALUE": "casa@labsur.com.ar", "VALUE_TYPE": "HOME"}])
    for mail, phone in [("a@labsur.com.ar", "0341 4111111"), ("b@labsur.com.ar", "0341 4222222"),
                        ("b@labsur.com.ar", "0341 4333333")]:
        update_customer(glyms_dsn, customer, mail=mail, telefono=phone)
        assert consume(resources).success
    company = by_origin(portal)[str(customer)][0]
    assert [(e["VALUE_TYPE"], e["VALUE"]) for e in company["EMAIL"]] == [("WORK", "b@labsur.com.ar"),
                                                                        ("HOME", "casa@labsur.com.ar")]
    assert [(e["VALUE_TYPE"], e["VALUE"]) for e in company["PHONE"]] == [("WORK", "+543414333333")]


def test_the_deletion_note_is_appended_once(glyms_dsn, resources, portal):
    customer = add_customer(glyms_dsn, observaciones="Pago a 30 días.")
    consume(resources)
    sql(glyms_dsn, "DELETE FROM public.cliente WHERE id_cliente = %s", (customer,))
    consume(resources)
    sql(glyms_dsn, "INSERT INTO f_cliente.sync_log_bitrix24 (id_cliente, operation_type) VALUES (%s, 'DELETE')",
        (customer,))
    again = consume(resources)
    assert metadata(again, "sync", "companies_plan")["unchanged"] == 1
    comments = by_origin(portal)[str(customer)][0]["COMMENTS"]
    assert comments.startswith("Pago a 30 días.\n[SISTEMA] Empresa eliminada o inactiva en Glyms el ")
    assert comments.count("[SISTEMA]") == 1


def test_companies_sharing_an_origin_id_are_reported_and_left_alone(glyms_dsn, resources, portal):
    customer = add_customer(glyms_dsn)
    first = portal.seed_company(TITLE="Copia 1", ORIGIN_ID=str(customer))
    second = portal.seed_company(TITLE="Copia 2", ORIGIN_ID=str(customer))
    consume(resources)
    (status, _, error) = next(iter(log_rows(glyms_dsn).values()))[2:5]
    assert status == "ERROR" and f"({first}, {second})" in error
    assert sorted(c["TITLE"] for c in portal.companies()) == ["Copia 1", "Copia 2"]


def test_legacy_policies_target_missing_and_delete(glyms_dsn, portal, tmp_path):
    settings = config(tmp_path, "companies:\n  missing_on_update: target_missing\n  on_delete: delete\n")
    resources = make_resources(glyms_dsn, portal, settings)
    customer = add_customer(glyms_dsn)
    sql(glyms_dsn, "DELETE FROM f_cliente.sync_log_bitrix24")  # as if it predated the triggers
    update_customer(glyms_dsn, customer, direccion="Mitre 2")
    consume(resources)
    assert [row[2] for row in log_rows(glyms_dsn).values()] == ["TARGET_MISSING"] and portal.companies() == []
    portal.seed_company(TITLE="Laboratorio Sur S.A.", ORIGIN_ID=str(customer))
    sql(glyms_dsn, "DELETE FROM public.cliente WHERE id_cliente = %s", (customer,))
    consume(resources)
    assert portal.companies() == []
    assert list(statuses(glyms_dsn).values())[-1] == "PROCESSED"


def test_a_dry_run_writes_nothing_and_leaves_every_row_pending(glyms_dsn, resources, portal):
    add_customer(glyms_dsn)
    add_customer(glyms_dsn, codigo="X", razon_social="Otra")
    result = consume(resources, dry_run=True)
    push = metadata(result, "bitrix24", "companies_push")
    assert push["dry_run"] is True and push["planned_writes"] == 2
    assert portal.companies() == [] and set(statuses(glyms_dsn).values()) == {"PENDING"}


def test_placeholder_text_in_customer_data_is_stored_exactly(glyms_dsn, resources, portal):
    texts = {"Laboratorio $result[c1]": "nota $next[o0][0][ID]", "Clínica $error[c2]": "y $total[x] $time[y]"}
    ids = [add_customer(glyms_dsn, codigo=f"P{n}", razon_social=f"Empresa {n}") for n in range(60)]
    special = [add_customer(glyms_dsn, codigo=f"S{n}", razon_social=title, observaciones=note)
               for n, (title, note) in enumerate(texts.items())]
    result = consume(resources)
    assert metadata(result, "bitrix24", "companies_push")["failed"] == 0
    companies = by_origin(portal)
    assert {(companies[str(s)][0]["TITLE"], companies[str(s)][0]["COMMENTS"]) for s in special} == set(texts.items())
    assert len(companies) == len(ids) + len(special)
    for s in special:
        update_customer(glyms_dsn, s, direccion="Calle 1")
    assert metadata(consume(resources), "sync", "companies_plan")["update"] == 2


def test_rows_that_arrive_during_a_run_stay_pending_for_the_next(glyms_dsn, resources, portal):
    add_customer(glyms_dsn)
    portal.add_fault(Fault(kind="slow", method="crm.company.add", nth=1, delay_seconds=2))
    late = []
    timer = threading.Timer(1.0, lambda: late.append(add_customer(glyms_dsn, codigo="LATE", razon_social="Tardía")))
    timer.start()
    consume(resources)
    timer.join()
    rows = log_rows(glyms_dsn)
    assert [row[2] for row in rows.values() if row[0] == late[0]] == ["PENDING"]
    assert [row[2] for row in rows.values() if row[0] != late[0]] == ["PROCESSED"]
    consume(resources)
    assert set(statuses(glyms_dsn).values()) == {"PROCESSED"}


def test_each_log_row_settles_with_its_audit_row(glyms_dsn, resources, portal):
    customers = [add_customer(glyms_dsn, codigo=f"A{n}", razon_social=f"Empresa {n}") for n in range(3)]
    bad = add_customer(glyms_dsn, codigo="BAD", razon_social=" ")
    consume(resources)
    audit = sql(glyms_dsn, "SELECT glyms_key, operation, outcome, detail -> 'log_ids' FROM glyms_b24.sync_audit "
                           "WHERE entity = 'company' ORDER BY audit_id")
    written = {(row[0], row[1], row[2]) for row in audit if row[2] != "skipped"}
    assert written == {(str(c), "create", "success") for c in customers}
    assert [(row[0], row[1], row[2]) for row in audit if row[2] == "skipped"] == [(str(bad), "invalid", "skipped")]
    rows = log_rows(glyms_dsn)
    for glyms_key, _, _, log_ids in audit:
        for log_id in log_ids or []:
            assert rows[log_id][2] == "PROCESSED" and str(rows[log_id][0]) == glyms_key
    update_customer(glyms_dsn, bad, direccion="Calle 2")  # still blank: the same reason is not audited twice
    consume(resources)
    assert sql(glyms_dsn, "SELECT count(*) FROM glyms_b24.sync_audit WHERE outcome = 'skipped'")[0][0] == 1
    assert [row[2] for row in log_rows(glyms_dsn).values() if row[0] == bad] == ["ERROR", "ERROR"]


def test_a_permanently_invalid_customer_is_counted_in_every_run_until_fixed(glyms_dsn, resources, portal):
    bad = add_customer(glyms_dsn, razon_social="   ")  # a data error: ERROR at its first attempt
    first = consume(resources)
    assert first.success and [row[2:4] for row in log_rows(glyms_dsn).values()] == [("ERROR", 1)]
    add_customer(glyms_dsn)  # other work goes on meanwhile
    for _ in range(2):  # every later run counts it, lists it with its reason, and warns
        result = consume(resources)
        evaluation = checks(result)["glyms/pending_customer_changes:rows_in_error"]
        assert not evaluation.passed and evaluation.metadata["rows_in_error"].value == 1
        (row,) = evaluation.metadata["rows_in_error_rows"].value.records
        assert row.data["id_cliente"] == bad and "razon_social" in row.data["error"]
        assert metadata(result, "bitrix24", "companies_push")["rows_in_error"] == 1
    update_customer(glyms_dsn, bad, razon_social="Laboratorio Arreglado")  # fixed in Glyms: its change syncs it
    consume(resources)
    fixed = consume(resources)
    assert checks(fixed)["glyms/pending_customer_changes:rows_in_error"].passed
    assert metadata(fixed, "bitrix24", "companies_push")["rows_in_error"] == 0
    assert by_origin(portal)[str(bad)][0]["TITLE"] == "Laboratorio Arreglado"
