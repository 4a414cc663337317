"""``glyms-b24 check-mappings``: are the configured ids real, and is every Glyms value in use mapped?

Two directions, one report:

* portal: every id or code of the settings (price type, iblock, sections, COMPANY_TYPE and
  INDUSTRY STATUS_IDs, company user fields) exists in the portal, else the closest ones it has;
* Glyms: every ``id_tipo_ot`` / ``id_cliente_tipo`` in use has an entry in the maps.

:func:`check_mappings` is the reusable part: a sync may run it first and refuse to write with a
broken map (``report.ok``); the CLI prints it.
"""

from __future__ import annotations

import argparse
import difflib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from glyms_b24_pipeline.bitrix24.client import PAGE_SIZE, BatchCommand
from glyms_b24_pipeline.config import Settings, load_settings, require_env
from glyms_b24_pipeline.errors import OperatorError
from glyms_b24_pipeline.glyms.connection import connect, fetch_all
from glyms_b24_pipeline.glyms.contract import check_contract
from glyms_b24_pipeline.sql_files import read_sql

#: the parts a check can be limited to, by sync name
SYNCS = ("services", "companies")

# kinds of problem, in report order; the value is what the CLI shows in its TIPO column
KINDS: dict[str, str] = {
    "iblock": "iblock",
    "price_type": "tipo de precio",
    "section": "sección",
    "services_unmapped": "tipo de OT sin mapeo",
    "company_type": "tipo de empresa",
    "industry": "sector",
    "user_field": "campo de usuario",
    "companies_unmapped": "valor de Glyms sin mapeo",
}


@dataclass(frozen=True)
class MappingProblem:
    """One configured value the portal lacks, or one Glyms value the maps lack."""

    kind: str
    setting: str  # the settings key, e.g. services.sections_by_tipo_ot[1]
    value: Any
    problem: str  # one line, Spanish
    closest: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "setting": self.setting, "value": self.value, "problem": self.problem,
                "closest": list(self.closest)}


class BrokenMapping(OperatorError):
    """A sync refused to write: its mappings do not match the portal or Glyms (exit code 2)."""


@dataclass
class MappingReport:
    """``problems`` per kind (see :data:`KINDS`); ``checked`` = how many values were compared."""

    problems: dict[str, list[MappingProblem]] = field(default_factory=dict)
    checked: int = 0

    def add(self, problem: MappingProblem) -> None:
        self.problems.setdefault(problem.kind, []).append(problem)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    def all(self) -> list[MappingProblem]:
        order = list(KINDS)
        return [p for kind in sorted(self.problems, key=lambda k: order.index(k) if k in order else len(order))
                for p in self.problems[kind]]

    def raise_if_portal_broken(self) -> "MappingReport":
        """For a sync about to write: stop (``BrokenMapping``) when a configured id or code does not exist in
        the portal. Glyms values without a mapping only warn (the field is left out, as the legacy did)."""
        portal = {kind: problems for kind, problems in self.problems.items() if not kind.endswith("_unmapped")}
        if any(portal.values()):
            MappingReport(portal, self.checked).raise_if_broken()
        return self

    def raise_if_broken(self) -> "MappingReport":
        """For a sync about to write: stop with one line (``BrokenMapping``) unless every mapping is right."""
        if not self.ok:
            raise BrokenMapping(f"nothing written: {self.summary()}")
        return self

    def summary(self) -> str:
        """One line: what is wrong, for a sync's failure message or the CLI's last line."""
        if self.ok:
            return f"mapeos correctos ({self.checked} valores revisados)"
        problems = self.all()
        first = problems[0]
        more = f" y {len(problems) - 1} más" if len(problems) > 1 else ""
        count = f"{len(problems)} problema{'s' if len(problems) != 1 else ''} de mapeo"
        return f"{count}: {first.setting}: {first.problem}{more} (glyms-b24 check-mappings)"


# --- what the portal has --------------------------------------------------------------------------


@dataclass(frozen=True)
class PortalCatalog:
    """The portal's ids and codes the settings refer to: id -> display name."""

    iblocks: Mapping[str, str]
    price_types: Mapping[str, str]
    sections: Mapping[str, str]
    company_types: Mapping[str, str]
    industries: Mapping[str, str]
    user_fields: Mapping[str, str]


