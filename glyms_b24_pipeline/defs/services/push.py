"""The services sync on the shared write path: its Bitrix24 calls, created ids and read-back."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence

from glyms_b24_pipeline.bitrix24.encoding import ResultRef
from glyms_b24_pipeline.defs.services.plan import (
    Action,
    CatalogService,
    PlannedChange,
    managed_catalog,
    normalise_text,
)
from glyms_b24_pipeline.settings.model import ServicesSettings
from glyms_b24_pipeline.sync.audit import AuditRecord
from glyms_b24_pipeline.sync.push import UNKNOWN, ChangeOutcome, WriteCommand

CATALOG_SELECT = ["id", "iblockId", "xmlId", "name", "active", "code", "detailText", "iblockSectionId"]
PRICE_SELECT = ["id", "productId", "catalogGroupId", "price", "currency"]


def iter_catalog_services(client: Any, settings: ServicesSettings, **filters: Any) -> Iterator[dict]:
    """Service products of the configured iblock (fast listing, a request's rows at a time), narrowed by ``filters``."""
    return client.iter_fast("catalog.product.service.list",
                            {"select": CATALOG_SELECT, "filter": {"iblockId": settings.iblock_id, **filters}},
                            id_field="id", result_key="services")


def iter_service_prices(client: Any, settings: ServicesSettings, **filters: Any) -> Iterator[dict]:
    """Price rows of the configured price type (fast listing, a request's rows at a time), narrowed by ``filters``."""
    return client.iter_fast("catalog.price.list",
                            {"select": PRICE_SELECT, "filter": {"catalogGroupId": settings.price_type_id, **filters}},
                            id_field="id", result_key="prices")


def list_catalog_services(client: Any, settings: ServicesSettings, **filters: Any) -> list[dict]:
    return list(iter_catalog_services(client, settings, **filters))


def list_service_prices(client: Any, settings: ServicesSettings, **filters: Any) -> list[dict]:
    return list(iter_service_prices(client, settings, **filters))


class ServiceWrites:
    """The services sync's :class:`~glyms_b24_pipeline.sync.push.WriteAdapter`."""

    def __init__(self, settings: ServicesSettings):
        self.settings = settings

    def glyms_key(self, change: PlannedChange) -> str:
        return change.xml_id

    def bitrix_id(self, change: PlannedChange) -> Optional[int]:
        return change.bitrix_id

    def commands(self, change: PlannedChange) -> list[WriteCommand]:
        """The Bitrix24 calls one planned change needs, in order (a create before its price)."""
        commands: list[WriteCommand] = []
        service_key = f"s{change.xml_id}"
        product_id: Any = change.bitrix_id
        if change.action == Action.CREATE:
            commands.append(WriteCommand(service_key, "catalog.product.service.add", {"fields": dict(change.fields)},
                                         "create", "service"))
            product_id = ResultRef(service_key, ("service", "id"))  # resolved by the portal in the same batch
        elif change.fields:
            commands.append(WriteCommand(service_key, "catalog.product.service.update",
                                         {"id": change.bitrix_id, "fields": dict(change.fields)},
                                         change.action.value, "service"))
        if change.price is not None:
            price_fields = {"price": str(change.price), "currency": self.settings.currency}
            if change.price_id is not None:
                commands.append(WriteCommand(f"p{change.xml_id}", "catalog.price.update",
                                             {"id": change.price_id, "fields": price_fields}, "price_update",
                                             "service_price"))
            else:
                commands.append(WriteCommand(
                    f"p{change.xml_id}", "catalog.price.add",
                    {"fields": {"productId": product_id, "catalogGroupId": self.settings.price_type_id, **price_fields}},
                    "price_add", "service_price",
                ))
        return commands

    def created_id(self, command: WriteCommand, result: Any) -> Optional[int]:
        if command.operation == "create" and isinstance(result, dict) and isinstance(result.get("service"), dict):
            try:
                return int(result["service"]["id"])
            except (KeyError, TypeError, ValueError):
                return None
        return None

    def audit_detail(self, command: WriteCommand, change: PlannedChange) -> dict[str, Any]:
        if command.entity == "service_price":
            return {"price": str(change.price),
                    "old_price": str(change.old_price) if change.old_price is not None else None}
        return {"fields": dict(change.fields)}

    def read_back(self, client: Any, outcomes: Sequence[ChangeOutcome[PlannedChange]]) -> None:
        """Read back services whose write answers were lost and settle each lost write."""
        items = list_catalog_services(client, self.settings, xmlId=[o.glyms_key for o in outcomes])
        product_ids = [int(i["id"]) for i in items]
        prices = list_service_prices(client, self.settings, **{"@productId": product_ids}) if product_ids else []
        by_xml: dict[str, list[CatalogService]] = {}
        for service in managed_catalog(items, prices, self.settings):
            by_xml.setdefault(service.xml_id, []).append(service)
        for outcome in outcomes:
            matches = by_xml.get(outcome.glyms_key, [])
            current = matches[0] if len(matches) == 1 else None
            if current is not None and outcome.bitrix_id is None:
                outcome.bitrix_id = current.bitrix_id
            change = outcome.change
            for step in outcome.steps:
                if step.status != UNKNOWN:
                    continue
                if step.command.entity == "service_price":
                    applied = (current is not None and current.price == change.price
                               and current.currency == self.settings.currency)
                else:
                    applied = current is not None and _fields_applied(change.fields, current)
                outcome.settle_step(step, applied)


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


def skipped_records(changes: Iterable[PlannedChange]) -> list[AuditRecord]:
    """Audit rows for services the plan could not write (invalid data, duplicate xmlIds) or left out on purpose."""
    return [
        AuditRecord(entity="service", glyms_key=c.xml_id, operation=c.action.value, outcome="skipped",
                    bitrix_id=str(c.bitrix_id) if c.bitrix_id is not None else None, error=c.reason)
        for c in changes
        if c.action in (Action.INVALID, Action.DUPLICATE, Action.EXCLUDED)
    ]
