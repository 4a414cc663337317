"""The services sync's mappings: the catalog iblock, the price type and the sections exist in the portal,
and every work-order type of an active service has a section and a price contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import psycopg2.extensions

from glyms_b24_pipeline.bitrix24.client import PAGE_SIZE, BatchCommand, CommandOutcome
from glyms_b24_pipeline.settings.model import Settings
from glyms_b24_pipeline.sync.mappings import MappingCheck, MappingReport, listed, value_counts


@dataclass(frozen=True)
class CatalogIds:
    """The portal's ids the services settings name: id -> display name."""

    iblocks: Mapping[str, str]
    price_types: Mapping[str, str]
    sections: Mapping[str, str]


class ServicesMappings(MappingCheck):
    name = "services"

    def portal_commands(self, settings: Settings) -> list[BatchCommand]:
        return [
            BatchCommand("catalogs", "catalog.catalog.list", {"select": ["id", "iblockId", "name"]}),
            BatchCommand("price_types", "catalog.priceType.list", {"select": ["id", "name"]}),
            BatchCommand("sections", "catalog.section.list", {"filter": {"iblockId": settings.services.iblock_id},
                                                              "select": ["id", "name", "iblockId"],
                                                              "order": {"id": "ASC"}, "start": -1}),
        ]

    def read_portal(self, client: Any, results: Mapping[str, CommandOutcome], settings: Settings) -> CatalogIds:
        sections = listed(results["sections"].result, "sections")
        if len(sections) == PAGE_SIZE:  # a big catalog: page on from the last section
            sections += client.list_fast("catalog.section.list", {
                "filter": {"iblockId": settings.services.iblock_id, ">id": sections[-1]["id"]},
                "select": ["id", "name", "iblockId"]}, id_field="id", result_key="sections")
        return CatalogIds(
            iblocks={str(c.get("iblockId")): str(c.get("name") or "") for c in listed(results["catalogs"].result, "catalogs")},
            price_types={str(t.get("id")): str(t.get("name") or "")
                         for t in listed(results["price_types"].result, "priceTypes")},
            sections={str(s.get("id")): str(s.get("name") or "") for s in sections},
        )

    def glyms_usage(self, conn: psycopg2.extensions.connection) -> Mapping[int, int]:
        """Work-order types of the active services -> how many."""
        return value_counts(conn, "mapping_services_tipo_ot_in_use", {"active": 1})

    def compare(self, settings: Settings, portal: CatalogIds, glyms: Mapping[int, int], report: MappingReport) -> None:
        s = settings.services
        report.expect("iblock", "iblock", "services.iblock_id", s.iblock_id, portal.iblocks, "the catalog (iblock)")
        report.expect("price_type", "price type", "services.price_type_id", s.price_type_id, portal.price_types,
                      "the price type")
        for tipo_ot, section in sorted(s.sections_by_tipo_ot.items()):
            report.expect("section", "section", f"services.sections_by_tipo_ot[{tipo_ot}]", section, portal.sections,
                          "the section", f"in the catalog (iblock) {s.iblock_id}")
        for setting, mapping in (("services.sections_by_tipo_ot", s.sections_by_tipo_ot),
                                 ("services.contracts_by_tipo_ot", s.contracts_by_tipo_ot)):
            report.mapped("services_unmapped", "work-order type without mapping", setting, glyms, mapping, "id_tipo_ot",
                          "active services", excluded=s.excluded_tipo_ot)


SERVICES_MAPPINGS = ServicesMappings()
