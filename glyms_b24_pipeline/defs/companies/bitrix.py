"""The companies sync on the Bitrix24 side: bulk look-ups by ORIGIN_ID, link candidates, the writes."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Sequence

import phonenumbers

from glyms_b24_pipeline.bitrix24.client import BATCH_LIMIT, PAGE_SIZE, BatchCommand
from glyms_b24_pipeline.defs.companies.mapping import clean_text, normalise_email
from glyms_b24_pipeline.defs.companies.plan import WORK, CompanyAction, LinkCandidate, PlannedCompanyChange
from glyms_b24_pipeline.glyms.rows import PackedList, Row, SharedValues, column_index
from glyms_b24_pipeline.settings.model import CompaniesSettings
from glyms_b24_pipeline.sync.push import UNKNOWN, ChangeOutcome, WriteCommand

#: ORIGIN_IDs per list command: 50 commands of 50 per batch look up 2,500 companies in one request
LOOKUP_CHUNK = 50
#: values per crm.duplicate.findbycomm call (the portal's maximum)
FINDBYCOMM_CHUNK = 20
BASE_SELECT = ["ID", "TITLE", "ADDRESS", "COMMENTS", "ORIGIN_ID", "COMPANY_TYPE", "INDUSTRY", "EMAIL", "PHONE"]
NO_EVENTS = {"REGISTER_SONET_EVENT": "N"}


def company_select(settings: CompaniesSettings) -> list[str]:
    uf = settings.user_fields
    return [*BASE_SELECT, uf.codigo, uf.nombre_fantasia, uf.bloqueado]


#: the keys kept of a multi-field entry (EMAIL, PHONE) of a company held for the plan
ENTRY_KEYS = ("ID", "VALUE", "VALUE_TYPE", "TYPE_ID")
_ENTRY_INDEX = column_index(ENTRY_KEYS)


class CompanyCompactor:
    """Companies as compact :class:`Row` mappings of the selected fields (their EMAIL and PHONE entries
    too): a large directory holds one column index, not a dict of a dozen keys per company and per entry."""

    def __init__(self, select: list[str]):
        self.keys = tuple(dict.fromkeys([*select, "ID"]))
        self.index = column_index(self.keys)
        # repeated values (types, industries, WORK, EMAIL, ...) held once; entries apart from the companies
        self.shared = SharedValues()
        self.entry_keys = tuple((key, f"{key}.entry") for key in ENTRY_KEYS)

    def __call__(self, company: Mapping[str, Any]) -> Row:
        share = self.shared
        values = []
        for key in self.keys:
            value = company.get(key)
            if key in ("EMAIL", "PHONE") and isinstance(value, list):
                value = tuple(Row(_ENTRY_INDEX, [share(column, e.get(k)) for k, column in self.entry_keys])
                              if isinstance(e, Mapping) else e for e in value)
            else:
                value = share(key, value)
            values.append(value)
        return Row(self.index, values)


def _rows(outcome: Any) -> list[dict]:
    if not outcome.ok:
        raise outcome.error
    return outcome.result if isinstance(outcome.result, list) else []


def lookup_by_origin(client: Any, origin_ids: Iterable[str], settings: CompaniesSettings) -> list[Row]:
    """Every company whose ORIGIN_ID is one of ``origin_ids``, 2,500 ids per request (compact rows)."""
    ids = sorted({str(i) for i in origin_ids}, key=lambda v: (len(v), v))
    select = company_select(settings)
    compact = CompanyCompactor(select)
    chunks = [ids[i : i + LOOKUP_CHUNK] for i in range(0, len(ids), LOOKUP_CHUNK)]
    commands = [BatchCommand(f"o{n}", "crm.company.list",
                             {"select": select, "filter": {"@ORIGIN_ID": chunk}, "order": {"ID": "ASC"}, "start": -1})
                for n, chunk in enumerate(chunks)]
    found: list[Row] = PackedList()
    per_request = BATCH_LIMIT  # one batch (2,500 ids) at a time: its answer is compacted before the next
    for first in range(0, len(commands), per_request):
        outcomes = client.batch(commands[first : first + per_request])
        for n in range(first, min(first + per_request, len(commands))):
            rows = _rows(outcomes[f"o{n}"])
            found.extend(compact(row) for row in rows)
            if len(rows) == PAGE_SIZE:  # more companies than ids (duplicates): page on from the last one
                found.extend(compact(row) for row in client.iter_fast("crm.company.list", {
                    "select": select, "filter": {"@ORIGIN_ID": chunks[n], ">ID": rows[-1]["ID"]}}, id_field="ID"))
    return found


def list_managed_companies(client: Any, settings: CompaniesSettings) -> list[Row]:
    """Every company that carries an ORIGIN_ID (fast listing, ~2,500 per request), compacted as it streams in."""
    select = company_select(settings)
    compact = CompanyCompactor(select)
    return PackedList(compact(company) for company in client.iter_fast(
        "crm.company.list", {"select": select, "filter": {"!ORIGIN_ID": ""}}, id_field="ID"))


def _phone_key(value: Any, region: str) -> Optional[str]:
    text = clean_text(value)
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return "".join(ch for ch in text if ch.isdigit()) or None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def find_link_candidates(client: Any, customers: Sequence[Mapping[str, Any]], settings: CompaniesSettings) -> dict[str, LinkCandidate]:
    """Hand-made companies (no ORIGIN_ID) that share an e-mail or phone with a customer missing in Bitrix24.

    ``crm.duplicate.findbycomm`` (the portal's own matching) names the companies; their e-mails and
    phones are then read to tell which customer each one matches. E-mail wins over phone.
    """
    emails: dict[str, str] = {}
    phones: dict[str, str] = {}
    for customer in customers:
        origin = clean_text(customer.get("id_cliente"))
        email, _ = normalise_email(customer.get("mail"))
        if email:
            emails.setdefault(email.lower(), origin)
        phone = _phone_key(customer.get("telefono"), settings.phone_region)
        if phone:
            phones.setdefault(phone, origin)
    commands = []
    for kind, values in (("EMAIL", sorted(emails)), ("PHONE", sorted(phones))):
        for n in range(0, len(values), FINDBYCOMM_CHUNK):
            commands.append(BatchCommand(f"{kind.lower()}{n}", "crm.duplicate.findbycomm",
                                         {"type": kind, "values": values[n : n + FINDBYCOMM_CHUNK],
                                          "entity_type": "COMPANY"}))
    if not commands:
        return {}
    company_ids: set[int] = set()
    for outcome in client.batch(commands).values():
        if not outcome.ok:
            raise outcome.error
        if isinstance(outcome.result, dict):
            company_ids.update(int(i) for i in outcome.result.get("COMPANY") or [])
    if not company_ids:
        return {}
    ordered = sorted(company_ids)
    chunks = [ordered[i : i + LOOKUP_CHUNK] for i in range(0, len(ordered), LOOKUP_CHUNK)]
    commands = [BatchCommand(f"i{n}", "crm.company.list", {
        "select": ["ID", "ORIGIN_ID", "EMAIL", "PHONE"], "filter": {"@ID": chunk}, "start": -1}) for n, chunk in enumerate(chunks)]
    candidates: dict[str, LinkCandidate] = {}
    # one request's answer at a time: the portal's matching may name many managed companies (a phone
    # they share), and every answer held at once would be the largest value of the step
    for first in range(0, len(commands), BATCH_LIMIT):
        found = client.batch(commands[first : first + BATCH_LIMIT])
        for company in (row for outcome in found.values() for row in _rows(outcome)):
            if clean_text(company.get("ORIGIN_ID")):
                continue  # already managed: not typed by hand
            for entry in company.get("EMAIL") or []:
                by_email = emails.get(clean_text(entry.get("VALUE")).lower())
                if by_email and (by_email not in candidates or candidates[by_email].matched_by != "email"):
                    candidates[by_email] = LinkCandidate(int(company["ID"]), "email")
            for entry in company.get("PHONE") or []:
                by_phone = phones.get(_phone_key(entry.get("VALUE"), settings.phone_region) or "")
                if by_phone and by_phone not in candidates:
                    candidates[by_phone] = LinkCandidate(int(company["ID"]), "phone")
    return candidates


class CompanyWrites:
    """The companies sync's :class:`~glyms_b24_pipeline.sync.push.WriteAdapter`."""

    def __init__(self, settings: CompaniesSettings):
        self.settings = settings

    def glyms_key(self, change: PlannedCompanyChange) -> str:
        return change.origin_id

    def bitrix_id(self, change: PlannedCompanyChange) -> Optional[int]:
        return change.bitrix_id

    def commands(self, change: PlannedCompanyChange) -> list[WriteCommand]:
        key = f"c{change.origin_id}"
        if change.action == CompanyAction.CREATE:
            return [WriteCommand(key, "crm.company.add", {"fields": dict(change.fields), "params": NO_EVENTS},
                                 "create", "company")]
        if change.action == CompanyAction.DELETE:
            return [WriteCommand(key, "crm.company.delete", {"id": change.bitrix_id}, "delete", "company")]
        return [WriteCommand(key, "crm.company.update",
                             {"id": change.bitrix_id, "fields": dict(change.fields), "params": NO_EVENTS},
                             change.action.value, "company")]

    def created_id(self, command: WriteCommand, result: Any) -> Optional[int]:
        if command.operation != "create":
            return None
        try:
            return int(result)
        except (TypeError, ValueError):
            return None

    def audit_detail(self, command: WriteCommand, change: PlannedCompanyChange) -> dict[str, Any]:
        return {"fields": dict(change.fields), "log_ids": [row.log_id for row in change.log_rows],
                "warnings": list(change.warnings)}

    def read_back(self, client: Any, outcomes: Sequence[ChangeOutcome[PlannedCompanyChange]]) -> None:
        """Settle lost answers by what the portal holds now, looked up by ORIGIN_ID."""
        by_origin: dict[str, list[Row]] = {}
        for company in lookup_by_origin(client, [o.glyms_key for o in outcomes], self.settings):
            by_origin.setdefault(clean_text(company.get("ORIGIN_ID")), []).append(company)
        for outcome in outcomes:
            change = outcome.change
            matches = by_origin.get(outcome.glyms_key, [])
            for step in outcome.steps:
                if step.status != UNKNOWN:
                    continue
                if change.action == CompanyAction.CREATE:
                    if len(matches) == 1:
                        outcome.bitrix_id = int(matches[0]["ID"])
                    outcome.settle_step(step, bool(matches), missing="no company has its ORIGIN_ID (read back)")
                elif change.action == CompanyAction.DELETE:
                    outcome.settle_step(step, not any(int(m["ID"]) == change.bitrix_id for m in matches))
                else:
                    current = next((m for m in matches if int(m["ID"]) == change.bitrix_id), None)
                    outcome.settle_step(step, current is not None and fields_applied(change.fields, current))


def fields_applied(fields: Mapping[str, Any], company: Mapping[str, Any]) -> bool:
    """Whether ``company`` already holds what ``fields`` asked for (the read-back of a lost update)."""
    for key, wanted in fields.items():
        if key in ("EMAIL", "PHONE"):
            entries = company.get(key) or []
            for op in wanted or []:
                if op.get("DELETE") == "Y":
                    if any(str(e.get("ID")) == str(op.get("ID")) for e in entries):
                        return False
                elif not any(clean_text(e.get("VALUE")) == op.get("VALUE") and
                             str(e.get("VALUE_TYPE") or "").upper() == WORK for e in entries):
                    return False
        elif clean_text(company.get(key)) != clean_text(wanted):
            return False
    return True
