"""Services -> catalog diff: pure functions, data in, plan out.

Glyms rows and Bitrix24 catalog rows are normalised to the same shape first, so that an
unchanged catalog always yields an empty plan (trimmed text, ``None`` == ``""``, prices as
decimals at the currency's precision).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum
from typing import Any, Iterable, Iterator, Mapping, NamedTuple, Optional, Sequence

from glyms_b24_pipeline.glyms.rows import PackedList, frozen_fields
from glyms_b24_pipeline.settings.model import ServicesSettings
from glyms_b24_pipeline.sync.basis import COMPACT, NO_FIELDS, PlanBasis, PlanOfChanges, no_fields
from glyms_b24_pipeline.sync.text import clean_text, is_blank, optional_int

# Bitrix24 keeps an iblock element's NAME in a 255-character column.
MAX_NAME_LENGTH = 255


class Action(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    REACTIVATE = "reactivate"
    DEACTIVATE = "deactivate"
    UNCHANGED = "unchanged"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    EXCLUDED = "excluded"  # its work-order type is in services.excluded_tipo_ot: left alone on purpose


WRITING_ACTIONS = (Action.CREATE, Action.UPDATE, Action.REACTIVATE, Action.DEACTIVATE)


@dataclass(frozen=True, **COMPACT)
class DesiredService:
    """A Glyms service as the catalog should hold it."""

    xml_id: str
    name: str
    detail_text: str
    code: str
    section_id: Optional[int]
    price: Optional[Decimal]
    id_tipo_ot: Optional[int]


@dataclass(frozen=True, **COMPACT)
class CatalogService:
    """A catalog service as Bitrix24 holds it, with its price of the configured type."""

    bitrix_id: int
    xml_id: str
    name: str
    detail_text: str
    code: str
    active: bool
    section_id: Optional[int]
    price_id: Optional[int]
    price: Optional[Decimal]
    currency: Optional[str]


@dataclass(frozen=True, **COMPACT)
class PlannedChange:
    """What one service needs; ``fields`` and ``price`` are what will be sent."""

    xml_id: str
    action: Action
    bitrix_id: Optional[int] = None
    fields: Mapping[str, Any] = field(default_factory=no_fields)
    price: Optional[Decimal] = None
    price_id: Optional[int] = None
    old_price: Optional[Decimal] = None
    reason: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def writes_price(self) -> bool:
        return self.price is not None

    @property
    def writes(self) -> bool:
        return self.action in WRITING_ACTIONS and (bool(self.fields) or self.writes_price)


@dataclass(frozen=True)
class ServiceSyncPlan(PlanOfChanges[PlannedChange]):
    changes: tuple[PlannedChange, ...]
    glyms_count: int
    active_catalog_size: int
    #: the run and portal lock it was computed under; only that run, under that lock, applies it
    basis: Optional[PlanBasis] = None

    @property
    def price_changes(self) -> list[PlannedChange]:
        return [c for c in self.changes if c.writes_price]

    @property
    def deactivation_share(self) -> float:
        """Share of the active managed catalog this plan would deactivate."""
        deactivations = len(self.by_action(Action.DEACTIVATE))
        return deactivations / self.active_catalog_size if self.active_catalog_size else 0.0

    def mass_deactivation(self, max_share: float) -> Optional[str]:
        """Why this plan must not be pushed without the operator's consent, or None.

        An empty Glyms answer always counts: it is far likelier a broken query or the wrong
        database than a lab that sells nothing.
        """
        deactivations = len(self.by_action(Action.DEACTIVATE))
        if not deactivations:
            return None
        if self.glyms_count == 0:
            return (f"Glyms returned no active services, so all {deactivations} active catalog services would be "
                    "deactivated")
        if self.deactivation_share > max_share:
            return (f"{deactivations} of {self.active_catalog_size} active catalog services "
                    f"({self.deactivation_share:.0%}) would be deactivated, above the limit of {max_share:.0%} "
                    "(services.max_deactivation_share)")
        return None

    def counts(self) -> dict[str, int]:
        counter = Counter(c.action.value for c in self.changes)
        result = {action.value: counter.get(action.value, 0) for action in Action}
        result["price_changes"] = len(self.price_changes)
        result["field_updates"] = sum(
            1 for c in self.changes
            if c.action in (Action.UPDATE, Action.REACTIVATE) and any(key != "active" for key in c.fields)
        )
        result["without_price"] = sum(1 for c in self.changes if "no price in Glyms" in c.warnings)
        result["writes"] = len(self.writes)
        return result


def _missing(value: Any) -> bool:
    """None, or the NaN pandas puts in an empty numeric cell."""
    return value is None or (isinstance(value, float) and value != value)


def normalise_text(value: Any) -> str:
    """Trimmed text; ``None`` and blanks become ``""`` (Bitrix24 returns ``null`` for ``""``)."""
    if value is None:
        return ""
    return str(value).strip()


def normalise_price(value: Any, decimals: int) -> Optional[Decimal]:
    """A price as a Decimal at the currency's precision, or None when absent/unreadable."""
    if _missing(value):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    return number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def desired_service(row: Mapping[str, Any], settings: ServicesSettings) -> tuple[Optional[DesiredService], str, tuple[str, ...]]:
    """Map a Glyms row to the catalog shape; returns (service or None, reason invalid, warnings)."""
    xml_id = normalise_text(row.get("id_prestacion"))
    tipo_ot = optional_int(row.get("id_tipo_ot"))
    # Glyms text is cleaned of control characters (as the companies sync does); the catalog side is
    # only trimmed, so a control character a former writer left in Bitrix24 is cleaned by an update
    name = clean_text(row.get("descripcion"))
    warnings: list[str] = []
    if not xml_id:
        return None, "id_prestacion is empty", ()
    if is_blank(name):
        return None, "descripcion (name) is blank", ()
    if len(name) > MAX_NAME_LENGTH:
        return None, f"descripcion is {len(name)} characters long; Bitrix24 keeps at most {MAX_NAME_LENGTH}", ()
    raw_price = row.get("precio")
    price = normalise_price(raw_price, settings.currency_decimals)
    if price is None and not _missing(raw_price):
        return None, f"precio {raw_price!r} is not a number", ()
    if price is not None and price < 0:
        return None, f"precio {price} is negative", ()
    if price is None:
        warnings.append("no price in Glyms")
    code = clean_text(row.get("codigo"))
    if not code:
        warnings.append("codigo is empty: no price can be looked up for it")
    values_on_date = optional_int(row.get("precio_valores_en_fecha")) or 0
    if values_on_date > 1:
        warnings.append(f"{values_on_date} prices share the newest fecha_version ({row.get('precio_fecha_version')}): "
                        "the highest is in force")
    section_id = settings.sections_by_tipo_ot.get(tipo_ot) if tipo_ot is not None else None
    if section_id is None:
        warnings.append(f"id_tipo_ot {tipo_ot} has no section mapping")
    return (
        DesiredService(
            xml_id=xml_id,
            name=name,
            detail_text=clean_text(row.get("comentario")),
            code=code,
            section_id=section_id,
            price=price,
            id_tipo_ot=tipo_ot,
        ),
        "",
        tuple(warnings),
    )


