"""Catalog methods: services, prices, price types, sections, catalogs.

Controller-based methods: camelCase keys, real JSON numbers, results wrapped in an entity key,
integer ``error`` codes on failure.
"""

from __future__ import annotations

from typing import Any, Optional

from .clock import normalise_datetime
from .errors import catalog_access_denied, catalog_error, missing_parameter
from .listing import apply_filter, apply_order, list_page, paginate, parse_filter, parse_order
from .registry import CallContext, MethodResult, MethodSpec, as_int, as_number, plain_number

SERVICE_TYPE = 7
PRODUCT_TYPE = 1
# Keys of a service as add/update/get print it (alphabetical, like the docs' examples; no measure).
SERVICE_KEYS = ["active", "available", "bundle", "code", "createdBy", "dateActiveFrom", "dateActiveTo",
                "dateCreate", "detailPicture", "detailText", "detailTextType", "iblockId", "iblockSectionId",
                "id", "modifiedBy", "name", "previewPicture", "previewText", "previewTextType", "sort",
                "timestampX", "type", "vatId", "vatIncluded", "xmlId"]
# list renders the full catalog field set, so these may be selected there too.
LIST_ONLY_KEYS = ["measure", "IblockSection"]
WRITABLE = {"name", "active", "code", "xmlId", "sort", "iblockSectionId", "IblockSection", "previewText",
            "detailText", "previewTextType", "detailTextType", "measure", "vatId", "vatIncluded",
            "createdBy", "modifiedBy", "dateActiveFrom", "dateActiveTo", "dateCreate", "previewPicture",
            "detailPicture"}
PRICE_KEYS = ["catalogGroupId", "currency", "extraId", "id", "price", "priceScale", "productId", "quantityFrom",
              "quantityTo", "timestampX"]


def _required(params: dict, name: str) -> Any:
    """Controllers bind arguments by exact name: a missing one is error 100."""
    if name not in params or params[name] is None:
        raise missing_parameter(name)
    return params[name]


def _fields(params: dict) -> dict:
    value = _required(params, "fields")
    if isinstance(value, list) and not value:
        return {}
    if not isinstance(value, dict):
        raise missing_parameter("fields")
    return value


def _select(params: dict) -> list[str]:
    select = params.get("select") or []
    if isinstance(select, dict):
        select = list(select.values())
    return [str(name) for name in select] if isinstance(select, list) else []


# ---- catalogs, sections, price types -------------------------------------------------------
def _simple_list(ctx: CallContext, params: dict, rows: list[dict], wrapper: str) -> MethodResult:
    filter_params = params.get("filter") if isinstance(params.get("filter"), dict) else {}
    rows = apply_filter(rows, parse_filter(filter_params))
    rows = apply_order(sorted(rows, key=lambda r: r["id"]), parse_order(params.get("order")))
    page = paginate(rows, params.get("start"), ctx.settings.page_size)
    select = _select(params)
    rendered = [{k: v for k, v in row.items() if not select or "*" in select or k in select} for row in page.rows]
    return MethodResult({wrapper: rendered}, page.next, page.total)


def catalog_list(ctx: CallContext, params: dict) -> MethodResult:
    return _simple_list(ctx, params, list(ctx.state.data["catalogs"].values()), "catalogs")


def section_list(ctx: CallContext, params: dict) -> MethodResult:
    filter_params = params.get("filter")
    if not isinstance(filter_params, dict) or not _has_key(filter_params, "iblockId"):
        raise catalog_error(0, "Required filter fields: iblockId")
    return _simple_list(ctx, params, list(ctx.state.data["sections"].values()), "sections")


def price_type_list(ctx: CallContext, params: dict) -> MethodResult:
    return _simple_list(ctx, params, list(ctx.state.data["price_types"].values()), "priceTypes")


def _has_key(filter_params: dict, field: str) -> bool:
    return any(str(key).lstrip("=!<>@%") == field for key in filter_params)


# ---- services -----------------------------------------------------------------------------
def _catalog_for_products(ctx: CallContext, iblock_id: Any) -> dict:
    """The product catalog an element may live in; offers catalogs refuse services."""
    catalog = ctx.state.data["catalogs"].get(as_int(iblock_id)) if iblock_id not in (None, "") else None
    if catalog is None:
        raise catalog_error(0, "iblock is not catalog")
    if catalog["productIblockId"] is not None:
        raise catalog_error(0, "productType is not allowed for this catalog")
    return catalog