def _items(result: Any, key: str) -> list[dict[str, Any]]:
    items = result.get(key) if isinstance(result, dict) else result
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def read_portal(client: Any, settings: Settings, syncs: Sequence[str] = SYNCS) -> PortalCatalog:
    """Only the listings the chosen syncs need, in one batch request (a sync runs this before every push)."""
    commands = []
    if "services" in syncs:
        commands += [
            BatchCommand("catalogs", "catalog.catalog.list", {"select": ["id", "iblockId", "name"]}),
            BatchCommand("price_types", "catalog.priceType.list", {"select": ["id", "name"]}),
            BatchCommand("sections", "catalog.section.list", {"filter": {"iblockId": settings.services.iblock_id},
                                                              "select": ["id", "name", "iblockId"],
                                                              "order": {"id": "ASC"}, "start": -1}),
        ]
    if "companies" in syncs:
        commands += [
            BatchCommand("statuses", "crm.status.list", {"order": {"SORT": "ASC"}}),
            BatchCommand("user_fields", "crm.company.userfield.list", {"order": {"SORT": "ASC"}}),
        ]
    results = client.batch(commands) if commands else {}
    for outcome in results.values():
        if not outcome.ok:
            raise outcome.error

    def items(key: str, wrapper: str) -> list[dict[str, Any]]:
        return _items(results[key].result, wrapper) if key in results else []

    sections_rows = items("sections", "sections")
    if len(sections_rows) == PAGE_SIZE:  # a big catalog: page on from the last section
        sections_rows += client.list_fast("catalog.section.list", {
            "filter": {"iblockId": settings.services.iblock_id, ">id": sections_rows[-1]["id"]},
            "select": ["id", "name", "iblockId"]}, id_field="id", result_key="sections")
    statuses = items("statuses", "")

    def directory(entity_id: str) -> dict[str, str]:
        return {str(s.get("STATUS_ID")): str(s.get("NAME") or "") for s in statuses if s.get("ENTITY_ID") == entity_id}

    return PortalCatalog(
        iblocks={str(c.get("iblockId")): str(c.get("name") or "") for c in items("catalogs", "catalogs")},
        price_types={str(t.get("id")): str(t.get("name") or "") for t in items("price_types", "priceTypes")},
        sections={str(s.get("id")): str(s.get("name") or "") for s in sections_rows},
        company_types=directory("COMPANY_TYPE"),
        industries=directory("INDUSTRY"),
        user_fields={str(f.get("FIELD_NAME")): _label(f) for f in items("user_fields", "")},
    )


def _label(user_field: Mapping[str, Any]) -> str:
    label = user_field.get("EDIT_FORM_LABEL") or user_field.get("LIST_COLUMN_LABEL") or ""
    if isinstance(label, dict):  # per language when no LANG filter is given
        label = label.get("es") or label.get("en") or next(iter(label.values()), "")
    return str(label or "")


# --- what Glyms uses -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GlymsUsage:
    """Values in use -> how many rows carry them."""

    services_tipo_ot: Mapping[int, int]
    customers_tipo_ot: Mapping[int, int]
    customers_cliente_tipo: Mapping[int, int]


def read_glyms(db_dsn: str, syncs: Sequence[str] = SYNCS) -> GlymsUsage:
    def counts(conn: Any, query: str, params: Optional[Mapping[str, Any]] = None) -> dict[int, int]:
        return {int(r["value"]): int(r["rows"]) for r in fetch_all(conn, read_sql(f"queries/{query}.sql"), params)}

    services: dict[int, int] = {}
    customers_tipo_ot: dict[int, int] = {}
    customers_tipo: dict[int, int] = {}
    with connect(db_dsn) as conn:
        check_contract(conn, db_dsn)
        if "services" in syncs:
            services = counts(conn, "mapping_services_tipo_ot_in_use", {"active": 1})
        if "companies" in syncs:
            customers_tipo_ot = counts(conn, "mapping_customers_tipo_ot_in_use")
            customers_tipo = counts(conn, "mapping_customers_cliente_tipo_in_use")
    return GlymsUsage(services, customers_tipo_ot, customers_tipo)


# --- the comparison (pure) -----------------------------------------------------------------------


def _closest(value: Any, existing: Mapping[str, str], n: int = 3) -> tuple[str, ...]:
    matches = difflib.get_close_matches(str(value), list(existing), n=n, cutoff=0.0)
    return tuple(f"{key} ({existing[key]})" if existing[key] else key for key in matches)


