"""The companies sync's mappings: the COMPANY_TYPE and INDUSTRY items and the user fields exist in the
portal, and every work-order type and customer type in use has an entry in its map."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import psycopg2.extensions

from glyms_b24_pipeline.bitrix24.client import BatchCommand, CommandOutcome
from glyms_b24_pipeline.settings.model import Settings
from glyms_b24_pipeline.sync.mappings import MappingCheck, MappingReport, listed, value_counts


@dataclass(frozen=True)
class CrmIds:
    """The portal's CRM directory items and company user fields: id -> display name."""

    company_types: Mapping[str, str]
    industries: Mapping[str, str]
    user_fields: Mapping[str, str]


@dataclass(frozen=True)
class CustomerTypes:
    """Values in use among the customers -> how many carry them."""

    tipo_ot: Mapping[int, int]
    cliente_tipo: Mapping[int, int]


def _label(user_field: Mapping[str, Any]) -> str:
    label = user_field.get("EDIT_FORM_LABEL") or user_field.get("LIST_COLUMN_LABEL") or ""
    if isinstance(label, dict):  # per language when no LANG filter is given
        label = label.get("es") or label.get("en") or next(iter(label.values()), "")
    return str(label or "")


class CompaniesMappings(MappingCheck):
    name = "companies"

    def portal_commands(self, settings: Settings) -> list[BatchCommand]:
        return [
            BatchCommand("statuses", "crm.status.list", {"order": {"SORT": "ASC"}}),
            BatchCommand("user_fields", "crm.company.userfield.list", {"order": {"SORT": "ASC"}}),
        ]

    def read_portal(self, client: Any, results: Mapping[str, CommandOutcome], settings: Settings) -> CrmIds:
        statuses = listed(results["statuses"].result, "")

        def directory(entity_id: str) -> dict[str, str]:
            return {str(s.get("STATUS_ID")): str(s.get("NAME") or "") for s in statuses if s.get("ENTITY_ID") == entity_id}

        return CrmIds(company_types=directory("COMPANY_TYPE"), industries=directory("INDUSTRY"),
                      user_fields={str(f.get("FIELD_NAME")): _label(f) for f in listed(results["user_fields"].result, "")})

    def glyms_usage(self, conn: psycopg2.extensions.connection) -> CustomerTypes:
        # every customer counts: the change log can name any of them
        return CustomerTypes(value_counts(conn, "mapping_customers_tipo_ot_in_use"),
                             value_counts(conn, "mapping_customers_cliente_tipo_in_use"))

    def compare(self, settings: Settings, portal: CrmIds, glyms: CustomerTypes, report: MappingReport) -> None:
        c = settings.companies
        for tipo_ot, status_id in sorted(c.company_type_by_tipo_ot.items()):
            report.expect("company_type", "company type", f"companies.company_type_by_tipo_ot[{tipo_ot}]", status_id,
                          portal.company_types, "the COMPANY_TYPE")
        for cliente_tipo, status_id in sorted(c.industry_by_cliente_tipo.items()):
            report.expect("industry", "industry", f"companies.industry_by_cliente_tipo[{cliente_tipo}]", status_id,
                          portal.industries, "the INDUSTRY")
        for name, code in c.user_fields.model_dump().items():
            report.expect("user_field", "user field", f"companies.user_fields.{name}", code, portal.user_fields,
                          "the field")
        label = "Glyms value without mapping"
        report.mapped("companies_unmapped", label, "companies.company_type_by_tipo_ot", glyms.tipo_ot,
                      c.company_type_by_tipo_ot, "id_tipo_ot", "customers", excluded=c.company_type_excluded_tipo_ot)
        report.mapped("companies_unmapped", label, "companies.industry_by_cliente_tipo", glyms.cliente_tipo,
                      c.industry_by_cliente_tipo, "id_cliente_tipo", "customers",
                      excluded=c.industry_excluded_cliente_tipo)


COMPANIES_MAPPINGS = CompaniesMappings()
