"""The companies planner and mapping as pure functions: data in, plan out."""

import datetime as dt

import pytest

from glyms_b24_pipeline.defs.companies.changelog import RowDecision, decisions_for, group_claim, retry_delay
from glyms_b24_pipeline.defs.companies.mapping import (
    desired_company,
    normalise_email,
    normalise_phone,
    with_deletion_note,
)
from glyms_b24_pipeline.defs.companies.plan import (
    CompanyAction,
    CustomerChanges,
    LinkCandidate,
    LogRow,
    company_sync_plan,
    multifield_ops,
)
from glyms_b24_pipeline.settings.model import CompaniesSettings
from glyms_b24_pipeline.sync.push import (
    BLOCKED,
    FAILED,
    PERMANENT,
    SUCCESS,
    TRANSIENT,
    ChangeOutcome,
    CommandStep,
    WriteCommand,
)

TODAY = dt.date(2026, 11, 28)
SETTINGS = CompaniesSettings()
CUSTOMER = {"id_cliente": 21, "codigo": "C00021", "razon_social": " Laboratorio Sur S.A. ", "nombre_fantasia": "Lab Sur",
            "direccion": "San Martín 123", "telefono": "0341 456-7890", "mail": "Info@LabSur.com.ar",
            "observaciones": "Cliente BLOQUEADO por deuda", "id_tipo_ot": 1, "id_cliente_tipo": 7}


def row(log_id, operation="UPDATE", attempts=0):
    return LogRow(log_id, operation, dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc), attempts)


def test_a_customer_maps_to_the_legacy_fields():
    want, reason, warnings = desired_company(CUSTOMER, SETTINGS)
    assert reason == "" and warnings == ()
    assert want.fields == {
        "TITLE": "Laboratorio Sur S.A.", "ADDRESS": "San Martín 123", "COMMENTS": "Cliente BLOQUEADO por deuda",
        "ORIGIN_ID": "21", "UF_CRM_1748636158002": "C00021", "UF_CRM_1748637070": "Lab Sur",
        "UF_CRM_1748888310536": "1", "COMPANY_TYPE": "UC_HMSG7D", "INDUSTRY": "UC_FV5RTZ"}
    assert (want.email, want.phone) == ("info@labsur.com.ar", "+543414567890")


@pytest.mark.parametrize("mail, sent, warned", [
    ("contacto@lab.com.ar", "contacto@lab.com.ar", False),
    ("  ", None, False),
    (None, None, False),
    ("sin mail", None, True),
    ("ventas@@lab.com", None, True),
    ("juan perez@gmail.com", None, True),
    ("contacto@empresa", None, True),
    ("info@münchen.de", "info@xn--mnchen-3ya.de", False),  # IDN travels in its ASCII form
    ("admin@empresa.com.ar; compras@empresa.com.ar", "admin@empresa.com.ar", True),
])
def test_emails_are_validated_and_an_invalid_one_is_left_out_with_a_warning(mail, sent, warned):
    address, warning = normalise_email(mail)
    assert address == sent and bool(warning) == warned


@pytest.mark.parametrize("phone, sent, warned", [
    ("+54 341 4567890", "+543414567890", False),
    ("0351-4567890", "+543514567890", False),
    ("(011) 4567-8901", "+541145678901", False),
    ("011 15 4567-8901", "+5491145678901", False),
    ("4567890", "4567890", True),  # no area code: sent as typed
    ("int. 23", "int. 23", True),
    ("", None, False),
])
def test_phones_become_e164_or_travel_as_typed_with_a_warning(phone, sent, warned):
    number, warning = normalise_phone(phone, "AR")
    assert number == sent and bool(warning) == warned


def test_blank_title_is_invalid_and_unmapped_types_are_warnings():
    assert desired_company({**CUSTOMER, "razon_social": " \t"}, SETTINGS)[1] == "razon_social (TITLE) is blank"
    want, _, warnings = desired_company({**CUSTOMER, "id_tipo_ot": 8, "id_cliente_tipo": 99}, SETTINGS)
    assert "COMPANY_TYPE" not in want.fields and "INDUSTRY" not in want.fields
    assert len(warnings) == 2 and all("mapping" in w for w in warnings)
    long_title, _, warned = desired_company({**CUSTOMER, "razon_social": "x" * 300}, SETTINGS)
    assert len(long_title.fields["TITLE"]) == 255 and warned


def test_control_characters_never_reach_bitrix24():
    want, _, _ = desired_company({**CUSTOMER, "razon_social": "Lab\x00 Sur\x1b", "direccion": "a\tb"}, SETTINGS)
    assert want.fields["TITLE"] == "Lab Sur" and want.fields["ADDRESS"] == "a\tb"


def test_the_deletion_note_is_appended_once():
    once = with_deletion_note("Cliente de larga data.", TODAY)
    assert once == "Cliente de larga data.\n[SISTEMA] Empresa eliminada o inactiva en Glyms el 2026-11-28."
    assert with_deletion_note(once, TODAY + dt.timedelta(days=3)) == once
    assert with_deletion_note(None, TODAY) == "[SISTEMA] Empresa eliminada o inactiva en Glyms el 2026-11-28."


