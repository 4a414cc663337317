"""Duplicate catalog services the legacy script left: one service per ``xmlId`` keeps it, the others
are deactivated and their ``xmlId`` moved aside (``dup-<xmlId>-<id>``), so no sync matches them again.

The legacy script listed the catalog page by page and created every service it did not find; a
503 in the middle of that listing made it create again the services of the missing pages (93
duplicates after its second run on 300 services, 235 after its third). The services sync reports
such an ``xmlId`` as ``duplicate`` and never writes it; this repair is what unblocks it.

The plan is pure (``plan_service_repair``); the writes go through the shared write protocol
(audit ``sent`` -> batch -> read back -> settle) under the portal lock, like every sync's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping, Optional, Sequence

from glyms_b24_pipeline.defs.services.plan import normalise_price, normalise_text
from glyms_b24_pipeline.defs.services.push import list_catalog_services, list_service_prices
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.settings.model import SERVICES_KEEP_POLICIES, ServicesSettings, Settings
from glyms_b24_pipeline.sync.audit import AuditTrail
from glyms_b24_pipeline.sync.lock import PortalLock
from glyms_b24_pipeline.sync.push import UNKNOWN, ChangeOutcome, WriteCommand, push_changes
from glyms_b24_pipeline.sync.text import optional_int

KEEP_POLICIES = SERVICES_KEEP_POLICIES
ASIDE_PREFIX = "dup-"
OPERATION = "set_aside_duplicate"


def aside_xml_id(xml_id: str, bitrix_id: int) -> str:
    """The ``xmlId`` a duplicate is moved to: never an ``id_prestacion``, unique (it holds the element id)."""
    return f"{ASIDE_PREFIX}{xml_id}-{bitrix_id}"


@dataclass(frozen=True)
class CatalogEntry:
    """One service of the iblock as the repair sees it."""

    bitrix_id: int
    xml_id: str
    name: str
    active: bool
    price: Optional[Decimal]  # of the configured price type


@dataclass(frozen=True)
class SetAside:
    """One duplicate to deactivate and move aside, and the service that keeps the ``xmlId``."""

    xml_id: str
    bitrix_id: int
    kept_id: int
    new_xml_id: str
    was_active: bool


@dataclass(frozen=True)
class DuplicateGroup:
    xml_id: str
    keep: CatalogEntry
    others: tuple[CatalogEntry, ...]
    why: str


@dataclass(frozen=True)
class ServiceRepairPlan:
    groups: tuple[DuplicateGroup, ...]
    policy: str

    @property
    def changes(self) -> list[SetAside]:
        return [SetAside(group.xml_id, other.bitrix_id, group.keep.bitrix_id,
                         aside_xml_id(group.xml_id, other.bitrix_id), other.active)
                for group in self.groups for other in group.others]


def catalog_entries(items: Iterable[Mapping[str, Any]], price_rows: Iterable[Mapping[str, Any]],
                    settings: ServicesSettings) -> list[CatalogEntry]:
    """The iblock's services that carry an ``xmlId``, each with its price of the configured type."""
    prices: dict[int, Optional[Decimal]] = {}
    for row in price_rows:
        if optional_int(row.get("catalogGroupId")) == settings.price_type_id:
            prices.setdefault(int(row["productId"]), normalise_price(row.get("price"), settings.currency_decimals))
    entries = []
    for item in items:
        xml_id = normalise_text(item.get("xmlId"))
        if xml_id:
            entries.append(CatalogEntry(int(item["id"]), xml_id, normalise_text(item.get("name")),
                                        normalise_text(item.get("active")).upper() != "N", prices.get(int(item["id"]))))
    return entries


def _survivor(members: Sequence[CatalogEntry], policy: str, price_type_id: int) -> tuple[CatalogEntry, str]:
    # the reasons are the operator's (Spanish): the summary prints them as they are
    if policy == "newest":
        return max(members, key=lambda m: m.bitrix_id), "the newest: the highest id"
    if policy == "lowest_id":
        return min(members, key=lambda m: m.bitrix_id), "the lowest id"
    priced = [m for m in members if m.price is not None]
    if priced:
        return min(priced, key=lambda m: m.bitrix_id), f"it has a price of type {price_type_id} and the lowest id"
    return min(members, key=lambda m: m.bitrix_id), f"none has a price of type {price_type_id}: the lowest id"


