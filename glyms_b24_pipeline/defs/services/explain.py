"""``glyms-b24 explain service KEY``: one service, both sides, and what the next sync would do with it.

The plan is :func:`plan_against_catalog`, the sync's own, run on that one service's Glyms rows (with
the active services that share its codigo, so the shared-price warning is the sync's) and on the
catalog services that carry its xmlId. Everything here only reads: list methods on the portal,
SELECTs on Glyms, no portal lock.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Mapping, Optional, Sequence

from glyms_b24_pipeline.defs.services.assets import contract_parameters
from glyms_b24_pipeline.defs.services.plan import (
    CatalogService,
    PlannedChange,
    desired_service,
    managed_catalog,
    normalise_text,
    plan_against_catalog,
)
from glyms_b24_pipeline.defs.services.push import CATALOG_SELECT, PRICE_SELECT
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.settings.errors import ConfigError
from glyms_b24_pipeline.settings.model import ServicesSettings
from glyms_b24_pipeline.sync.text import clean_text, optional_int

#: audit rows shown per key
AUDIT_ROWS = 10


def asked_xml_id(key: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """The id_prestacion ``key`` names: the id itself, else the one service whose codigo it is."""
    key = key.strip()
    ids = {normalise_text(r.get("id_prestacion")) for r in rows}
    if key in ids:
        return key
    by_code = sorted({normalise_text(r.get("id_prestacion")) for r in rows if clean_text(r.get("codigo")) == key},
                     key=lambda i: (len(i), i))
    if len(by_code) > 1:
        raise ConfigError(f"codigo {key} is the code of services {', '.join(by_code)}: "
                          f"explain one of them by its id (glyms-b24 explain service {by_code[0]})")
    return by_code[0] if by_code else key


def _value(value: Any) -> Any:
    if value is None or isinstance(value, (int, str, bool)):
        return value
    return value.isoformat(timespec="seconds") if isinstance(value, _dt.datetime) else str(value)


def differences(glyms_rows: Sequence[Mapping[str, Any]], catalog: Sequence[CatalogService],
                settings: ServicesSettings) -> list[dict[str, Any]]:
    """Field by field, the Glyms row as the sync maps it against the one catalog service (none when 0 or several)."""
    if len(catalog) != 1:
        return []
    active = [r for r in glyms_rows if optional_int(r.get("activa")) == 1]
    want = desired_service(active[0], settings)[0] if active else None
    have = catalog[0]
    pairs = [
        ("name", want.name if want else None, have.name),
        ("detailText", want.detail_text if want else None, have.detail_text),
        ("code", want.code if want else None, have.code),
        ("iblockSectionId", want.section_id if want else None, have.section_id),
        ("active", "Y" if want else "N", "Y" if have.active else "N"),
        ("price", want.price if want else None, have.price),
        ("currency", settings.currency if want and want.price is not None else None, have.currency),
    ]
    return [{"field": name, "glyms": _value(ours), "bitrix24": _value(theirs), "same": ours == theirs}
            for name, ours, theirs in pairs if want is not None or name == "active"]


def planned(change: Optional[PlannedChange]) -> Optional[dict[str, Any]]:
    if change is None:
        return None
    return {"action": change.action.value, "bitrix_id": change.bitrix_id, "fields": dict(change.fields),
            "price": _value(change.price), "old_price": _value(change.old_price), "reason": change.reason,
            "warnings": list(change.warnings), "writes": change.writes}


def service_explanation(key: str, glyms_rows: Sequence[Mapping[str, Any]], catalog_items: Sequence[Mapping[str, Any]],
                        price_rows: Sequence[Mapping[str, Any]], audit: Sequence[Mapping[str, Any]],
                        settings: ServicesSettings) -> dict[str, Any]:
    """What ``explain service`` shows, from what was read (pure)."""
    xml_id = asked_xml_id(key, glyms_rows)
    own = [r for r in glyms_rows if normalise_text(r.get("id_prestacion")) == xml_id]
    active = [r for r in glyms_rows if optional_int(r.get("activa")) == 1]
    catalog = managed_catalog([i for i in catalog_items if normalise_text(i.get("xmlId")) == xml_id], price_rows, settings)
    plan = plan_against_catalog(active, catalog, settings)
    change = next((c for c in plan.changes if c.xml_id == xml_id), None)
    mapped = []
    for row in own:
        want, reason, warnings = desired_service(row, settings)
        mapped.append({
            "row": {k: _value(v) for k, v in row.items()},
            "active": optional_int(row.get("activa")) == 1,
            "mapped": None if want is None else {
                "name": want.name, "detailText": want.detail_text, "code": want.code,
                "iblockSectionId": want.section_id, "price": _value(want.price), "currency": settings.currency},
            "reason": reason, "warnings": list(warnings)})
    return {
        "entity": "service",
        "key": xml_id,
        "glyms": mapped,
        "bitrix24": [{"id": s.bitrix_id, "xmlId": s.xml_id, "name": s.name, "code": s.code,
                      "active": "Y" if s.active else "N", "iblockSectionId": s.section_id,
                      "price": _value(s.price), "currency": s.currency} for s in catalog],
        "differences": differences(own, catalog, settings),
        "change_log": [],
        "audit": [{k: _value(v) for k, v in row.items()} for row in audit],
        "next": [{"sync": "services_sync", **(planned(change) or {"action": "none", "reason": "", "warnings": [],
                                                                   "fields": {}, "writes": False})}],
    }


def read_service_explanation(client: Any, dsn: str, settings: ServicesSettings, key: str) -> dict[str, Any]:
    """Read one service from Glyms, the portal and the audit, then explain it (a handful of requests)."""
    db = GlymsDatabase(dsn=dsn)
    db.require_contract()
    glyms_rows = db.rows("service_explain", {"key": key.strip(), **contract_parameters(settings)})
    xml_id = asked_xml_id(key, glyms_rows)
    # single calls, not batches: a service has one catalog entry (a few with the legacy's duplicates)
    items = list(client.iter_fast("catalog.product.service.list", {
        "select": CATALOG_SELECT, "filter": {"iblockId": settings.iblock_id, "xmlId": xml_id}},
        id_field="id", result_key="services", pages_per_batch=1))
    prices: list[dict] = []
    if items:
        prices = list(client.iter_fast("catalog.price.list", {
            "select": PRICE_SELECT,
            "filter": {"catalogGroupId": settings.price_type_id, "productId": [int(i["id"]) for i in items]}},
            id_field="id", result_key="prices", pages_per_batch=1))
    audit = db.rows("sync_audit_search", {"since": None, "outcome": None, "glyms_key": xml_id, "entity": None,
                                          "run_id": None, "limit": AUDIT_ROWS})
    return service_explanation(key, glyms_rows, items, prices, audit, settings)
