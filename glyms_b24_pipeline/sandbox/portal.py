"""The sandbox portal: the emulator set up as the lab's Bitrix24 (the directory items and user fields
the configured mappings name), so the sandbox and the tests run with the legacy settings."""

from __future__ import annotations

from typing import Any

from glyms_b24_pipeline.settings.model import Settings


def prepare_lab_portal(emulator: Any, settings: Settings) -> None:
    """Add every COMPANY_TYPE / INDUSTRY item and company user field the settings refer to (idempotent)."""
    companies = settings.companies
    existing_fields = {f["FIELD_NAME"] for f in emulator.state.data["user_fields"].values()}
    for label, name in (("Código Glyms", companies.user_fields.codigo),
                        ("Nombre de fantasía", companies.user_fields.nombre_fantasia),
                        ("Bloqueado", companies.user_fields.bloqueado)):
        if name not in existing_fields:
            emulator.add_user_field(name, label=label)
    for entity_id, mapping in (("COMPANY_TYPE", companies.company_type_by_tipo_ot),
                               ("INDUSTRY", companies.industry_by_cliente_tipo)):
        present = {s["STATUS_ID"] for s in emulator.state.statuses_of(entity_id)}
        for key, status_id in sorted(mapping.items()):
            if status_id not in present:
                emulator.add_status(entity_id, status_id, f"{entity_id.title()} {key}")
                present.add(status_id)