def _picture(ctx: CallContext, element_id: int, field: str, value: Any, current: Any) -> Any:
    """``{"fileData": [name, base64]}`` stores a file id; ``{"remove": "Y"}`` clears it."""
    if isinstance(value, dict):
        if str(value.get("remove", "")).upper() == "Y":
            return None
        if value.get("fileData"):
            return str(ctx.state.next_id("file"))
    return current


def _picture_view(element_id: int, field: str, file_id: Any) -> Optional[dict]:
    if not file_id:
        return None
    url = (f"/rest/catalog.product.download?fields%5BfieldName%5D={field}&fields%5BfileId%5D={file_id}"
           f"&fields%5BproductId%5D={element_id}")
    return {"id": str(file_id), "url": url, "urlMachine": url}


def _property_values(ctx: CallContext, value: Any, current: list) -> list:
    """Scalars, ``{"value": v}`` or lists; an entry with ``valueId`` keeps its id, others replace."""
    items = value if isinstance(value, list) else [value]
    result = []
    for item in items:
        if isinstance(item, dict):
            raw, value_id = item.get("value"), item.get("valueId")
        else:
            raw, value_id = item, None
        if raw in (None, ""):
            continue
        result.append({"value": str(raw) if not isinstance(raw, (int, float)) else raw,
                       "valueId": str(value_id) if value_id else str(ctx.state.next_id("property_value"))})
    return result


def _apply_service_fields(ctx: CallContext, element: dict, fields: dict, creating: bool) -> None:
    offset = ctx.settings.timezone_offset_minutes
    for key, value in fields.items():
        if key.startswith("property") and key[8:].isdigit():
            element.setdefault("properties", {})[key[8:]] = _property_values(
                ctx, value, element.get("properties", {}).get(key[8:], []))
            continue
        if key not in WRITABLE:
            continue  # unknown, read-only and immutable fields are ignored silently
        if key in ("previewPicture", "detailPicture"):
            element[key] = _picture(ctx, element["id"], key, value, element.get(key))
        elif key in ("previewText", "detailText", "code"):
            element[key] = None if value in (None, "") else str(value)
        elif key in ("dateActiveFrom", "dateActiveTo", "dateCreate"):
            if value in (None, ""):
                element[key] = None
            else:
                parsed = normalise_datetime(str(value), offset)
                if parsed is None:
                    raise catalog_error(0, f"Field {key} has an invalid datetime value")
                element[key] = parsed
        elif key in ("sort", "iblockSectionId", "measure", "vatId", "createdBy", "modifiedBy"):
            element[key] = as_int(value) if value not in (None, "") else None
        elif key == "IblockSection":
            ids = value if isinstance(value, list) else [value]
            element[key] = [as_int(v) for v in ids if as_int(v)]
        elif key == "xmlId":
            # An empty external code becomes the element id (iblock behaviour on add).
            element[key] = (str(element["id"]) if creating else None) if value in (None, "") else str(value)
        elif key in ("active", "vatIncluded"):
            element[key] = "Y" if str(value).upper() in ("Y", "1", "TRUE") else "N"
        else:
            element[key] = str(value)


def _check_references(ctx: CallContext, element: dict) -> None:
    sections = ctx.state.data["sections"]
    for section_id in [element.get("iblockSectionId")] + list(element.get("IblockSection") or []):
        if section_id and (section_id not in sections or sections[section_id]["iblockId"] != element["iblockId"]):
            raise catalog_access_denied(200040300050)
    if element.get("vatId") is not None and element["vatId"] not in ctx.state.data["vats"]:
        raise catalog_error(0, "VAT vatId is not exists")
    users = ctx.state.data["users"]
    for key in ("createdBy", "modifiedBy"):
        if element.get(key) is not None and element[key] not in users:
            raise catalog_error(0, f"User {key} is not exists")


def render_service(element: dict, select: Optional[list[str]] = None) -> dict:
    """A service as add/update/get print it (``select`` = the columns a list asked for)."""
    full: dict[str, Any] = {}
    for key in SERVICE_KEYS + LIST_ONLY_KEYS:
        if key in ("previewPicture", "detailPicture"):
            full[key] = _picture_view(element["id"], key, element.get(key))
        elif key == "type":
            full[key] = element.get("type", SERVICE_TYPE)
        else:
            full[key] = element.get(key)
    for number, values in sorted(element.get("properties", {}).items(), key=lambda kv: int(kv[0])):
        full["property" + number] = (values[0] if len(values) == 1 else values) if values else None
    if select is None:
        view = {k: v for k, v in full.items() if k not in LIST_ONLY_KEYS}
        return dict(sorted(view.items()))
    if "*" in select:
        wanted = [k for k in full if k not in LIST_ONLY_KEYS] + [k for k in select if k != "*"]
    else:
        wanted = select
    return {key: full.get(key) for key in dict.fromkeys(wanted) if key in full or key.startswith("property")}


