"""CRM methods: ``crm.company.*``, ``crm.company.userfield.*``, ``crm.status.*``, ``user.current``, ``im.notify``.

Legacy CRM proxies: UPPER_CASE fields, every scalar rendered as a string, ``error: ""`` on failure.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from .errors import RestError, crm_error
from .listing import apply_filter, apply_order, paginate, parse_filter, parse_order
from .registry import CallContext, MethodResult, MethodSpec, as_int, param

# (name, type, title, read_only, extra descriptor keys)
COMPANY_FIELDS: list[tuple[str, str, str, bool, dict]] = [
    ("ID", "integer", "ID", True, {}),
    ("TITLE", "string", "Company Name", False, {}),
    ("COMPANY_TYPE", "crm_status", "Company Type", False, {"statusType": "COMPANY_TYPE"}),
    ("LOGO", "file", "Logo", False, {}),
    ("LEAD_ID", "crm_lead", "Lead", True, {}),
    ("HAS_PHONE", "char", "Phone Set", True, {}),
    ("HAS_EMAIL", "char", "E-mail Set", True, {}),
    ("HAS_IMOL", "char", "Open Line Set", True, {}),
    ("ASSIGNED_BY_ID", "user", "Responsible Person", False, {}),
    ("CREATED_BY_ID", "user", "Created By", True, {}),
    ("MODIFY_BY_ID", "user", "Modified By", True, {}),
    ("BANKING_DETAILS", "string", "Banking Details", False, {}),
    ("INDUSTRY", "crm_status", "Industry", False, {"statusType": "INDUSTRY"}),
    ("REVENUE", "double", "Annual Revenue", False, {}),
    ("CURRENCY_ID", "crm_currency", "Currency", False, {}),
    ("EMPLOYEES", "crm_status", "Number of Employees", False, {"statusType": "EMPLOYEES"}),
    ("COMMENTS", "string", "Comment", False, {}),
    ("DATE_CREATE", "datetime", "Creation Date", True, {}),
    ("DATE_MODIFY", "datetime", "Modification Date", True, {}),
    ("OPENED", "char", "Available to Everyone", False, {}),
    ("IS_MY_COMPANY", "char", "My Company", False, {}),
    ("ORIGINATOR_ID", "string", "External Source", False, {}),
    ("ORIGIN_ID", "string", "Identifier in External Source", False, {}),
    ("ORIGIN_VERSION", "string", "Original Version", False, {}),
] + [(name, "integer" if name.endswith("LOC_ADDR_ID") else "string", title, False, {}) for name, title in [
    ("ADDRESS", "Physical Address"), ("ADDRESS_2", "Address (line 2)"), ("ADDRESS_CITY", "City"),
    ("ADDRESS_POSTAL_CODE", "Postal Code"), ("ADDRESS_REGION", "Region"), ("ADDRESS_PROVINCE", "Province"),
    ("ADDRESS_COUNTRY", "Country"), ("ADDRESS_COUNTRY_CODE", "Country Code"),
    ("ADDRESS_LOC_ADDR_ID", "Location Address ID"), ("ADDRESS_LEGAL", "Legal Address"),
    ("REG_ADDRESS", "Legal Address"), ("REG_ADDRESS_2", "Legal Address (line 2)"),
    ("REG_ADDRESS_CITY", "Legal Address City"), ("REG_ADDRESS_POSTAL_CODE", "Legal Address Postal Code"),
    ("REG_ADDRESS_REGION", "Legal Address Region"), ("REG_ADDRESS_PROVINCE", "Legal Address Province"),
    ("REG_ADDRESS_COUNTRY", "Legal Address Country"), ("REG_ADDRESS_COUNTRY_CODE", "Legal Address Country Code"),
    ("REG_ADDRESS_LOC_ADDR_ID", "Legal Address Location ID"),
    ("UTM_SOURCE", "Advertising System"), ("UTM_MEDIUM", "Traffic Type"), ("UTM_CAMPAIGN", "Campaign Identifier"),
    ("UTM_CONTENT", "Campaign Content"), ("UTM_TERM", "Campaign Search Term"),
]] + [
    ("LAST_ACTIVITY_BY", "user", "Last Activity Author", False, {}),
    ("LAST_ACTIVITY_TIME", "datetime", "Last Activity Time", False, {}),
    ("LAST_COMMUNICATION_TIME", "string", "Last Communication Date", True, {}),
]
STANDARD_NAMES = [f[0] for f in COMPANY_FIELDS]
READ_ONLY = {f[0] for f in COMPANY_FIELDS if f[3]}
# IMPORT=Y lets these be written (migrations keep their original dates and authors).
IMPORT_WRITABLE = {"DATE_CREATE", "DATE_MODIFY", "CREATED_BY_ID", "MODIFY_BY_ID"}
MULTIFIELDS = {"PHONE": "Phone", "EMAIL": "E-mail", "WEB": "Website", "IM": "Messenger", "LINK": "LINK"}
MULTIFIELD_DEFAULT_TYPE = {"PHONE": "WORK", "EMAIL": "WORK", "WEB": "WORK", "IM": "OTHER", "LINK": "USER"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _crm_id(params: dict) -> int:
    value = as_int(param(params, "id", "ID"))
    if value is None or value <= 0:
        raise crm_error("ID is not defined or invalid.")
    return value


def _crm_map(params: dict, name: str, required: bool = True) -> dict:
    """``fields``/``FIELDS``/``Fields``/``arFields``; a non-map is refused the legacy way."""
    value = param(params, name, name.upper(), name.capitalize(), "ar" + name.capitalize(), default=None)
    if value is None and not required:
        return {}
    if isinstance(value, list) and not value:
        return {}
    if not isinstance(value, dict):
        raise crm_error(f"Parameter '{name}' must be array.")
    return value


def _string(value: Any) -> Optional[str]:
    if value is None:
        return None
    if value is True or value is False:
        return "Y" if value else "N"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ---- rendering --------------------------------------------------------------------------
def _multifield_rows(company: dict, type_id: str) -> list[dict]:
    return [{"ID": str(item["ID"]), "VALUE_TYPE": item["VALUE_TYPE"], "VALUE": item["VALUE"], "TYPE_ID": type_id}
            for item in company.get("FM", {}).get(type_id, [])]


def _user_field_value(ctx: CallContext, company: dict, uf: dict) -> Any:
    value = company.get(uf["FIELD_NAME"])
    if uf["MULTIPLE"] == "Y":
        return [_string(v) for v in (value or [])]
    if value is None:
        return "" if uf["USER_TYPE_ID"] in ("string", "url") else None
    if uf["USER_TYPE_ID"] == "boolean":
        return "1" if str(value) in ("1", "Y", "true", "True") else "0"
    return _string(value)


def render_company(ctx: CallContext, company: dict, select: Optional[list[str]] = None) -> dict:
    """A company as the portal prints it; ``select=None`` = the full ``get`` view."""
    user_fields = sorted(ctx.state.data["user_fields"].values(), key=lambda u: (int(u["SORT"]), int(u["ID"])))
    if select is None:
        full: dict[str, Any] = {name: _string(company.get(name)) for name in STANDARD_NAMES}
        for uf in user_fields:
            full[uf["FIELD_NAME"]] = _user_field_value(ctx, company, uf)
        for type_id in MULTIFIELDS:
            items = _multifield_rows(company, type_id)
            if items:
                full[type_id] = items
        return full
    uf_by_name = {uf["FIELD_NAME"]: uf for uf in user_fields}
    wanted: list[str] = []
    for name in select:
        if name == "*":
            wanted.extend(STANDARD_NAMES)
        elif name == "UF_*":
            wanted.extend(uf_by_name)
        elif name in STANDARD_NAMES or name in uf_by_name or name in MULTIFIELDS:
            wanted.append(name)
    multis = [n for n in dict.fromkeys(wanted) if n in MULTIFIELDS]
    row: dict[str, Any] = {}
    for name in dict.fromkeys(wanted):
        if name in MULTIFIELDS:
            continue
        row[name] = _user_field_value(ctx, company, uf_by_name[name]) if name in uf_by_name else _string(company.get(name))
    if multis and "ID" not in row:
        row["ID"] = str(company["ID"])
    for name in multis:
        row[name] = _multifield_rows(company, name)
    return row


# ---- writes ----------------------------------------------------------------------------
def _validate(ctx: CallContext, fields: dict) -> None:
    errors = []
    for type_id in ("EMAIL",):
        for item in fields.get(type_id) or []:
            if isinstance(item, dict) and item.get("VALUE") and not _EMAIL.match(str(item["VALUE"])):
                errors.append(f"Invalid E-mail address: {item['VALUE']}")
    if errors:
        raise RestError("ERROR_CORE", "\n".join(errors), 400)


def _writable(ctx: CallContext, fields: dict, import_mode: bool) -> dict:
    """Keep only writable standard and user fields; unknown keys are dropped silently."""
    uf_names = {uf["FIELD_NAME"] for uf in ctx.state.data["user_fields"].values()}
    kept = {}
    for name, value in fields.items():
        name = str(name).upper()
        if name in MULTIFIELDS or name == "ID":
            continue
        if name in READ_ONLY and not (import_mode and name in IMPORT_WRITABLE):
            continue
        if name in STANDARD_NAMES or name in uf_names:
            kept[name] = value if not isinstance(value, (dict, list)) or name in uf_names else None
    return kept


def _apply_multifields(ctx: CallContext, company: dict, fields: dict) -> None:
    """Add items without ID, change items with ID+VALUE, delete ID-only / empty VALUE / DELETE=Y."""
    storage = company.setdefault("FM", {})
    for type_id in MULTIFIELDS:
        items = fields.get(type_id, fields.get(type_id.lower()))
        if items is None:
            continue
        if isinstance(items, dict):
            items = list(items.values())
        current = storage.setdefault(type_id, [])
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            item_id = as_int(item.get("ID"))
            value = item.get("VALUE")
            value_type = item.get("VALUE_TYPE") or MULTIFIELD_DEFAULT_TYPE[type_id]
            if item_id is None:
                if value not in (None, ""):
                    current.append({"ID": ctx.state.next_id("multifield"), "VALUE_TYPE": str(value_type),
                                    "VALUE": str(value)})
                continue
            existing = next((entry for entry in current if entry["ID"] == item_id), None)
            if existing is None:
                continue
            if str(item.get("DELETE", "")).upper() == "Y" or value in (None, ""):
                current.remove(existing)
            else:
                existing["VALUE"] = str(value)
                if item.get("VALUE_TYPE"):
                    existing["VALUE_TYPE"] = str(item["VALUE_TYPE"])
        if not current:
            del storage[type_id]
    company["HAS_PHONE"] = "Y" if storage.get("PHONE") else "N"
    company["HAS_EMAIL"] = "Y" if storage.get("EMAIL") else "N"
    company["HAS_IMOL"] = "Y" if any(i["VALUE_TYPE"] == "IMOL" for i in storage.get("IM", [])) else "N"


def _first_status(ctx: CallContext, entity_id: str) -> Optional[str]:
    items = ctx.state.statuses_of(entity_id)
    return items[0]["STATUS_ID"] if items else None


def create_company(ctx: CallContext, fields: dict, import_mode: bool = False) -> int:
    """Insert a company with the portal's defaults (also used for seeding)."""
    fields = {str(k).upper(): v for k, v in fields.items()}
    _validate(ctx, fields)
    title = fields.get("TITLE")
    if title in (None, ""):
        raise RestError("ERROR_CORE", 'The "Company Name" field is required.', 400)
    now = ctx.state.now()
    company_id = ctx.state.next_id("company")
    company: dict[str, Any] = {
        "ID": company_id, "OPENED": "Y", "IS_MY_COMPANY": "N", "ASSIGNED_BY_ID": ctx.user_id,
        "CREATED_BY_ID": ctx.user_id, "MODIFY_BY_ID": ctx.user_id, "DATE_CREATE": now, "DATE_MODIFY": now,
        "COMPANY_TYPE": _first_status(ctx, "COMPANY_TYPE"), "INDUSTRY": _first_status(ctx, "INDUSTRY"),
        "EMPLOYEES": _first_status(ctx, "EMPLOYEES"), "CURRENCY_ID": ctx.state.currency_codes()[0],
        "REVENUE": 0, "COMMENTS": "", "HAS_PHONE": "N", "HAS_EMAIL": "N", "HAS_IMOL": "N",
        "LAST_ACTIVITY_BY": ctx.user_id, "LAST_ACTIVITY_TIME": now,
    }
    company.update(_writable(ctx, fields, import_mode))
    _apply_multifields(ctx, company, fields)
    ctx.state.data["companies"][company_id] = company
    return company_id


