"""Companies that share an ``ORIGIN_ID``: reported with a suggested survivor, never merged here.

Merging companies moves deals, contacts, activities and the timeline; only a person who knows
them can decide it (Bitrix24's own merge does it). The companies sync reports such a customer
as ``duplicate`` and writes nothing to it until one company is left with the ``ORIGIN_ID``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from glyms_b24_pipeline.sync.text import clean_text, optional_int

SELECT = ["ID", "TITLE", "ORIGIN_ID", "DATE_CREATE", "DATE_MODIFY", "EMAIL", "PHONE"]


@dataclass(frozen=True)
class CompanyDuplicates:
    origin_id: str
    companies: tuple[Mapping[str, Any], ...]  # by ascending ID
    survivor_id: int
    why: str


def list_companies_with_origin(client: Any) -> list[dict]:
    """Every company that carries an ``ORIGIN_ID`` (fast listing, ~2,500 per request)."""
    return client.list_fast("crm.company.list", {"select": SELECT, "filter": {"!ORIGIN_ID": ""}}, id_field="ID")


def shared_origin_ids(companies: Iterable[Mapping[str, Any]]) -> list[CompanyDuplicates]:
    """Every ``ORIGIN_ID`` on several companies, with the company to keep.

    The suggestion is the oldest (lowest ID): the one the first sync created, which has carried
    the customer's deals and activities the longest; the others are the copies.
    """
    by_origin: dict[str, list[Mapping[str, Any]]] = {}
    for company in companies:
        origin = clean_text(company.get("ORIGIN_ID"))
        if origin:
            by_origin.setdefault(origin, []).append(company)
    found = []
    for origin, members in sorted(by_origin.items(), key=lambda kv: (len(kv[0]), kv[0])):
        if len(members) < 2:
            continue
        ordered = tuple(sorted(members, key=lambda c: optional_int(c.get("ID")) or 0))
        found.append(CompanyDuplicates(origin, ordered, int(ordered[0]["ID"]), "la más antigua (menor ID)"))
    return found


def report_rows(groups: Iterable[CompanyDuplicates]) -> list[tuple[Any, ...]]:
    """One row per company: ORIGIN_ID, ID, TITLE, created, e-mails, phones, what to do with it."""
    rows = []
    for group in groups:
        for company in group.companies:
            company_id = int(company["ID"])
            action = "keep" if company_id == group.survivor_id else f"merge into {group.survivor_id}"
            rows.append((group.origin_id, company_id, clean_text(company.get("TITLE")),
                         clean_text(company.get("DATE_CREATE")), _values(company.get("EMAIL")),
                         _values(company.get("PHONE")), action))
    return rows


def _values(entries: Any) -> str:
    return ", ".join(clean_text(e.get("VALUE")) for e in entries or [] if isinstance(e, Mapping) and e.get("VALUE"))