class CatalogPrice(NamedTuple):
    """A catalog price row, normalised (a tuple: one per service of a large catalog)."""

    price_id: Optional[int]
    price: Optional[Decimal]
    currency: str


def catalog_price(price_row: Mapping[str, Any], decimals: int) -> CatalogPrice:
    """Normalise a ``catalog.price.list`` row."""
    return CatalogPrice(optional_int(price_row.get("id")), normalise_price(price_row.get("price"), decimals),
                        normalise_text(price_row.get("currency")))


def priced_catalog_service(item: Mapping[str, Any], price: Optional[CatalogPrice]) -> CatalogService:
    """Normalise a ``catalog.product.service.list`` row with its normalised price (or None)."""
    return CatalogService(
        bitrix_id=int(item["id"]),
        xml_id=normalise_text(item.get("xmlId")),
        name=normalise_text(item.get("name")),
        detail_text=normalise_text(item.get("detailText")),
        code=normalise_text(item.get("code")),
        active=normalise_text(item.get("active")).upper() != "N",
        section_id=optional_int(item.get("iblockSectionId")),
        price_id=price.price_id if price else None,
        price=price.price if price else None,
        currency=price.currency if price else None,
    )



class MappedRow(NamedTuple):
    """A Glyms row as :func:`desired_service` maps it."""

    xml_id: str
    service: Optional[DesiredService]
    reason: str
    warnings: tuple[str, ...]
    excluded: bool = False


@dataclass(frozen=True)
class GlymsCensus:
    """What one row cannot tell alone: ids the view gives more than once, codes several services share."""

    #: xmlId -> how many rows carry it (only those with more than one)
    repeated_ids: Mapping[str, int]
    #: codigo -> the xmlIds of the services that carry it (only codes of more than one service)
    shared_codes: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, glyms_rows: Iterable[Mapping[str, Any]]) -> "GlymsCensus":
        ids: Counter[str] = Counter()
        by_code: dict[str, set[str]] = {}
        for row in glyms_rows:
            xml_id = normalise_text(row.get("id_prestacion"))
            if not xml_id:
                continue
            ids[xml_id] += 1
            code = clean_text(row.get("codigo"))
            if code:
                by_code.setdefault(code, set()).add(xml_id)
        return cls({xml_id: n for xml_id, n in ids.items() if n > 1},
                   {code: tuple(sorted(held, key=_id_order)) for code, held in by_code.items() if len(held) > 1})


