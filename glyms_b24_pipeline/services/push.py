"""Apply a services plan to Bitrix24 in batches and report each service's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from glyms_b24_pipeline.audit import SENT, AuditRecord, AuditTrail
from glyms_b24_pipeline.config import ServicesSettings
from glyms_b24_pipeline.services.plan import Action, CatalogService, PlannedChange, catalog_service, normalise_text

CATALOG_SELECT = ["id", "iblockId", "xmlId", "name", "active", "code", "detailText", "iblockSectionId"]
PRICE_SELECT = ["id", "productId", "catalogGroupId", "price", "currency"]

# Services per slice: the audit rows of a slice are written before its batches leave and settled
# after them, so a crash leaves at most one slice of rows at 'sent' (outcome unknown).
SLICE_SIZE = 250


@dataclass(frozen=True)
class ServiceCommand:
    key: str
    method: str
    params: dict[str, Any]
    operation: str  # create | update | reactivate | deactivate | price_add | price_update


@dataclass
class CommandStep:
    """One command of a change and how it ended: success, failed, or unknown (answer lost)."""

    command: ServiceCommand
    status: str
    error: Optional[str] = None


@dataclass
class ServiceOutcome:
    change: PlannedChange
    bitrix_id: Optional[int]
    steps: list[CommandStep] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.status == "success" for step in self.steps)

    @property
    def errors(self) -> list[str]:
        return [f"{step.command.method}: {step.error}" for step in self.steps if step.status != "success"]

    @property
    def audit(self) -> list[AuditRecord]:
        return [
            _audit_record(step.command, self.change, "success" if step.status == "success" else "failed",
                          self.bitrix_id, step.error)
            for step in self.steps
        ]


def list_catalog_services(client: Any, settings: ServicesSettings, **filters: Any) -> list[dict]:
    """Service products of the configured iblock (fast listing), narrowed by ``filters``."""
    return client.list_fast("catalog.product.service.list",
                            {"select": CATALOG_SELECT, "filter": {"iblockId": settings.iblock_id, **filters}},
                            id_field="id", result_key="services")


def list_service_prices(client: Any, settings: ServicesSettings, **filters: Any) -> list[dict]:
    """Price rows of the configured price type (fast listing), narrowed by ``filters``."""
    return client.list_fast("catalog.price.list",
                            {"select": PRICE_SELECT, "filter": {"catalogGroupId": settings.price_type_id, **filters}},
                            id_field="id", result_key="prices")


def service_commands(change: PlannedChange, settings: ServicesSettings) -> list[ServiceCommand]:
    """The Bitrix24 calls one planned change needs, in order (a create before its price)."""
    commands: list[ServiceCommand] = []
    service_key = f"s{change.xml_id}"
    product_id: Any = change.bitrix_id
    if change.action == Action.CREATE:
        commands.append(ServiceCommand(service_key, "catalog.product.service.add", {"fields": dict(change.fields)}, "create"))
        # resolved by the portal inside the same batch
        product_id = f"$result[{service_key}][service][id]"
    elif change.fields:
        commands.append(
            ServiceCommand(service_key, "catalog.product.service.update", {"id": change.bitrix_id, "fields": dict(change.fields)},
                           change.action.value)
        )
    if change.price is not None:
        price_fields = {"price": str(change.price), "currency": settings.currency}
        if change.price_id is not None:
            commands.append(ServiceCommand(f"p{change.xml_id}", "catalog.price.update",
                                           {"id": change.price_id, "fields": price_fields}, "price_update"))
        else:
            commands.append(ServiceCommand(
                f"p{change.xml_id}", "catalog.price.add",
                {"fields": {"productId": product_id, "catalogGroupId": settings.price_type_id, **price_fields}},
                "price_add",
            ))
    return commands


def _created_id(result: Any) -> Optional[int]:
    if isinstance(result, dict) and isinstance(result.get("service"), dict):
        try:
            return int(result["service"]["id"])
        except (KeyError, TypeError, ValueError):
            return None
    return None


def apply_service_plan(
    client: Any,
    changes: Sequence[PlannedChange],
    settings: ServicesSettings,
    trail: Optional[AuditTrail] = None,
) -> list[ServiceOutcome]:
    """Send every write of ``changes`` through ``client.batch``; one outcome per change.

    A failed command fails only its own service; a create whose price failed is reported
    failed with the service id kept, so the next run adds the missing price. Batches are
    never resent after a lost answer (a create could apply twice); instead the services
    concerned are read back and each lost write is settled as applied or not. With a
    ``trail``, every write is recorded as sent before its batch leaves and settled after.
    """
    outcomes: list[ServiceOutcome] = []
    writing = [c for c in changes if c.writes]
    for start in range(0, len(writing), SLICE_SIZE):
        slice_changes = writing[start : start + SLICE_SIZE]
        planned = [(change, service_commands(change, settings)) for change in slice_changes]
        audit_ids = trail.record([_audit_record(cmd, change, SENT, change.bitrix_id)
                                  for change, cmds in planned for cmd in cmds]) if trail else []
        results = client.batch({cmd.key: (cmd.method, cmd.params) for _, cmds in planned for cmd in cmds},
                               idempotent=False)
        slice_outcomes = []
        for change, cmds in planned:
            outcome = ServiceOutcome(change=change, bitrix_id=change.bitrix_id)
            for cmd in cmds:
                result = results[cmd.key]
                if result.ok:
                    if cmd.operation == "create":
                        outcome.bitrix_id = _created_id(result.result)
                    outcome.steps.append(CommandStep(cmd, "success"))
                else:
                    status = "unknown" if getattr(result.error, "outcome_unknown", False) else "failed"
                    outcome.steps.append(CommandStep(cmd, status, str(result.error)))
            slice_outcomes.append(outcome)
        settle_lost_answers(client, [o for o in slice_outcomes if any(s.status == "unknown" for s in o.steps)], settings)
        if trail:
            trail.settle(audit_ids, [record for outcome in slice_outcomes for record in outcome.audit])
        outcomes.extend(slice_outcomes)
    return outcomes


def _fields_applied(fields: Mapping[str, Any], current: CatalogService) -> bool:
    values = {
        "name": current.name,
        "detailText": current.detail_text,
        "code": current.code,
        "active": "Y" if current.active else "N",
        "iblockSectionId": current.section_id,
        "xmlId": current.xml_id,
    }
    for key, wanted in fields.items():
        if key == "iblockId":
            continue
        have = values.get(key)
        if key == "iblockSectionId":
            if have != wanted:
                return False
        elif normalise_text(have) != normalise_text(wanted):
            return False
    return True


def settle_lost_answers(client: Any, outcomes: Sequence[ServiceOutcome], settings: ServicesSettings) -> None:
    """Read back services whose write answers were lost and mark each lost write applied or not."""
    if not outcomes:
        return
    xml_ids = [o.change.xml_id for o in outcomes]
    try:
        items = list_catalog_services(client, settings, xmlId=xml_ids)
        by_xml: dict[str, list[Mapping[str, Any]]] = {}
        for item in items:
            by_xml.setdefault(normalise_text(item.get("xmlId")), []).append(item)
        product_ids = [int(i["id"]) for i in items]
        prices = list_service_prices(client, settings, **{"@productId": product_ids}) if product_ids else []
    except Exception as exc:  # the read-back is best effort: the next run compares anyway
        for outcome in outcomes:
            for step in outcome.steps:
                if step.status == "unknown":
                    step.status = "failed"
                    step.error = f"{step.error}; answer lost and read-back failed ({exc}); the next run compares again"
        return
    price_by_product = {int(p["productId"]): p for p in prices}
    for outcome in outcomes:
        matches = by_xml.get(outcome.change.xml_id, [])
        current = (catalog_service(matches[0], price_by_product.get(int(matches[0]["id"])), settings.currency_decimals)
                   if len(matches) == 1 else None)
        if current is not None and outcome.bitrix_id is None:
            outcome.bitrix_id = current.bitrix_id
        for step in outcome.steps:
            if step.status != "unknown":
                continue
            if step.command.operation.startswith("price"):
                applied = (current is not None and current.price == outcome.change.price
                           and current.currency == settings.currency)
            else:
                applied = current is not None and _fields_applied(outcome.change.fields, current)
            if applied:
                step.status = "success"
                step.error = None
            else:
                step.status = "failed"
                step.error = f"{step.error}; answer lost and the write is not in Bitrix24 (read back); the next run retries"


def _audit_record(cmd: ServiceCommand, change: PlannedChange, outcome: str, bitrix_id: Optional[int],
                  error: Optional[str] = None) -> AuditRecord:
    return AuditRecord(
        entity="service_price" if cmd.operation.startswith("price") else "service",
        glyms_key=change.xml_id,
        operation=cmd.operation,
        outcome=outcome,
        bitrix_id=str(bitrix_id) if bitrix_id is not None else None,
        error=error,
        detail=_audit_detail(cmd, change),
    )


def _audit_detail(cmd: ServiceCommand, change: PlannedChange) -> dict[str, Any]:
    if cmd.operation.startswith("price"):
        return {"price": str(change.price), "old_price": str(change.old_price) if change.old_price is not None else None}
    return {"fields": dict(change.fields)}


def skipped_records(changes: Iterable[PlannedChange]) -> list[AuditRecord]:
    """Audit rows for services the plan could not write (invalid data, duplicate xmlIds)."""
    return [
        AuditRecord(entity="service", glyms_key=c.xml_id, operation=c.action.value, outcome="skipped",
                    bitrix_id=str(c.bitrix_id) if c.bitrix_id is not None else None, error=c.reason)
        for c in changes
        if c.action in (Action.INVALID, Action.DUPLICATE)
    ]
