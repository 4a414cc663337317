"""``glyms-b24 explain customer ID``: one customer, its company (or none, or several), its change log,
its audit, and what the next syncs would do with it.

The plans are :func:`company_sync_plan`, the syncs' own, run on that one customer: the change-log
consumer's (only when rows of it wait, as the consumer only sees those) and the reconciliation's.
Everything here only reads: single list calls on the portal, SELECTs on Glyms, no portal lock.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Mapping, Optional, Sequence

from glyms_b24_pipeline.defs.companies.bitrix import _phone_key, company_select
from glyms_b24_pipeline.defs.companies.mapping import clean_text, desired_company, normalise_email
from glyms_b24_pipeline.defs.companies.plan import (
    WORK,
    CustomerChanges,
    LinkCandidate,
    LogRow,
    PlannedCompanyChange,
    company_sync_plan,
)
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.settings.errors import ConfigError
from glyms_b24_pipeline.settings.model import CompaniesSettings
from glyms_b24_pipeline.sync.text import optional_int

#: change-log and audit rows shown per customer
LOG_ROWS = 10
AUDIT_ROWS = 10
#: the log statuses the change-log consumer will still take
WAITING = ("PENDING", "CLAIMED")


def _value(value: Any) -> Any:
    if value is None or isinstance(value, (int, str, bool)):
        return value
    if isinstance(value, _dt.datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def work_values(company: Mapping[str, Any], kind: str) -> list[str]:
    return [clean_text(e.get("VALUE")) for e in company.get(kind) or []
            if isinstance(e, Mapping) and str(e.get("VALUE_TYPE") or "").upper() == WORK]


def differences(customer: Optional[Mapping[str, Any]], companies: Sequence[Mapping[str, Any]],
                settings: CompaniesSettings) -> list[dict[str, Any]]:
    """Field by field, the customer as the sync maps it against its one company (none when 0 or several)."""
    if customer is None or len(companies) != 1:
        return []
    want = desired_company(customer, settings)[0]
    if want is None:
        return []
    have = companies[0]
    rows = [{"field": key, "glyms": value, "bitrix24": clean_text(have.get(key)), "same": clean_text(have.get(key)) == value}
            for key, value in want.fields.items()]
    for kind, wanted in (("EMAIL", want.email), ("PHONE", want.phone)):
        held = work_values(have, kind)
        # the sync leaves exactly one WORK entry holding Glyms' value (none when Glyms has no valid one)
        same = (not wanted) or held == [wanted]
        rows.append({"field": kind, "glyms": wanted, "bitrix24": ", ".join(held), "same": same})
    return rows


def planned(change: PlannedCompanyChange) -> dict[str, Any]:
    return {"action": change.action.value, "bitrix_id": change.bitrix_id,
            "fields": {k: _value(v) if not isinstance(v, list) else v for k, v in change.fields.items()},
            "reason": change.reason, "warnings": list(change.warnings), "writes": change.writes}


def customer_explanation(id_cliente: int, customer: Optional[Mapping[str, Any]], companies: Sequence[Mapping[str, Any]],
                         log: Sequence[Mapping[str, Any]], audit: Sequence[Mapping[str, Any]],
                         candidate: Optional[LinkCandidate], settings: CompaniesSettings,
                         today: _dt.date) -> dict[str, Any]:
    """What ``explain customer`` shows, from what was read (pure)."""
    origin = str(id_cliente)
    waiting = tuple(LogRow(int(r["log_id"]), str(r["operation_type"]), r["change_timestamp"], int(r["attempts"] or 0))
                    for r in log if r.get("sync_status") in WAITING)
    candidates = {origin: candidate} if candidate else None
    upcoming = []
    if waiting:
        plan = company_sync_plan([CustomerChanges(origin, customer, waiting)], companies, settings, today=today)
        upcoming.append({"sync": "companies_sync", **planned(plan.changes[0])})
    plan = company_sync_plan([CustomerChanges(origin, customer)], companies, settings, today=today,
                             candidates=candidates, reconcile=True)
    upcoming.append({"sync": "companies_reconcile", **planned(plan.changes[0])})
    mapped = None
    if customer is not None:
        want, reason, warnings = desired_company(customer, settings)
        mapped = {"row": {k: _value(v) for k, v in customer.items()},
                  "mapped": None if want is None else {**want.fields, "EMAIL": want.email, "PHONE": want.phone},
                  "reason": reason, "warnings": list(warnings)}
    return {
        "entity": "customer",
        "key": origin,
        "glyms": [mapped] if mapped else [],
        "bitrix24": [{"ID": _value(c.get("ID")), "TITLE": clean_text(c.get("TITLE")), "ORIGIN_ID": clean_text(c.get("ORIGIN_ID")),
                      "EMAIL": ", ".join(work_values(c, "EMAIL")), "PHONE": ", ".join(work_values(c, "PHONE"))}
                     for c in companies],
        "link_candidate": None if candidate is None else {"ID": candidate.bitrix_id, "matched_by": candidate.matched_by},
        "differences": differences(customer, companies, settings),
        "change_log": [{k: _value(v) for k, v in row.items()} for row in log],
        "audit": [{k: _value(v) for k, v in row.items()} for row in audit],
        "next": upcoming,
    }


def _link_candidate(client: Any, customer: Mapping[str, Any], settings: CompaniesSettings) -> Optional[LinkCandidate]:
    """A company typed by hand (no ORIGIN_ID) with the customer's e-mail, else phone: the reconciliation's
    matching (``crm.duplicate.findbycomm``), in single calls."""
    email, _ = normalise_email(customer.get("mail"))
    phone = _phone_key(customer.get("telefono"), settings.phone_region)
    for kind, value in (("email", email), ("phone", phone)):
        if not value:
            continue
        found = client.call("crm.duplicate.findbycomm", {"type": kind.upper(), "values": [value.lower() if kind == "email" else value],
                                                          "entity_type": "COMPANY"}).result
        ids = sorted(int(i) for i in (found.get("COMPANY") or [])) if isinstance(found, dict) else []
        if not ids:
            continue
        rows = client.call("crm.company.list", {"select": ["ID", "ORIGIN_ID"], "filter": {"@ID": ids},
                                                "order": {"ID": "ASC"}}).result or []
        hand_made = [r for r in rows if not clean_text(r.get("ORIGIN_ID"))]
        if hand_made:
            return LinkCandidate(int(hand_made[0]["ID"]), kind)
    return None


def read_customer_explanation(client: Any, dsn: str, settings: CompaniesSettings, key: str,
                              today: Optional[_dt.date] = None) -> dict[str, Any]:
    """Read one customer from Glyms, the portal, the change log and the audit, then explain it."""
    id_cliente = optional_int(key)
    if id_cliente is None:
        raise ConfigError(f"{key!r} is not a customer id (id_cliente is a number)")
    db = GlymsDatabase(dsn=dsn)
    db.require_contract()
    found = db.rows("customers_by_id", {"ids": [id_cliente]})
    customer = found[0] if found else None
    log = db.rows("change_log_of_customer", {"id_cliente": id_cliente, "limit": LOG_ROWS})
    companies = client.call("crm.company.list", {
        "select": company_select(settings), "filter": {"ORIGIN_ID": str(id_cliente)}, "order": {"ID": "ASC"}}).result or []
    candidate = None
    if customer is not None and not companies:
        candidate = _link_candidate(client, customer, settings)
    audit = db.rows("sync_audit_search", {"since": None, "outcome": None, "glyms_key": str(id_cliente), "entity": None,
                                          "run_id": None, "limit": AUDIT_ROWS})
    return customer_explanation(id_cliente, customer, companies, log, audit, candidate, settings,
                                today or _dt.date.today())