def compare(settings: Settings, portal: PortalCatalog, glyms: GlymsUsage, syncs: Sequence[str] = SYNCS) -> MappingReport:
    report = MappingReport()

    def expect(kind: str, setting: str, value: Any, existing: Mapping[str, str], what: str,
               where: str = "en el portal") -> None:
        report.checked += 1
        if str(value) not in existing:
            none = "; no hay ninguno" if not existing else ""
            report.add(MappingProblem(kind, setting, value, f"{what} {value} no existe {where}{none}",
                                      _closest(value, existing)))

    def mapped(kind: str, setting: str, in_use: Mapping[int, int], mapping: Mapping[int, Any], column: str,
               rows_name: str) -> None:
        for value, rows in sorted(in_use.items()):
            report.checked += 1
            if value not in mapping:
                report.add(MappingProblem(kind, setting, value,
                                          f"{column} {value} está en uso en Glyms ({rows} {rows_name}) y no tiene mapeo"))

    if "services" in syncs:
        s = settings.services
        expect("iblock", "services.iblock_id", s.iblock_id, portal.iblocks, "el catálogo (iblock)")
        expect("price_type", "services.price_type_id", s.price_type_id, portal.price_types, "el tipo de precio")
        for tipo_ot, section in sorted(s.sections_by_tipo_ot.items()):
            expect("section", f"services.sections_by_tipo_ot[{tipo_ot}]", section, portal.sections, "la sección",
                   f"en el catálogo (iblock) {s.iblock_id}")
        mapped("services_unmapped", "services.sections_by_tipo_ot", glyms.services_tipo_ot, s.sections_by_tipo_ot,
               "id_tipo_ot", "servicios activos")
        mapped("services_unmapped", "services.contracts_by_tipo_ot", glyms.services_tipo_ot, s.contracts_by_tipo_ot,
               "id_tipo_ot", "servicios activos")
    if "companies" in syncs:
        c = settings.companies
        for tipo_ot, status_id in sorted(c.company_type_by_tipo_ot.items()):
            expect("company_type", f"companies.company_type_by_tipo_ot[{tipo_ot}]", status_id, portal.company_types,
                   "el COMPANY_TYPE")
        for cliente_tipo, status_id in sorted(c.industry_by_cliente_tipo.items()):
            expect("industry", f"companies.industry_by_cliente_tipo[{cliente_tipo}]", status_id, portal.industries,
                   "el INDUSTRY")
        for name, code in c.user_fields.model_dump().items():
            expect("user_field", f"companies.user_fields.{name}", code, portal.user_fields, "el campo")
        mapped("companies_unmapped", "companies.company_type_by_tipo_ot", glyms.customers_tipo_ot,
               c.company_type_by_tipo_ot, "id_tipo_ot", "clientes")
        mapped("companies_unmapped", "companies.industry_by_cliente_tipo", glyms.customers_cliente_tipo,
               c.industry_by_cliente_tipo, "id_cliente_tipo", "clientes")
    return report


def check_mappings(client: Any, db_dsn: str, settings: Settings, syncs: Optional[Iterable[str]] = None) -> MappingReport:
    """Every configured value against the portal and every Glyms value in use against the maps.

    ``syncs`` limits the check to the parts of those syncs (default: all of :data:`SYNCS`).
    Reads only; raises ``Bitrix24Error`` / ``GlymsDatabaseError`` when a side cannot be read.
    """
    chosen = tuple(syncs) if syncs is not None else SYNCS
    unknown = [name for name in chosen if name not in SYNCS]
    if unknown:
        raise ValueError(f"unknown sync(s) {unknown}; known: {', '.join(SYNCS)}")
    glyms = read_glyms(db_dsn, chosen)  # first: the Glyms schema contract is checked before anything is read
    return compare(settings, read_portal(client, settings, chosen), glyms, chosen)


# --- CLI -----------------------------------------------------------------------------------------

HEADERS = ("TIPO", "CLAVE", "VALOR", "PROBLEMA", "PARECIDOS EN EL PORTAL")


def check_mappings_command(args: argparse.Namespace) -> int:
    from glyms_b24_pipeline.bitrix24.commands import cli_client, operator_errors
    from glyms_b24_pipeline.operator.output import emit, note, render

    @operator_errors
    def run(args: argparse.Namespace) -> int:
        settings = load_settings(getattr(args, "config", None))
        dsn = require_env("GLYMS_PG_DSN", "DSN of the Glyms PostgreSQL database")
        with cli_client(args) as client:
            report = check_mappings(client, dsn, settings)
        fmt = getattr(args, "format", None) or "table"
        if fmt == "json":
            emit(json.dumps({"ok": report.ok, "checked": report.checked,
                             "problems": [p.as_dict() for p in report.all()]}, ensure_ascii=False, indent=2).splitlines())
        elif report.ok:
            if fmt == "csv":
                emit(render(HEADERS, [], fmt))
            note(f"todo en orden: {report.summary()}", fmt)
        else:
            rows = [(KINDS.get(p.kind, p.kind), p.setting, p.value, p.problem, ", ".join(p.closest)) for p in report.all()]
            if emit(render(HEADERS, rows, fmt)):
                note(f"{len(rows)} problema{'s' if len(rows) != 1 else ''} en {report.checked} valores revisados; corrija glyms_b24.yaml "
                     "(o Glyms) y vuelva a ejecutar glyms-b24 check-mappings", fmt)
        return 0 if report.ok else 1

    return run(args)