def _service(ctx: CallContext, element_id: Any, operation: str) -> dict:
    """The stored service or the configured error for a missing id / a non-service element."""
    element = ctx.state.data["elements"].get(as_int(element_id))
    if element is None:
        if ctx.settings.missing_service_error == "not_exists":
            raise catalog_error(0, "Product is not exists")
        if operation == "update":
            raise catalog_error(0, "iblock is not catalog")
        raise catalog_access_denied(200040300040)
    if element.get("type") != SERVICE_TYPE:
        raise catalog_error(0, "Product is not exists")
    return element


def create_element(ctx: CallContext, fields: dict, element_type: int = SERVICE_TYPE) -> dict:
    """Insert a catalog element (service by default); used by the REST method and by seeding."""
    if not isinstance(fields, dict):
        raise missing_parameter("fields")
    catalog = _catalog_for_products(ctx, fields.get("iblockId"))
    if fields.get("name") in (None, ""):
        raise catalog_error(0, "Required fields: name")
    now = ctx.state.now()
    explicit_id = as_int(fields.get("id")) if fields.get("id") is not None else None
    element_id = explicit_id or ctx.state.next_id("element")
    if explicit_id:
        ctx.state.bump_counter("element", explicit_id)
    element: dict[str, Any] = {
        "id": element_id, "iblockId": catalog["iblockId"], "type": element_type, "active": "Y",
        "available": "N", "bundle": "N", "code": None, "createdBy": ctx.user_id, "modifiedBy": ctx.user_id,
        "dateActiveFrom": None, "dateActiveTo": None, "dateCreate": now, "detailPicture": None,
        "detailText": None, "detailTextType": "text", "iblockSectionId": None, "name": None,
        "previewPicture": None, "previewText": None, "previewTextType": "text", "sort": 500,
        "timestampX": now, "vatId": None, "vatIncluded": "N", "xmlId": str(element_id), "measure": None,
        "properties": {},
    }
    _apply_service_fields(ctx, element, fields, creating=True)
    _check_references(ctx, element)
    ctx.state.data["elements"][element_id] = element
    return element


def service_add(ctx: CallContext, params: dict) -> MethodResult:
    element = create_element(ctx, _fields(params))
    return MethodResult({"service": render_service(element)})


def service_update(ctx: CallContext, params: dict) -> MethodResult:
    element_id = _required(params, "id")
    fields = _fields(params)
    element = _service(ctx, element_id, "update")
    if "iblockId" in fields and as_int(fields["iblockId"]) != element["iblockId"]:
        raise catalog_error(0, f"Product - {element['id']} is not exists in catalog - {fields['iblockId']}")
    if "name" in fields and fields["name"] in (None, ""):
        raise catalog_error(0, "Required fields: name")
    candidate = {**element, "properties": dict(element.get("properties", {}))}
    _apply_service_fields(ctx, candidate, fields, creating=False)
    _check_references(ctx, candidate)
    candidate["timestampX"] = ctx.state.now()
    candidate["modifiedBy"] = ctx.user_id if "modifiedBy" not in fields else candidate["modifiedBy"]
    element.clear()
    element.update(candidate)
    return MethodResult({"service": render_service(element)})


def service_get(ctx: CallContext, params: dict) -> MethodResult:
    return MethodResult({"service": render_service(_service(ctx, _required(params, "id"), "get"))})


def service_delete(ctx: CallContext, params: dict) -> MethodResult:
    element = _service(ctx, _required(params, "id"), "delete")
    del ctx.state.data["elements"][element["id"]]
    prices = ctx.state.data["prices"]
    for price_id in [pid for pid, price in prices.items() if price["productId"] == element["id"]]:
        del prices[price_id]
    return MethodResult(True)


def _element_value(element: dict, field: str) -> Any:
    if field.startswith("property") and field[8:].isdigit():
        return [v["value"] for v in element.get("properties", {}).get(field[8:], [])]
    return element.get(field)