def company_add(ctx: CallContext, params: dict) -> MethodResult:
    fields = _crm_map(params, "fields")
    options = _crm_map(params, "params", required=False)
    import_mode = str(options.get("IMPORT", "N")).upper() == "Y"
    return MethodResult(create_company(ctx, fields, import_mode))


def company_update(ctx: CallContext, params: dict) -> MethodResult:
    company_id = _crm_id(params)
    fields = _crm_map(params, "fields")
    company = ctx.state.data["companies"].get(company_id)
    if company is None:
        raise crm_error("Company is not found")
    fields = {str(k).upper(): v for k, v in fields.items()}
    _validate(ctx, fields)
    if "TITLE" in fields and fields["TITLE"] in (None, ""):
        raise RestError("ERROR_CORE", 'The "Company Name" field is required.', 400)
    company.update(_writable(ctx, fields, False))
    _apply_multifields(ctx, company, fields)
    company["DATE_MODIFY"] = ctx.state.now()
    company["MODIFY_BY_ID"] = ctx.user_id
    return MethodResult(True)


def company_get(ctx: CallContext, params: dict) -> MethodResult:
    company = ctx.state.data["companies"].get(_crm_id(params))
    if company is None:
        raise crm_error("Not found")
    return MethodResult(render_company(ctx, company))