def _id_order(xml_id: str) -> tuple[int, str]:
    return (int(xml_id), "") if xml_id.isdigit() else (1 << 62, xml_id)


def merge_copies(copies: list[MappedRow]) -> MappedRow:
    """One id_prestacion the view returned several times: the same service every time is synced once;
    copies that differ are not synced (no copy is more right than another), and its catalog service is left alone."""
    first = copies[0]
    if all(copy.service == first.service and copy.reason == first.reason for copy in copies):
        note = f"id_prestacion {first.xml_id} appears {len(copies)} times in lims.v_prestacion_max_version (identical rows)"
        return first._replace(warnings=(*first.warnings, note))
    differing = sorted({name for copy in copies[1:] for name in _differences(first, copy)})
    return MappedRow(first.xml_id, None,
                     f"id_prestacion {first.xml_id} appears {len(copies)} times in lims.v_prestacion_max_version with "
                     f"different {', '.join(differing)}; not synced until the view gives it once", ())


def _differences(a: MappedRow, b: MappedRow) -> list[str]:
    if a.service is None or b.service is None:
        return ["values"]
    names = {"name": "descripcion", "detail_text": "comentario", "code": "codigo", "section_id": "id_tipo_ot",
             "price": "precio", "id_tipo_ot": "id_tipo_ot"}
    return [column for attribute, column in names.items() if getattr(a.service, attribute) != getattr(b.service, attribute)]


def _field_changes(want: DesiredService, have: CatalogService, settings: ServicesSettings) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if want.name != have.name:
        changes["name"] = want.name
    if want.detail_text != have.detail_text:
        changes["detailText"] = want.detail_text
    if want.code != have.code:
        changes["code"] = want.code
    if settings.keep_sections_in_line and want.section_id is not None and want.section_id != have.section_id:
        changes["iblockSectionId"] = want.section_id
    return changes


def managed_catalog(items: Iterable[Mapping[str, Any]], price_rows: Iterable[Mapping[str, Any]],
                    settings: ServicesSettings) -> list[CatalogService]:
    """The managed services (those with an xmlId), normalised, each with its price of the configured type.

    Both inputs are consumed once, row by row: the prices first (kept as compact tuples, the first
    one per product: the portal allows one per type), then the services, so a large listing is
    never held as dicts."""
    decimals = settings.currency_decimals
    prices: dict[int, CatalogPrice] = {}
    for row in price_rows:
        if optional_int(row.get("catalogGroupId")) == settings.price_type_id:
            product_id = int(row["productId"])
            if product_id not in prices:
                prices[product_id] = catalog_price(row, decimals)
    services: list[CatalogService] = PackedList()  # pickled in chunks between assets
    for item in items:
        if not str(item.get("xmlId") or "").strip():
            continue
        services.append(priced_catalog_service(item, prices.pop(int(item["id"]), None)))
    return services


def service_sync_plan(
    glyms_rows: Iterable[Mapping[str, Any]],
    catalog_items: Iterable[Mapping[str, Any]],
    price_rows: Iterable[Mapping[str, Any]],
    settings: ServicesSettings,
    basis: Optional[PlanBasis] = None,
) -> ServiceSyncPlan:
    """Compare active Glyms services with the catalog and list what each one needs.

    ``catalog_items`` are the services of the configured iblock that carry an ``xmlId``;
    ``price_rows`` the catalog's prices of the configured price type.
    """
    return plan_against_catalog(glyms_rows, managed_catalog(catalog_items, price_rows, settings), settings, basis)


def plan_against_catalog(
    glyms_rows: Iterable[Mapping[str, Any]],
    catalog: Iterable[CatalogService],
    settings: ServicesSettings,
    basis: Optional[PlanBasis] = None,
) -> ServiceSyncPlan:
    """:func:`service_sync_plan` on a catalog already normalised (rows without an xmlId are ignored).

    The Glyms rows are read twice (a census, then the plan): a one-shot iterator is listed first."""
    if iter(glyms_rows) is glyms_rows:
        glyms_rows = list(glyms_rows)
    catalog_by_xml: dict[str, list[CatalogService]] = {}
    for service in catalog:
        if service.xml_id:
            catalog_by_xml.setdefault(service.xml_id, []).append(service)
    changes: list[PlannedChange] = []
    seen: set[str] = set()
    for mapped in _mapped_rows(glyms_rows, settings):
        if mapped.xml_id:
            seen.add(mapped.xml_id)
        changes.append(_change_for(mapped, catalog_by_xml.get(mapped.xml_id, []), settings))
    changes += _leftovers(catalog_by_xml, seen)
    active_catalog_size = sum(1 for matches in catalog_by_xml.values() for m in matches if m.active)
    return ServiceSyncPlan(changes=tuple(changes), glyms_count=len(seen), active_catalog_size=active_catalog_size,
                           basis=basis)


