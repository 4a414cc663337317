"""Portal data (directories, catalog, companies, services, prices) with seeding and persistence."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import threading
from typing import Any, Optional

from .clock import iso_now
from .indexes import FieldIndex, KeyIndex, Table

# The communication matching rules belong to the duplicate-search method; the index follows them.
from .methods_crm import COMPANY_BY_COMMUNICATION, company_communication_keys

# Tables keyed by integer id (JSON turns keys into strings; loading turns them back).
ID_TABLES = ("users", "vats", "catalogs", "sections", "price_types", "user_fields", "companies",
             "elements", "prices")

LEGACY_COMPANY_TYPES = [
    ("UC_HMSG7D", "Cliente de laboratorio"),
    ("4", "Cliente de calibración"),
    ("UC_EYGC4I", "Cliente de inspección"),
]
DEFAULT_COMPANY_TYPES = [
    ("CUSTOMER", "Cliente"), ("SUPPLIER", "Proveedor"), ("COMPETITOR", "Competidor"),
    ("PARTNER", "Socio"), ("OTHER", "Otro"),
]
DEFAULT_INDUSTRIES = [
    ("IT", "Tecnología de la información"), ("TELECOM", "Telecomunicaciones"),
    ("MANUFACTURING", "Manufactura"), ("BANKING", "Servicios bancarios"), ("CONSULTING", "Consultoría"),
    ("FINANCE", "Finanzas"), ("GOVERNMENT", "Gobierno"), ("DELIVERY", "Logística"),
    ("ENTERTAINMENT", "Entretenimiento"), ("NOTPROFIT", "Sin fines de lucro"), ("OTHER", "Otro"),
]
LEGACY_INDUSTRIES = [
    ("UC_FV5RTZ", "Alimentos y bebidas"), ("1", "Industria química"), ("UC_5KOWIB", "Farmacéutica"),
    ("UC_6IPFTB", "Cosmética"), ("UC_PJRWUH", "Agroindustria"), ("UC_QMEHSY", "Minería"),
    ("UC_G2UX05", "Petróleo y gas"), ("UC_8B7GEU", "Construcción"), ("UC_D0S7HJ", "Metalurgia"),
    ("UC_FWPBRZ", "Plásticos"), ("UC_281LBU", "Papel y celulosa"), ("UC_N97ZBK", "Textil"),
    ("UC_SGFFD2", "Automotriz"), ("UC_Z8QQ65", "Energía"), ("UC_5HKBY1", "Agua y saneamiento"),
    ("UC_8DMZTD", "Salud"), ("UC_APU0VJ", "Educación e investigación"),
] + [(str(n), f"Rubro {n}") for n in range(3, 18)]
DEFAULT_EMPLOYEES = [
    ("EMPLOYEES_1", "menos de 50"), ("EMPLOYEES_2", "50-250"), ("EMPLOYEES_3", "250-500"),
    ("EMPLOYEES_4", "más de 500"),
]
LEGACY_USER_FIELDS = [
    ("UF_CRM_1748636158002", "Código Glyms"),
    ("UF_CRM_1748637070", "Nombre de fantasía"),
    ("UF_CRM_1748888310536", "Bloqueado"),
]


def _empty_data() -> dict[str, Any]:
    return {
        "member_id": secrets.token_hex(16),
        "users": {}, "currencies": [], "vats": {}, "catalogs": {}, "sections": {}, "price_types": {},
        "statuses": [], "user_fields": {}, "companies": {}, "elements": {}, "prices": {},
        "notifications": [],
        "counters": {"element": 1000, "price": 5000, "company": 100, "multifield": 8000, "status": 100,
                     "user_field": 6000, "property_value": 9800, "file": 6400, "notification": 1},
    }


# Name of the prices' index by (productId, catalogGroupId): one price per product and type.
PRICE_BY_PRODUCT_AND_TYPE = "productId+catalogGroupId"


class PortalState:
    """All portal data, guarded by one re-entrant lock (methods run under it).

    ``elements``, ``prices`` and ``companies`` are ``Table`` views of the rows in ``data``, with
    the indexes the methods look rows up by; writes to those rows go through the tables.
    """

    def __init__(self, offset_minutes: int = -180, member_id: Optional[str] = None,
                 first_ids: Optional[dict[str, int]] = None):
        self.lock = threading.RLock()
        self.offset_minutes = offset_minutes
        self.data = _empty_data()
        if member_id:
            self.data["member_id"] = member_id
        for name, value in (first_ids or {}).items():
            self.data["counters"][name] = value
        self._build_tables()
        self.seed_legacy_portal()

    def _build_tables(self) -> None:
        self.elements = Table(self.data["elements"], "id", {
            "xmlId": FieldIndex(lambda element: element.get("xmlId")),
        })
        self.prices = Table(self.data["prices"], "id", {
            "productId": FieldIndex(lambda price: price.get("productId")),
            PRICE_BY_PRODUCT_AND_TYPE: KeyIndex(lambda price: [(price["productId"], price["catalogGroupId"])]),
        })
        self.companies = Table(self.data["companies"], "ID", {
            "ORIGIN_ID": FieldIndex(lambda company: company.get("ORIGIN_ID")),
            COMPANY_BY_COMMUNICATION: KeyIndex(company_communication_keys),
        })

    # ---- ids and time -------------------------------------------------------------------
    def next_id(self, counter: str) -> int:
        with self.lock:
            value = self.data["counters"][counter]
            self.data["counters"][counter] = value + 1
            return value

    def bump_counter(self, counter: str, used_id: int) -> None:
        """Keep a counter above an id chosen by a seeding call."""
        with self.lock:
            self.data["counters"][counter] = max(self.data["counters"][counter], int(used_id) + 1)

    def now(self) -> str:
        return iso_now(self.offset_minutes)

    @property
    def member_id(self) -> str:
        return self.data["member_id"]

    # ---- seeding -------------------------------------------------------------------------
    def seed_legacy_portal(self) -> None:
        """A fresh portal as the legacy one: iblock 24, sections 44/46/48, price types 1-2, ARS."""
        now = self.now()
        self.data["users"][1] = {
            "ID": "1", "ACTIVE": True, "NAME": "Administrador", "LAST_NAME": "del Portal",
            "EMAIL": "admin@glyms.example", "LAST_LOGIN": now, "DATE_REGISTER": now, "IS_ONLINE": "Y",
            "TIME_ZONE_OFFSET": str(self.offset_minutes * 60), "TIMESTAMP_X": now,
            "PERSONAL_GENDER": "", "PERSONAL_BIRTHDAY": "", "UF_DEPARTMENT": [1], "ADMIN": True,
        }
        self.data["currencies"] = [
            {"CURRENCY": "ARS", "BASE": "Y", "SORT": "100", "FULL_NAME": "Peso argentino"},
            {"CURRENCY": "USD", "BASE": "N", "SORT": "200", "FULL_NAME": "Dólar estadounidense"},
        ]
        self.data["vats"][1] = {"id": 1, "name": "Sin IVA", "rate": None, "active": "Y"}
        self.data["vats"][2] = {"id": 2, "name": "IVA 21%", "rate": 21.0, "active": "Y"}
        self.data["vats"][3] = {"id": 3, "name": "IVA 10,5%", "rate": 10.5, "active": "Y"}
        self.add_catalog(24, "Catálogo de productos CRM")
        # Real portals also carry the offers (SKU) catalog bound to the product catalog.
        self.add_catalog(26, "Catálogo de productos CRM (ofertas)", product_iblock_id=24, sku_property_id=110)
        self.add_section(44, 24, "Inspecciones", sort=100)
        self.add_section(46, 24, "Calibraciones", sort=200)
        self.add_section(48, 24, "Análisis de laboratorio", sort=300)
        self.add_price_type(1, "BASE", base=True, sort=100, xml_id="BASE")
        self.add_price_type(2, "MAYORISTA", base=False, sort=200, xml_id="MAYORISTA")
        sort = 10
        for status_id, name in DEFAULT_COMPANY_TYPES + LEGACY_COMPANY_TYPES:
            self.add_status("COMPANY_TYPE", status_id, name, sort=sort, system=status_id == "OTHER")
            sort += 10
        sort = 10
        for status_id, name in DEFAULT_INDUSTRIES + LEGACY_INDUSTRIES:
            self.add_status("INDUSTRY", status_id, name, sort=sort, system=status_id == "OTHER")
            sort += 10
        for index, (status_id, name) in enumerate(DEFAULT_EMPLOYEES):
            self.add_status("EMPLOYEES", status_id, name, sort=(index + 1) * 10, system=False)
        for field_name, label in LEGACY_USER_FIELDS:
            self.add_user_field(field_name, "string", label)

    def add_catalog(self, iblock_id: int, name: str, product_iblock_id: Optional[int] = None,
                    sku_property_id: Optional[int] = None, vat_id: Optional[int] = None) -> dict:
        with self.lock:
            row = {"id": int(iblock_id), "iblockId": int(iblock_id), "iblockTypeId": "CRM_PRODUCT_CATALOG",
                   "lid": "s1", "name": name, "productIblockId": product_iblock_id,
                   "skuPropertyId": sku_property_id, "subscription": "N", "vatId": vat_id}
            self.data["catalogs"][int(iblock_id)] = row
            return row

    def add_section(self, section_id: Optional[int], iblock_id: int, name: str, sort: int = 500,
                    parent_id: Optional[int] = None, xml_id: Optional[str] = None, code: Optional[str] = None,
                    active: str = "Y") -> dict:
        with self.lock:
            if section_id is None:
                section_id = max(list(self.data["sections"]) + [100]) + 2
            row = {"id": int(section_id), "iblockId": int(iblock_id), "iblockSectionId": parent_id,
                   "name": name, "xmlId": xml_id, "code": code, "sort": int(sort), "active": active,
                   "description": None, "descriptionType": "text"}
            self.data["sections"][int(section_id)] = row
            return row

    def add_price_type(self, price_type_id: Optional[int], name: str, base: bool = False, sort: int = 100,
                       xml_id: Optional[str] = None) -> dict:
        with self.lock:
            if price_type_id is None:
                price_type_id = max(list(self.data["price_types"]) + [0]) + 1
            now = self.now()
            row = {"id": int(price_type_id), "name": name, "base": "Y" if base else "N", "sort": int(sort),
                   "xmlId": xml_id if xml_id is not None else name, "timestampX": now, "createdBy": 1,
                   "modifiedBy": 1, "dateCreate": now}
            self.data["price_types"][int(price_type_id)] = row
            return row

    def add_status(self, entity_id: str, status_id: str, name: str, sort: Optional[int] = None,
                   system: bool = False) -> dict:
        with self.lock:
            statuses = self.data["statuses"]
            existing = [s for s in statuses if s["ENTITY_ID"] == entity_id]
            if sort is None:
                sort = max([int(s["SORT"]) for s in existing] + [0]) + 10
            row = {"ID": str(self.next_id("status")), "ENTITY_ID": entity_id, "STATUS_ID": str(status_id),
                   "NAME": name, "NAME_INIT": name if system else "", "SORT": str(sort),
                   "SYSTEM": "Y" if system else "N", "CATEGORY_ID": None, "COLOR": None, "SEMANTICS": None}
            statuses[:] = [s for s in statuses if not (s["ENTITY_ID"] == entity_id and s["STATUS_ID"] == str(status_id))]
            statuses.append(row)
            return row

    def add_user_field(self, field_name: str, user_type_id: str = "string", label: str = "",
                       multiple: bool = False, mandatory: bool = False, settings: Optional[dict] = None,
                       sort: int = 100, xml_id: Optional[str] = None, enum_list: Optional[list] = None) -> dict:
        with self.lock:
            field_id = self.next_id("user_field")
            row: dict[str, Any] = {
                "ID": str(field_id), "ENTITY_ID": "CRM_COMPANY", "FIELD_NAME": field_name,
                "USER_TYPE_ID": user_type_id, "XML_ID": xml_id, "SORT": str(sort),
                "MULTIPLE": "Y" if multiple else "N", "MANDATORY": "Y" if mandatory else "N",
                "SHOW_FILTER": "N", "SHOW_IN_LIST": "Y", "EDIT_IN_LIST": "Y", "IS_SEARCHABLE": "N",
                "SETTINGS": settings or {}, "EDIT_FORM_LABEL": label, "LIST_COLUMN_LABEL": label,
                "LIST_FILTER_LABEL": label, "ERROR_MESSAGE": None, "HELP_MESSAGE": None,
            }
            if user_type_id == "enumeration":
                items: list[dict[str, Any]] = []
                for index, item in enumerate(enum_list or []):
                    value = item.get("VALUE") if isinstance(item, dict) else str(item)
                    items.append({"ID": str(self.next_id("user_field")), "SORT": str((index + 1) * 10),
                                  "VALUE": value, "DEF": "N", "XML_ID": secrets.token_hex(16)})
                row["LIST"] = items
            self.data["user_fields"][field_id] = row
            return row

    def user_field_by_name(self, field_name: str) -> Optional[dict]:
        for row in self.data["user_fields"].values():
            if row["FIELD_NAME"] == field_name:
                return row
        return None

    def currency_codes(self) -> list[str]:
        return [c["CURRENCY"] for c in self.data["currencies"]]

    def statuses_of(self, entity_id: str) -> list[dict]:
        rows = [s for s in self.data["statuses"] if s["ENTITY_ID"] == entity_id]
        return sorted(rows, key=lambda s: (int(s["SORT"]), int(s["ID"])))

    # ---- persistence --------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.data))

    def restore(self, data: dict[str, Any]) -> None:
        with self.lock:
            fresh = _empty_data()
            fresh.update(data)
            for table in ID_TABLES:
                fresh[table] = {int(key): value for key, value in (fresh.get(table) or {}).items()}
            fresh["counters"] = {**_empty_data()["counters"], **data.get("counters", {})}
            self.data = fresh
            # Indexes are not saved (the file format stays as it was): rebuild them from the rows.
            self._build_tables()


def write_json_atomically(path: str, payload: dict[str, Any]) -> None:
    """Write to a temporary file next to ``path`` and rename it, so a crash never leaves half a file."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".emulator-state-", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(payload, stream, ensure_ascii=False, indent=1)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