def company_delete(ctx: CallContext, params: dict) -> MethodResult:
    company_id = _crm_id(params)
    if ctx.state.data["companies"].pop(company_id, None) is None:
        raise crm_error("Company is not found")
    return MethodResult(True)


def _company_value(company: dict, field: str) -> Any:
    if field in MULTIFIELDS:
        return [item["VALUE"] for item in company.get("FM", {}).get(field, [])]
    return company.get(field)


def company_list(ctx: CallContext, params: dict) -> MethodResult:
    order = _crm_map(params, "order", required=False)
    filter_params = _crm_map(params, "filter", required=False)
    select = param(params, "select", "SELECT", "Select", "arSelect", default=None)
    if isinstance(select, dict):
        select = list(select.values())
    if not select:
        select = ["*", "UF_*"]
    select = [str(name).upper() if not str(name).upper().startswith("UF_") else str(name) for name in select]
    conditions = parse_filter(filter_params, lambda f: f.upper())
    rows = apply_filter(ctx.state.data["companies"].values(), conditions, _company_value)
    rows = apply_order(sorted(rows, key=lambda c: c["ID"]), parse_order(order, lambda f: f.upper()), _company_value)
    page = paginate(rows, param(params, "start", "START"), ctx.settings.page_size)
    rendered = [render_company(ctx, company, select) for company in page.rows]
    # Legacy CRM lists report total 0 in the fast (start=-1) mode.
    return MethodResult(rendered, page.next, 0 if page.fast else page.total)