def plan_service_repair(entries: Iterable[CatalogEntry], policy: str, price_type_id: int) -> ServiceRepairPlan:
    """Every ``xmlId`` held by several services: which one keeps it (``policy``) and which are set aside."""
    if policy not in KEEP_POLICIES:
        raise ValueError(f"unknown keep policy {policy!r}; expected one of {', '.join(KEEP_POLICIES)}")
    by_xml: dict[str, list[CatalogEntry]] = {}
    for entry in entries:
        by_xml.setdefault(entry.xml_id, []).append(entry)
    groups = []
    for xml_id, members in sorted(by_xml.items(), key=lambda kv: (len(kv[0]), kv[0])):
        if len(members) < 2:
            continue
        keep, why = _survivor(members, policy, price_type_id)
        others = tuple(sorted((m for m in members if m.bitrix_id != keep.bitrix_id), key=lambda m: m.bitrix_id))
        groups.append(DuplicateGroup(xml_id, keep, others, why))
    return ServiceRepairPlan(tuple(groups), policy)


class SetAsideWrites:
    """The :class:`~glyms_b24_pipeline.sync.push.WriteAdapter` of the repair: one update per duplicate."""

    def __init__(self, settings: ServicesSettings, policy: str):
        self.settings = settings
        self.policy = policy

    def glyms_key(self, change: SetAside) -> str:
        return change.xml_id

    def bitrix_id(self, change: SetAside) -> Optional[int]:
        return change.bitrix_id

    def commands(self, change: SetAside) -> list[WriteCommand]:
        # one call: a duplicate never stays active under its new xmlId, nor inactive under the old one
        return [WriteCommand(f"d{change.bitrix_id}", "catalog.product.service.update",
                             {"id": change.bitrix_id, "fields": {"active": "N", "xmlId": change.new_xml_id}},
                             OPERATION, "service")]

    def created_id(self, command: WriteCommand, result: Any) -> Optional[int]:
        return None

    def audit_detail(self, command: WriteCommand, change: SetAside) -> dict[str, Any]:
        return {"kept": change.kept_id, "old_xml_id": change.xml_id, "new_xml_id": change.new_xml_id,
                "was_active": change.was_active, "policy": self.policy}

    def read_back(self, client: Any, outcomes: Sequence[ChangeOutcome[SetAside]]) -> None:
        """A lost answer is settled by what the portal holds now: the new xmlId and inactive, or not."""
        current = {int(item["id"]): item for item in list_catalog_services(
            client, self.settings, id=[o.change.bitrix_id for o in outcomes])}
        for outcome in outcomes:
            item = current.get(outcome.change.bitrix_id) or {}
            applied = (normalise_text(item.get("xmlId")) == outcome.change.new_xml_id
                       and normalise_text(item.get("active")).upper() == "N")
            for step in outcome.steps:
                if step.status == UNKNOWN:
                    outcome.settle_step(step, applied)


# --- the repair, under the portal lock --------------------------------------------------------


@dataclass
class ServiceRepairResult:
    run_id: str
    plan: ServiceRepairPlan
    dry_run: bool
    outcomes: list[ChangeOutcome[SetAside]] = field(default_factory=list)

    @property
    def failed(self) -> list[ChangeOutcome[SetAside]]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def read_repair_plan(client: Any, settings: Settings, policy: str) -> ServiceRepairPlan:
    services = list_catalog_services(client, settings.services)
    prices = list_service_prices(client, settings.services)
    return plan_service_repair(catalog_entries(services, prices, settings.services), policy,
                               settings.services.price_type_id)


def repair_services(client: Any, dsn: str, settings: Settings, *, policy: Optional[str] = None,
                    dry_run: bool = False, run_id: Optional[str] = None) -> ServiceRepairResult:
    """Set aside every duplicate of the catalog (``dry_run``: only say which)."""
    policy = policy or settings.repair.services_keep
    run_id = run_id or f"repair-{uuid.uuid4()}"
    if dry_run:  # writes nothing, so it needs no lock: a sync may run meanwhile
        return ServiceRepairResult(run_id, read_repair_plan(client, settings, policy), dry_run=True)
    lock = PortalLock(dsn, client.portal_url, run_id, wait_seconds=settings.writer.lock_wait_seconds,
                      in_flight_grace_seconds=settings.writer.in_flight_grace_seconds)
    with lock:  # read and write under one hold: no sync can create or match a duplicate in between
        plan = read_repair_plan(client, settings, policy)
        outcomes = push_changes(client, plan.changes, SetAsideWrites(settings.services, policy),
                                AuditTrail(GlymsDatabase(dsn=dsn), run_id), before_slice=lock.ensure_held,
                                before_request=lock.touch)
    return ServiceRepairResult(run_id, plan, dry_run=False, outcomes=outcomes)
