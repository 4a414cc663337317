"""Customers -> companies diff: pure functions, data in, plan out.

The same planner serves the change-log consumer (the customers a claim touches, each with its
log rows) and the reconciliation (every customer, no log rows). Every customer gets exactly one
planned change; its log rows share that change's outcome.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Mapping, NamedTuple, Optional, Sequence

from glyms_b24_pipeline.defs.companies.mapping import (
    EXCLUDED_NOTE,
    DesiredCompany,
    clean_text,
    desired_company,
    has_deletion_note,
    with_deletion_note,
)
from glyms_b24_pipeline.glyms.rows import frozen_fields
from glyms_b24_pipeline.settings.model import CompaniesSettings
from glyms_b24_pipeline.sync.basis import COMPACT, NO_FIELDS, PlanBasis, PlanOfChanges, no_fields

WORK = "WORK"
PROCESSED, ERROR, TARGET_MISSING = "PROCESSED", "ERROR", "TARGET_MISSING"


class CompanyAction(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    NOTE = "note"  # the customer is gone: the dated note is appended to COMMENTS
    DELETE = "delete"
    LINK = "link"  # a company typed by hand gets the customer's ORIGIN_ID (link_existing)
    UNCHANGED = "unchanged"
    IGNORED = "ignored"
    TARGET_MISSING = "target_missing"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    CANDIDATE = "link_candidate"  # reported only: a hand-made company matches by e-mail or phone


WRITING = (CompanyAction.CREATE, CompanyAction.UPDATE, CompanyAction.NOTE, CompanyAction.DELETE, CompanyAction.LINK)
#: the log-row status of a change that writes nothing
SETTLED_WITHOUT_WRITE = {
    CompanyAction.UNCHANGED: PROCESSED,
    CompanyAction.IGNORED: PROCESSED,
    CompanyAction.TARGET_MISSING: TARGET_MISSING,
    CompanyAction.INVALID: ERROR,
    CompanyAction.DUPLICATE: ERROR,
    CompanyAction.CANDIDATE: PROCESSED,
}


class LogRow(NamedTuple):
    """One claimed row of ``f_cliente.sync_log_bitrix24`` (a tuple: a claim may hold a whole backlog)."""

    log_id: int
    operation: str
    change_timestamp: Optional[_dt.datetime]
    attempts: int


@dataclass(frozen=True, **COMPACT)
class CustomerChanges:
    """A customer the run must bring in line: its current Glyms row (None = deleted) and its log rows."""

    origin_id: str
    customer: Optional[Mapping[str, Any]]
    log_rows: tuple[LogRow, ...] = ()

    @property
    def operations(self) -> set[str]:
        return {row.operation.upper() for row in self.log_rows}


@dataclass(frozen=True, **COMPACT)
class LinkCandidate:
    """A company without ORIGIN_ID that matches a customer by e-mail or phone."""

    bitrix_id: int
    matched_by: str  # email | phone


@dataclass(frozen=True, **COMPACT)
class PlannedCompanyChange:
    origin_id: str
    action: CompanyAction
    bitrix_id: Optional[int] = None
    fields: Mapping[str, Any] = field(default_factory=no_fields)
    log_rows: tuple[LogRow, ...] = ()
    reason: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def writes(self) -> bool:
        return self.action in WRITING


@dataclass(frozen=True)
class CompanySyncPlan(PlanOfChanges[PlannedCompanyChange]):
    changes: tuple[PlannedCompanyChange, ...]
    managed_companies: int = 0
    basis: Optional[PlanBasis] = None
    reconcile: bool = False

    @property
    def deletion_share(self) -> float:
        gone = len(self.by_action(CompanyAction.NOTE)) + len(self.by_action(CompanyAction.DELETE))
        return gone / self.managed_companies if self.managed_companies else 0.0

    def mass_deletion(self, max_share: float) -> Optional[str]:
        """Why a reconciliation must not mark so many companies deleted without consent, or None."""
        gone = len(self.by_action(CompanyAction.NOTE)) + len(self.by_action(CompanyAction.DELETE))
        if not self.reconcile or not gone:
            return None
        if self.deletion_share > max_share:
            return (f"{gone} of {self.managed_companies} companies ({self.deletion_share:.0%}) would be marked as "
                    f"deleted in Glyms, above the limit of {max_share:.0%} (companies.max_deletion_share)")
        return None

    def counts(self) -> dict[str, int]:
        counter = Counter(c.action.value for c in self.changes)
        result = {action.value: counter.get(action.value, 0) for action in CompanyAction}
        result["writes"] = len(self.writes)
        result["log_rows"] = sum(len(c.log_rows) for c in self.changes)
        result["warnings"] = sum(1 for c in self.changes for w in c.warnings if not w.startswith(EXCLUDED_NOTE))
        result["excluded"] = sum(1 for c in self.changes if any(w.startswith(EXCLUDED_NOTE) for w in c.warnings))
        result["invalid_emails"] = sum(1 for c in self.changes for w in c.warnings if w.startswith("mail "))
        result["unmapped"] = sum(1 for c in self.changes for w in c.warnings if "mapping" in w)
        return result


def _work_entries(company: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    entries = company.get(kind) or []
    return [e for e in entries if isinstance(e, Mapping) and str(e.get("VALUE_TYPE") or "").upper() == WORK]


def multifield_ops(company: Optional[Mapping[str, Any]], kind: str, wanted: Optional[str]) -> list[dict[str, Any]]:
    """The entries that leave exactly one WORK ``kind`` holding ``wanted``: changed in place, copies deleted.

    Nothing changes when Glyms has no valid value (a blank or invalid e-mail never erases one).
    """
    if not wanted:
        return []
    existing = _work_entries(company or {}, kind)
    if not existing:
        return [{"VALUE": wanted, "VALUE_TYPE": WORK}]
    first, *copies = existing
    ops: list[dict[str, Any]] = []
    if clean_text(first.get("VALUE")) != wanted:
        ops.append({"ID": str(first.get("ID")), "VALUE": wanted, "VALUE_TYPE": WORK})
    ops += [{"ID": str(copy.get("ID")), "DELETE": "Y"} for copy in copies]
    return ops


def field_changes(want: DesiredCompany, have: Mapping[str, Any]) -> dict[str, Any]:
    """What to send so that ``have`` matches ``want`` (only what differs)."""
    changes: dict[str, Any] = {key: value for key, value in want.fields.items() if clean_text(have.get(key)) != value}
    for kind, wanted in (("EMAIL", want.email), ("PHONE", want.phone)):
        ops = multifield_ops(have, kind, wanted)
        if ops:
            changes[kind] = ops
    return changes


def create_fields(want: DesiredCompany) -> dict[str, Any]:
    fields: dict[str, Any] = {key: value for key, value in want.fields.items() if value != ""}
    if want.email:
        fields["EMAIL"] = [{"VALUE": want.email, "VALUE_TYPE": WORK}]
    if want.phone:
        fields["PHONE"] = [{"VALUE": want.phone, "VALUE_TYPE": WORK}]
    return fields


def _plan_one(group: CustomerChanges, matches: Sequence[Mapping[str, Any]], settings: CompaniesSettings,
              today: _dt.date, candidate: Optional[LinkCandidate], reconcile: bool) -> PlannedCompanyChange:
    rows = group.log_rows
    if len(matches) > 1:
        ids = ", ".join(str(m.get("ID")) for m in matches)
        return PlannedCompanyChange(group.origin_id, CompanyAction.DUPLICATE, log_rows=rows,
                                    reason=f"ORIGIN_ID {group.origin_id} is on several companies ({ids}); "
                                           "keep one and clear the others' ORIGIN_ID")
    have = matches[0] if matches else None
    bitrix_id = int(have["ID"]) if have else None
    if group.customer is None:
        if settings.on_delete == "ignore":
            return PlannedCompanyChange(group.origin_id, CompanyAction.IGNORED, bitrix_id, log_rows=rows,
                                        reason="customer deleted in Glyms; companies.on_delete is ignore")
        if have is None:
            return PlannedCompanyChange(group.origin_id, CompanyAction.TARGET_MISSING, log_rows=rows,
                                        reason="customer deleted in Glyms and no company has its ORIGIN_ID")
        if settings.on_delete == "delete":
            return PlannedCompanyChange(group.origin_id, CompanyAction.DELETE, bitrix_id, log_rows=rows,
                                        reason="customer deleted in Glyms")
        if has_deletion_note(have.get("COMMENTS")):
            return PlannedCompanyChange(group.origin_id, CompanyAction.UNCHANGED, bitrix_id, log_rows=rows,
                                        reason="deletion already noted")
        return PlannedCompanyChange(group.origin_id, CompanyAction.NOTE, bitrix_id,
                                    {"COMMENTS": with_deletion_note(have.get("COMMENTS"), today)}, log_rows=rows,
                                    reason="customer deleted in Glyms")
    want, reason, warnings = desired_company(group.customer, settings)
    if want is None:
        return PlannedCompanyChange(group.origin_id, CompanyAction.INVALID, bitrix_id, log_rows=rows, reason=reason)
    if have is None:
        if candidate is not None:
            if settings.link_existing == candidate.matched_by:
                # the scalar fields, ORIGIN_ID included; the hand-typed e-mails and phones stay as they are
                return PlannedCompanyChange(
                    group.origin_id, CompanyAction.LINK, candidate.bitrix_id, dict(want.fields), log_rows=rows,
                    reason=f"linked to company {candidate.bitrix_id} typed by hand (same {candidate.matched_by})",
                    warnings=warnings)
            return PlannedCompanyChange(
                group.origin_id, CompanyAction.CANDIDATE, candidate.bitrix_id, log_rows=rows,
                reason=(f"company {candidate.bitrix_id}, typed by hand without ORIGIN_ID, has the same "
                        f"{candidate.matched_by}: not duplicated; set companies.link_existing: {candidate.matched_by} "
                        "to link it"), warnings=warnings)
        only_updates = bool(rows) and "INSERT" not in group.operations
        if not reconcile and only_updates and settings.missing_on_update == "target_missing":
            return PlannedCompanyChange(group.origin_id, CompanyAction.TARGET_MISSING, log_rows=rows,
                                        reason="no company has this ORIGIN_ID (companies.missing_on_update)",
                                        warnings=warnings)
        return PlannedCompanyChange(group.origin_id, CompanyAction.CREATE, None, frozen_fields(create_fields(want)),
                                    log_rows=rows, warnings=warnings)
    changes = field_changes(want, have)
    action = CompanyAction.UPDATE if changes else CompanyAction.UNCHANGED
    return PlannedCompanyChange(group.origin_id, action, bitrix_id, frozen_fields(changes) if changes else NO_FIELDS,
                                log_rows=rows, warnings=warnings)


def company_sync_plan(
    groups: Iterable[CustomerChanges],
    companies: Iterable[Mapping[str, Any]],
    settings: CompaniesSettings,
    *,
    today: _dt.date,
    candidates: Optional[Mapping[str, LinkCandidate]] = None,
    reconcile: bool = False,
    basis: Optional[PlanBasis] = None,
) -> CompanySyncPlan:
    """One planned change per customer group, compared with the companies that carry its ORIGIN_ID.

    In a reconciliation (``reconcile``) every managed company without a customer is planned as
    deleted too, and a missing company is created unless a hand-made one matches (``candidates``).
    """
    # the company itself, a list only for an ORIGIN_ID on several: a reconciliation holds no one-item
    # list per company
    by_origin: dict[str, Any] = {}
    managed = 0
    for company in companies:
        origin = clean_text(company.get("ORIGIN_ID"))
        if origin:
            managed += 1
            held = by_origin.get(origin)
            if held is None:
                by_origin[origin] = company
            elif isinstance(held, list):
                held.append(company)
            else:
                by_origin[origin] = [held, company]
    changes: list[PlannedCompanyChange] = []
    for group in groups:
        changes.append(_plan_one(group, _matches(by_origin.get(group.origin_id)), settings, today,
                                 (candidates or {}).get(group.origin_id), reconcile))
    if reconcile:
        # what no customer took is left over (after the loop: a customer twice still sees its companies);
        # no set of the seen ids is kept beside the plan
        for change in changes:
            by_origin.pop(change.origin_id, None)
        for origin, held in by_origin.items():
            changes.append(_plan_one(CustomerChanges(origin, None), _matches(held), settings, today, None, reconcile))
    return CompanySyncPlan(tuple(changes), managed_companies=managed, basis=basis, reconcile=reconcile)


def _matches(held: Any) -> Sequence[Mapping[str, Any]]:
    """The companies of one ORIGIN_ID as ``by_origin`` holds them (none, one, or a list)."""
    return () if held is None else held if isinstance(held, list) else (held,)