def _mapped_rows(glyms_rows: Iterable[Mapping[str, Any]], settings: ServicesSettings) -> Iterator[MappedRow]:
    """Each Glyms service once, mapped: the view's copies of one id merged, shared codes noted."""
    census = GlymsCensus.of(glyms_rows)
    copies: dict[str, list[MappedRow]] = {}
    for row in glyms_rows:
        mapped = MappedRow(normalise_text(row.get("id_prestacion")), *desired_service(row, settings))
        if mapped.xml_id in census.repeated_ids:
            held = copies.setdefault(mapped.xml_id, [])
            held.append(mapped)
            if len(held) < census.repeated_ids[mapped.xml_id]:
                continue  # decided once every copy is in: the view's row order must not choose
            mapped = merge_copies(copies.pop(mapped.xml_id))
        tipo_ot = optional_int(row.get("id_tipo_ot"))
        if tipo_ot in settings.excluded_tipo_ot:
            yield MappedRow(mapped.xml_id, None, f"id_tipo_ot {tipo_ot} is excluded on purpose (services.excluded_tipo_ot)",
                            (), excluded=True)
            continue
        want = mapped.service
        if want is not None and want.code in census.shared_codes:
            others = ", ".join(i for i in census.shared_codes[want.code] if i != mapped.xml_id)
            mapped = mapped._replace(warnings=(*mapped.warnings, f"codigo {want.code} is also the code of active "
                                                                 f"service(s) {others}: they share its price"))
        yield mapped


def _duplicate(xml_id: str, matches: Sequence[CatalogService]) -> PlannedChange:
    ids = ", ".join(str(m.bitrix_id) for m in matches)
    return PlannedChange(xml_id, Action.DUPLICATE, reason=f"xmlId {xml_id} is on several Bitrix24 services ({ids})")


def _change_for(mapped: MappedRow, matches: Sequence[CatalogService], settings: ServicesSettings) -> PlannedChange:
    """What one Glyms service needs, given the catalog services that carry its xmlId."""
    xml_id, want, warnings = mapped.xml_id, mapped.service, mapped.warnings
    if mapped.excluded:  # its catalog copies, if any, are left as they are
        return PlannedChange(xml_id, Action.EXCLUDED, bitrix_id=matches[0].bitrix_id if len(matches) == 1 else None,
                             reason=mapped.reason)
    if len(matches) > 1:
        return _duplicate(xml_id, matches)
    have = matches[0] if matches else None
    if want is None:
        return PlannedChange(xml_id, Action.INVALID, bitrix_id=have.bitrix_id if have else None, reason=mapped.reason)
    if have is None:
        fields: dict[str, Any] = {"iblockId": settings.iblock_id, "xmlId": want.xml_id, "name": want.name,
                                  "code": want.code, "detailText": want.detail_text, "active": "Y"}
        if want.section_id is not None:
            fields["iblockSectionId"] = want.section_id
        return PlannedChange(xml_id, Action.CREATE, fields=frozen_fields(fields), price=want.price, warnings=warnings)
    fields = _field_changes(want, have, settings)
    action = Action.UPDATE
    if not have.active:
        fields["active"] = "Y"
        action = Action.REACTIVATE
    price = None
    if want.price is not None and (want.price != have.price or have.currency != settings.currency):
        price = want.price
    if not fields and price is None:
        action = Action.UNCHANGED
    return PlannedChange(xml_id, action, bitrix_id=have.bitrix_id, fields=frozen_fields(fields) if fields else NO_FIELDS,
                         price=price, price_id=have.price_id, old_price=have.price, warnings=warnings)


def _leftovers(catalog_by_xml: Mapping[str, Sequence[CatalogService]], seen: set[str]) -> Iterator[PlannedChange]:
    """Managed catalog services Glyms no longer has: deactivated (duplicates reported, never written)."""
    for xml_id, matches in catalog_by_xml.items():
        if xml_id in seen:
            continue
        if len(matches) > 1:
            if any(m.active for m in matches):
                yield _duplicate(xml_id, matches)
            continue
        if matches[0].active:
            yield PlannedChange(xml_id, Action.DEACTIVATE, bitrix_id=matches[0].bitrix_id, fields={"active": "N"},
                                reason="no longer an active service in Glyms")