def test_multifields_are_changed_in_place_and_copies_removed():
    company = {"EMAIL": [{"ID": "1", "VALUE": "old@a.com", "VALUE_TYPE": "WORK"},
                         {"ID": "2", "VALUE": "old@a.com", "VALUE_TYPE": "WORK"},
                         {"ID": "3", "VALUE": "casa@a.com", "VALUE_TYPE": "HOME"}]}
    assert multifield_ops(company, "EMAIL", "new@a.com") == [
        {"ID": "1", "VALUE": "new@a.com", "VALUE_TYPE": "WORK"}, {"ID": "2", "DELETE": "Y"}]
    assert multifield_ops({"EMAIL": company["EMAIL"][:1]}, "EMAIL", "old@a.com") == []
    assert multifield_ops({}, "EMAIL", "new@a.com") == [{"VALUE": "new@a.com", "VALUE_TYPE": "WORK"}]
    assert multifield_ops(company, "EMAIL", None) == []  # an invalid or blank mail never erases one


def _company(**fields):
    want, _, _ = desired_company(CUSTOMER, SETTINGS)
    return {"ID": "100", **want.fields, "EMAIL": [{"ID": "7", "VALUE": want.email, "VALUE_TYPE": "WORK"}],
            "PHONE": [{"ID": "8", "VALUE": want.phone, "VALUE_TYPE": "WORK"}], **fields}


def _plan(groups, companies=(), settings=SETTINGS, **kwargs):
    return company_sync_plan(groups, companies, settings, today=TODAY, **kwargs)


def test_each_customer_gets_one_change_and_only_differences_are_sent():
    group = CustomerChanges("21", CUSTOMER, tuple(row(i) for i in range(1, 11)))
    assert [c.action for c in _plan([group], [_company()]).changes] == [CompanyAction.UNCHANGED]
    changed = _plan([group], [_company(ADDRESS="Calle vieja 1")]).changes[0]
    assert changed.action == CompanyAction.UPDATE and dict(changed.fields) == {"ADDRESS": "San Martín 123"}
    assert len(changed.log_rows) == 10  # ten changes, one write


def test_create_update_and_missing_target_follow_the_policy():
    inserted = CustomerChanges("21", CUSTOMER, (row(1, "INSERT"), row(2, "UPDATE")))
    updated = CustomerChanges("21", CUSTOMER, (row(3, "UPDATE"),))
    create = _plan([inserted]).changes[0]
    assert create.action == CompanyAction.CREATE and create.fields["EMAIL"] == [{"VALUE": "info@labsur.com.ar",
                                                                               "VALUE_TYPE": "WORK"}]
    assert _plan([updated]).changes[0].action == CompanyAction.CREATE
    legacy = CompaniesSettings(missing_on_update="target_missing")
    assert _plan([updated], settings=legacy).changes[0].action == CompanyAction.TARGET_MISSING
    assert _plan([inserted], settings=legacy).changes[0].action == CompanyAction.CREATE


def test_a_deleted_customer_follows_the_deletion_policy():
    gone = CustomerChanges("21", None, (row(5, "DELETE"),))
    note = _plan([gone], [_company(COMMENTS="Pago a 30 días.")]).changes[0]
    assert note.action == CompanyAction.NOTE and note.fields["COMMENTS"].endswith("Glyms el 2026-11-28.")
    assert _plan([gone], [_company(COMMENTS=note.fields["COMMENTS"])]).changes[0].action == CompanyAction.UNCHANGED
    assert _plan([gone]).changes[0].action == CompanyAction.TARGET_MISSING
    assert _plan([gone], [_company()], CompaniesSettings(on_delete="delete")).changes[0].action == CompanyAction.DELETE
    assert _plan([gone], [_company()], CompaniesSettings(on_delete="ignore")).changes[0].action == CompanyAction.IGNORED


def test_two_companies_with_one_origin_id_are_reported_never_guessed():
    change = _plan([CustomerChanges("21", CUSTOMER, (row(1),))], [_company(), _company(ID="101")]).changes[0]
    assert change.action == CompanyAction.DUPLICATE and "(100, 101)" in change.reason and not change.fields


def test_reconciliation_plans_every_customer_and_every_managed_company():
    other = {**CUSTOMER, "id_cliente": 22, "razon_social": "Clínica Norte"}
    orphan = _company(ID="300", ORIGIN_ID="99")
    plan = _plan([CustomerChanges("21", CUSTOMER), CustomerChanges("22", other)], [_company(), orphan], reconcile=True,
                 candidates={"22": LinkCandidate(555, "email")})
    actions = {c.origin_id: c.action for c in plan.changes}
    assert actions == {"21": CompanyAction.UNCHANGED, "22": CompanyAction.CANDIDATE, "99": CompanyAction.NOTE}
    linked = _plan([CustomerChanges("22", other)], [], CompaniesSettings(link_existing="email"), reconcile=True,
                   candidates={"22": LinkCandidate(555, "email")}).changes[0]
    assert linked.action == CompanyAction.LINK and linked.bitrix_id == 555 and linked.fields["ORIGIN_ID"] == "22"
    assert "EMAIL" not in linked.fields  # the hand-typed communications stay as they are