def company_fields(ctx: CallContext, params: dict) -> MethodResult:
    result: dict[str, Any] = {}
    for name, type_, title, read_only, extra in COMPANY_FIELDS:
        result[name] = {"type": type_, "isRequired": name == "TITLE", "isReadOnly": read_only,
                        "isImmutable": False, "isMultiple": False, "isDynamic": False, **extra, "title": title}
    for name, title in MULTIFIELDS.items():
        result[name] = {"type": "crm_multifield", "isRequired": False, "isReadOnly": False, "isImmutable": False,
                        "isMultiple": True, "isDynamic": False, "title": title}
    for uf in sorted(ctx.state.data["user_fields"].values(), key=lambda u: (int(u["SORT"]), int(u["ID"]))):
        descriptor = {"type": uf["USER_TYPE_ID"], "isRequired": uf["MANDATORY"] == "Y", "isReadOnly": False,
                      "isImmutable": False, "isMultiple": uf["MULTIPLE"] == "Y", "isDynamic": True,
                      "title": uf["FIELD_NAME"], "listLabel": _label(uf["LIST_COLUMN_LABEL"]),
                      "formLabel": _label(uf["EDIT_FORM_LABEL"]), "filterLabel": _label(uf["LIST_FILTER_LABEL"]),
                      "settings": uf["SETTINGS"]}
        if "LIST" in uf:
            descriptor["items"] = [{"ID": item["ID"], "VALUE": item["VALUE"]} for item in uf["LIST"]]
        result[uf["FIELD_NAME"]] = descriptor
    return MethodResult(result)


def _label(value: Any, lang: Optional[str] = None) -> Any:
    if isinstance(value, dict):
        return value.get(lang or "es") or value.get("en") or next(iter(value.values()), "")
    return value


# ---- user fields --------------------------------------------------------------------------
def _normalise_field_name(name: str) -> str:
    name = str(name).upper()
    if name.startswith("UF_CRM_"):
        return name
    if name.startswith("UF_"):
        return "UF_CRM_" + name[3:]
    return "UF_CRM_" + name