def service_list(ctx: CallContext, params: dict) -> MethodResult:
    select = _select(params)
    if not ("*" in select or {"id", "iblockId"} <= set(select)):
        raise catalog_error(0, "Required select fields: id, iblockId")
    raw_filter = params.get("filter")
    filter_params: dict = raw_filter if isinstance(raw_filter, dict) else {}
    if not _has_key(filter_params, "iblockId"):
        raise catalog_error(0, "Required filter fields: iblockId")
    conditions = [c for c in parse_filter(filter_params) if c.field != "type"]
    for condition in conditions:
        if condition.field == "iblockId" and condition.operator in ("=", "@"):
            for iblock_id in condition.value if isinstance(condition.value, list) else [condition.value]:
                _catalog_for_products(ctx, iblock_id)
    # The server forces type IN (7): simple products never show up here.
    elements = [e for e in ctx.state.data["elements"].values() if e.get("type") == SERVICE_TYPE]
    page = list_page(elements, conditions, parse_order(params.get("order")), params.get("start"),
                     ctx.settings.page_size, _element_value)
    return MethodResult({"services": [render_service(e, select) for e in page.rows]}, page.next, page.total)


# ---- prices -----------------------------------------------------------------------------
def render_price(price: dict, select: Optional[list[str]] = None) -> dict:
    full = {key: price.get(key) for key in PRICE_KEYS}
    if not select or "*" in select:
        return full
    return {key: full.get(key) for key in select if key in full}


def _validate_price(ctx: CallContext, product_id: Any, group_id: Any, amount: Any, currency: Any,
                    ignore_price_id: Optional[int] = None, pending_groups: Optional[set] = None,
                    ignore_ids: frozenset = frozenset()) -> tuple:
    if as_int(product_id) not in ctx.state.data["elements"]:
        raise catalog_access_denied(200040300030)
    if as_int(group_id) not in ctx.state.data["price_types"]:
        raise catalog_error(0, "Validate price error. Catalog price group is wrong")
    number = as_number(amount)
    if number is None or number < 0:
        raise catalog_error(0, "Validate price error. Price is wrong")
    if str(currency) not in ctx.state.currency_codes():
        raise catalog_error(0, "Validate price error. Currency is wrong")
    duplicate = any(p["productId"] == as_int(product_id) and p["catalogGroupId"] == as_int(group_id)
                    and p["id"] != ignore_price_id and p["id"] not in ignore_ids for p in ctx.state.data["prices"].values())
    if duplicate or (pending_groups is not None and as_int(group_id) in pending_groups):
        raise catalog_error(0, "Validate price error. Catalog product is allowed has only single price "
                               "without ranges in price group.")
    return as_int(product_id), as_int(group_id), plain_number(number), str(currency)


def create_price(ctx: CallContext, product_id: Any, group_id: Any, amount: Any, currency: Any,
                 price_id: Optional[int] = None) -> dict:
    product_id, group_id, amount, currency = _validate_price(ctx, product_id, group_id, amount, currency)
    price_id = price_id or ctx.state.next_id("price")
    ctx.state.bump_counter("price", price_id)
    price = {"id": price_id, "productId": product_id, "catalogGroupId": group_id, "price": amount,
             "priceScale": amount, "currency": currency, "quantityFrom": None, "quantityTo": None,
             "extraId": None, "timestampX": ctx.state.now()}
    ctx.state.data["prices"][price_id] = price
    return price


def _missing_price_fields(fields: dict, names: list[str]) -> None:
    missing = [name for name in names if fields.get(name) in (None, "")]
    if missing:
        raise catalog_error(0, "Required fields: " + ", ".join(missing))


def price_add(ctx: CallContext, params: dict) -> MethodResult:
    fields = _fields(params)
    _missing_price_fields(fields, ["productId", "catalogGroupId", "price", "currency"])
    price = create_price(ctx, fields["productId"], fields["catalogGroupId"], fields["price"], fields["currency"])
    return MethodResult({"price": render_price(price)})


def _price(ctx: CallContext, price_id: Any) -> dict:
    price = ctx.state.data["prices"].get(as_int(price_id))
    if price is None:
        raise catalog_error(0, "Price is not exists")
    return price


def price_update(ctx: CallContext, params: dict) -> MethodResult:
    price_id = _required(params, "id")
    fields = _fields(params)
    price = _price(ctx, price_id)
    if ctx.settings.price_update_requires_currency:
        _missing_price_fields(fields, ["price", "currency"])
    merged = {**price, **{k: v for k, v in fields.items() if k in ("productId", "catalogGroupId", "price", "currency")}}
    product_id, group_id, amount, currency = _validate_price(
        ctx, merged["productId"], merged["catalogGroupId"], merged["price"], merged["currency"],
        ignore_price_id=price["id"])
    price.update({"productId": product_id, "catalogGroupId": group_id, "price": amount, "priceScale": amount,
                  "currency": currency, "timestampX": ctx.state.now()})
    return MethodResult({"price": render_price(price)})