def test_reconciliation_reports_every_shared_origin_id_and_plans_each_leftover_once_in_listing_order():
    companies = [_company(ID="300", ORIGIN_ID="99"), _company(), _company(ID="101"), _company(ID="302", ORIGIN_ID="98"),
                 _company(ID="301", ORIGIN_ID=" 99 "), _company(ID="303", ORIGIN_ID=""), _company(ID="102")]
    group = CustomerChanges("21", CUSTOMER)
    plan = _plan([group, group], companies, reconcile=True)  # a customer twice: both see its three companies
    assert [(c.origin_id, c.action) for c in plan.changes] == [
        ("21", CompanyAction.DUPLICATE), ("21", CompanyAction.DUPLICATE), ("99", CompanyAction.DUPLICATE),
        ("98", CompanyAction.NOTE)]
    assert all("(100, 101, 102)" in c.reason for c in plan.changes[:2]) and "(300, 301)" in plan.changes[2].reason
    assert plan.changes[3].bitrix_id == 302 and plan.managed_companies == 6  # the one without ORIGIN_ID is not managed
    assert [c.action for c in _plan([group], companies).changes] == [CompanyAction.DUPLICATE]  # the log: no leftovers


def test_reconciliation_refuses_to_mark_most_companies_deleted():
    companies = [_company(ID=str(100 + n), ORIGIN_ID=str(n)) for n in range(10)]
    plan = _plan([], companies, reconcile=True)
    assert "10 of 10 companies (100%)" in plan.mass_deletion(0.5)
    assert _plan([], companies).mass_deletion(0.5) is None  # the change log deletes only what it was told


def test_claimed_rows_are_coalesced_per_customer():
    rows = [{"log_id": i, "id_cliente": 21 if i % 2 else 22, "operation_type": op, "change_timestamp": None,
             "attempts": 0} for i, op in enumerate(["INSERT", "UPDATE", "UPDATE", "DELETE", "UPDATE"], start=1)]
    claim = group_claim("run-1", rows, {21: CUSTOMER})
    assert [(g.origin_id, [r.log_id for r in g.log_rows], g.customer is None) for g in claim.groups] == [
        ("21", [1, 3, 5], False), ("22", [2, 4], True)]
    assert claim.per_operation == {"INSERT": 1, "UPDATE": 3, "DELETE": 1} and claim.rows == 5


def _outcome(change, status=SUCCESS, failure=None, bitrix_id=100):
    command = WriteCommand("c21", "crm.company.add", {}, "create", "company")
    step = CommandStep(command=command, status=status, error=None if status == SUCCESS else "boom", failure=failure)
    return ChangeOutcome(change=change, glyms_key=change.origin_id, bitrix_id=bitrix_id, steps=[step])


def test_every_claimed_row_ends_with_a_truthful_status():
    settings = CompaniesSettings(max_attempts=3, retry_backoff_seconds=60)
    change = _plan([CustomerChanges("21", CUSTOMER, (row(1, "INSERT", attempts=0), row(2, attempts=2)))]).changes[0]
    assert decisions_for(change, _outcome(change), settings) == [
        RowDecision(1, "PROCESSED", company_id=100), RowDecision(2, "PROCESSED", company_id=100)]
    transient = decisions_for(change, _outcome(change, FAILED, TRANSIENT), settings)
    assert (transient[0].status, transient[0].retry_after_seconds) == ("PENDING", 60)
    assert transient[1].status == "ERROR" and transient[1].error.startswith("parked after 3 attempts")
    assert {d.status for d in decisions_for(change, _outcome(change, FAILED, PERMANENT), settings)} == {"ERROR"}
    blocked = decisions_for(change, _outcome(change, FAILED, BLOCKED), settings)
    assert {(d.status, d.attempted) for d in blocked} == {("PENDING", False)}
    invalid = _plan([CustomerChanges("21", {**CUSTOMER, "razon_social": ""}, (row(9),))]).changes[0]
    assert decisions_for(invalid, None, settings) == [RowDecision(9, "ERROR", "razon_social (TITLE) is blank")]
    assert retry_delay(0, settings) == 60 and retry_delay(2, settings) == 240


def test_claims_are_renewed_before_the_first_slice_then_once_a_tenth_of_the_lease_has_passed():
    from glyms_b24_pipeline.defs.companies.changelog import ClaimRenewal

    now = [0.0]
    renewed = []
    renewal = ClaimRenewal(lambda: renewed.append(now[0]), lease_seconds=900, clock=lambda: now[0])
    for moment in (0, 10, 89.9, 90, 100, 179, 185, 400):
        now[0] = moment
        renewal()
    assert renewed == [0, 90, 185, 400] and renewal.renewals == 4