def userfield_add(ctx: CallContext, params: dict) -> MethodResult:
    fields = _crm_map(params, "fields")
    if not fields.get("FIELD_NAME"):
        raise crm_error("The 'FIELD_NAME' field is not found.")
    if not fields.get("USER_TYPE_ID"):
        raise crm_error("The 'USER_TYPE_ID' field is not found.")
    name = _normalise_field_name(fields["FIELD_NAME"])
    if not re.fullmatch(r"UF_CRM_[A-Z0-9_]+", name) or len(name) > 50:
        raise RestError("ERROR_CORE", "Invalid field name.", 400)
    if ctx.state.user_field_by_name(name):
        raise RestError("ERROR_CORE", f"The field {name} already exists.", 400)
    label = fields.get("LABEL") or fields.get("EDIT_FORM_LABEL") or name
    row = ctx.state.add_user_field(
        name, str(fields["USER_TYPE_ID"]), label="", multiple=str(fields.get("MULTIPLE", "N")) == "Y",
        mandatory=str(fields.get("MANDATORY", "N")) == "Y", settings=fields.get("SETTINGS") or {},
        sort=as_int(fields.get("SORT")) or 100, xml_id=fields.get("XML_ID"), enum_list=fields.get("LIST"))
    for key in ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL", "ERROR_MESSAGE", "HELP_MESSAGE"):
        row[key] = fields.get(key, label if key.endswith("LABEL") else None)
    if "SHOW_FILTER" in fields:
        row["SHOW_FILTER"] = str(fields["SHOW_FILTER"])
    return MethodResult(int(row["ID"]))


def userfield_list(ctx: CallContext, params: dict) -> MethodResult:
    filter_params = dict(_crm_map(params, "filter", required=False))
    lang = filter_params.pop("LANG", None)
    order = parse_order(_crm_map(params, "order", required=False), str.upper) or [("SORT", False), ("ID", False)]
    rows = apply_filter(ctx.state.data["user_fields"].values(), parse_filter(filter_params, str.upper))
    rows = apply_order(rows, order)
    rendered = []
    for row in rows:
        copy = dict(row)
        for key in ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL", "ERROR_MESSAGE", "HELP_MESSAGE"):
            if lang:
                copy[key] = _label(copy[key], str(lang))
        rendered.append(copy)
    return MethodResult(rendered, None, len(rendered))


# ---- directories, user, notifications -----------------------------------------------------
def status_list(ctx: CallContext, params: dict) -> MethodResult:
    filter_params = _crm_map(params, "filter", required=False)
    order = parse_order(_crm_map(params, "order", required=False), str.upper) or [("SORT", False)]
    rows = apply_filter(ctx.state.data["statuses"], parse_filter(filter_params, str.upper))
    rows = apply_order(sorted(rows, key=lambda s: int(s["ID"])), order)
    return MethodResult([dict(row) for row in rows], None, len(rows))


def status_entity_items(ctx: CallContext, params: dict) -> MethodResult:
    entity_id = param(params, "entityId", "ENTITY_ID", "entityID")
    if not entity_id or not isinstance(entity_id, str):
        raise crm_error("The parameter entityId is not defined or invalid.")
    return MethodResult([{"NAME": s["NAME"], "SORT": int(s["SORT"]), "STATUS_ID": s["STATUS_ID"]}
                         for s in ctx.state.statuses_of(entity_id)])


def user_current(ctx: CallContext, params: dict) -> MethodResult:
    user = ctx.state.data["users"].get(ctx.user_id) or ctx.state.data["users"][1]
    return MethodResult({key: value for key, value in user.items() if key != "ADMIN"})


def notify_system_add(ctx: CallContext, params: dict) -> MethodResult:
    user_id = as_int(param(params, "USER_ID", "user_id", "to"))
    message = param(params, "MESSAGE", "message")
    if not user_id:
        raise RestError("USER_ID_EMPTY", "Recipient ID can't be empty", 400)
    if not message:
        raise RestError("MESSAGE_EMPTY", "Message can't be empty", 400)
    notification_id = ctx.state.next_id("notification")
    ctx.state.data["notifications"].append({"id": notification_id, "user_id": user_id, "message": str(message),
                                            "tag": param(params, "TAG", "tag"), "date": ctx.state.now()})
    return MethodResult(notification_id)


METHODS = [
    MethodSpec("crm.company.add", "crm", company_add, writes=True),
    MethodSpec("crm.company.update", "crm", company_update, writes=True),
    MethodSpec("crm.company.delete", "crm", company_delete, writes=True),
    MethodSpec("crm.company.get", "crm", company_get),
    MethodSpec("crm.company.list", "crm", company_list),
    MethodSpec("crm.company.fields", "crm", company_fields),
    MethodSpec("crm.company.userfield.add", "crm", userfield_add, writes=True),
    MethodSpec("crm.company.userfield.list", "crm", userfield_list),
    MethodSpec("crm.status.list", "crm", status_list),
    MethodSpec("crm.status.entity.items", "crm", status_entity_items),
    MethodSpec("user.current", "user", user_current),
    MethodSpec("im.notify.system.add", "im", notify_system_add, writes=True),
]