def price_get(ctx: CallContext, params: dict) -> MethodResult:
    return MethodResult({"price": render_price(_price(ctx, _required(params, "id")))})


def price_delete(ctx: CallContext, params: dict) -> MethodResult:
    price = _price(ctx, _required(params, "id"))
    del ctx.state.data["prices"][price["id"]]
    return MethodResult(True)


def price_list(ctx: CallContext, params: dict) -> MethodResult:
    filter_params = params.get("filter") if isinstance(params.get("filter"), dict) else {}
    page = list_page(ctx.state.data["prices"].values(), parse_filter(filter_params), parse_order(params.get("order")),
                     params.get("start"), ctx.settings.page_size)
    select = _select(params)
    return MethodResult({"prices": [render_price(p, select) for p in page.rows]}, page.next, page.total)


def price_modify(ctx: CallContext, params: dict) -> MethodResult:
    """Set a product's prices: listed ids updated, new entries created, unlisted prices deleted."""
    fields = _fields(params)
    product = fields.get("product") if isinstance(fields.get("product"), dict) else None
    if product is None or product.get("id") in (None, ""):
        raise catalog_error(0, "Required fields: product.id")
    product_id = as_int(product["id"])
    entries = product.get("prices") or []
    if isinstance(entries, dict):
        entries = list(entries.values())
    prices = ctx.state.data["prices"]
    listed = {as_int(entry.get("id")) for entry in entries if isinstance(entry, dict) and entry.get("id")}
    unlisted = [pid for pid, p in prices.items() if p["productId"] == product_id and pid not in listed]

    def delete_unlisted() -> None:
        for pid in unlisted:
            prices.pop(pid, None)

    # The older server deletes first, without a transaction: a failing call can leave no price.
    if ctx.settings.price_modify_delete_first:
        delete_unlisted()
    if product_id not in ctx.state.data["elements"]:
        raise catalog_access_denied(200040300030)
    pending: set = set()
    plan = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        _missing_price_fields(entry, ["catalogGroupId", "price", "currency"])
        existing = prices.get(as_int(entry.get("id"))) if entry.get("id") else None
        if entry.get("id") and (existing is None or existing["productId"] != product_id):
            raise catalog_error(0, "Price is not exists")
        ignore = existing["id"] if existing else None
        # Prices about to be deleted do not block a new price of their group; two entries of one group do.
        checked = _validate_price(ctx, product_id, entry["catalogGroupId"], entry["price"], entry["currency"],
                                  ignore_price_id=ignore, pending_groups=pending, ignore_ids=frozenset(unlisted))
        pending.add(checked[1])
        plan.append((existing, checked))
    if not ctx.settings.price_modify_delete_first:
        delete_unlisted()
    written = []
    for existing, (_product_id, group_id, amount, currency) in plan:
        if existing is not None:
            existing.update({"catalogGroupId": group_id, "price": amount, "priceScale": amount,
                             "currency": currency, "timestampX": ctx.state.now()})
            written.append(existing)
        else:
            written.append(create_price(ctx, product_id, group_id, amount, currency))
    return MethodResult({"prices": [render_price(p) for p in written]})


METHODS = [
    MethodSpec("catalog.catalog.list", "catalog", catalog_list),
    MethodSpec("catalog.section.list", "catalog", section_list),
    MethodSpec("catalog.priceType.list", "catalog", price_type_list),
    MethodSpec("catalog.product.service.add", "catalog", service_add, writes=True),
    MethodSpec("catalog.product.service.update", "catalog", service_update, writes=True),
    MethodSpec("catalog.product.service.delete", "catalog", service_delete, writes=True),
    MethodSpec("catalog.product.service.get", "catalog", service_get),
    MethodSpec("catalog.product.service.list", "catalog", service_list),
    MethodSpec("catalog.price.add", "catalog", price_add, writes=True),
    MethodSpec("catalog.price.update", "catalog", price_update, writes=True),
    MethodSpec("catalog.price.delete", "catalog", price_delete, writes=True),
    MethodSpec("catalog.price.get", "catalog", price_get),
    MethodSpec("catalog.price.list", "catalog", price_list),
    MethodSpec("catalog.price.modify", "catalog", price_modify, writes=True),
]
