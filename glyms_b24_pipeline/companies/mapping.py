"""A Glyms customer as a Bitrix24 company should hold it (pure functions, data in, company out).

The fields are the legacy script's: TITLE, ADDRESS, COMMENTS, a WORK e-mail when it is valid, a
WORK phone, COMPANY_TYPE and INDUSTRY through the configured maps, the three user fields and
ORIGIN_ID = id_cliente. A customer that cannot become a company (no razon_social) gets a reason;
everything else that is wrong with it becomes a warning and the rest of the company is synced.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from glyms_b24_pipeline.config import CompaniesSettings

DELETION_NOTE_PREFIX = "[SISTEMA] Empresa eliminada o inactiva en Glyms el"
# Bitrix24 keeps a company TITLE in a 255-character column.
MAX_TITLE_LENGTH = 255
# Control characters other than tab and newline never belong in CRM text (and break some clients).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ADDRESS_SPLIT = re.compile(r"\s*[;,]\s*")


@dataclass(frozen=True)
class DesiredCompany:
    """The company fields Glyms dictates (scalar fields by Bitrix24 name, plus one work e-mail and phone)."""

    origin_id: str
    fields: Mapping[str, str]
    email: Optional[str]
    phone: Optional[str]


def clean_text(value: Any) -> str:
    """Trimmed text without control characters; ``None`` is ``""``."""
    if value is None:
        return ""
    return _CONTROL.sub("", str(value)).strip()


def _optional_int(value: Any) -> Optional[int]:
    if value is None or (isinstance(value, float) and value != value):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _mapped(mapping: Mapping[int, str], key: Any) -> Optional[str]:
    number = _optional_int(key)
    return mapping.get(number) if number is not None else None


def normalise_email(raw: Any) -> tuple[Optional[str], Optional[str]]:
    """(address to send, warning). Several addresses: the first valid one, with a warning."""
    text = clean_text(raw)
    if not text:
        return None, None
    candidates = [part for part in _ADDRESS_SPLIT.split(text) if part]
    for candidate in candidates:
        try:
            valid = validate_email(candidate, check_deliverability=False)
        except EmailNotValidError:
            continue
        address = valid.ascii_email or valid.normalized  # IDN domains travel in their ASCII form
        if len(candidates) > 1:
            return address, f"mail {text!r} holds several addresses; sent the first valid one, {address}"
        return address, None
    return None, f"mail {text!r} is not a valid e-mail address; left out"


def normalise_phone(raw: Any, region: str) -> tuple[Optional[str], Optional[str]]:
    """(phone to send, warning): E.164 when it parses as a valid number, else as typed with a warning."""
    text = clean_text(raw)
    if not text:
        return None, None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None
    return text[:100], f"telefono {text!r} is not a valid {region} number; sent as typed"


def deletion_note(day: _dt.date) -> str:
    return f"{DELETION_NOTE_PREFIX} {day.isoformat()}."


def has_deletion_note(comments: Any) -> bool:
    return DELETION_NOTE_PREFIX in str(comments or "")


def with_deletion_note(comments: Any, day: _dt.date) -> str:
    """The comments with the dated note appended, once."""
    current = str(comments or "").rstrip()
    if has_deletion_note(current):
        return current
    return f"{current}\n{deletion_note(day)}" if current else deletion_note(day)


def desired_company(row: Mapping[str, Any], settings: CompaniesSettings) -> tuple[Optional[DesiredCompany], str, tuple[str, ...]]:
    """Map a ``public.cliente`` row; returns (company or None, reason it cannot be synced, warnings)."""
    origin_id = clean_text(row.get("id_cliente"))
    title = clean_text(row.get("razon_social"))
    if not origin_id:
        return None, "id_cliente is empty", ()
    if not title:
        return None, "razon_social (TITLE) is blank", ()
    warnings: list[str] = []
    if len(title) > MAX_TITLE_LENGTH:
        warnings.append(f"razon_social is {len(title)} characters long; cut to {MAX_TITLE_LENGTH}")
        title = title[:MAX_TITLE_LENGTH].rstrip()
    observaciones = clean_text(row.get("observaciones"))
    fields: dict[str, str] = {
        "TITLE": title,
        "ADDRESS": clean_text(row.get("direccion")),
        "COMMENTS": observaciones,
        "ORIGIN_ID": origin_id,
        settings.user_fields.codigo: clean_text(row.get("codigo")),
        settings.user_fields.nombre_fantasia: clean_text(row.get("nombre_fantasia")),
        settings.user_fields.bloqueado: "1" if "bloqueado" in observaciones.lower() else "0",
    }
    tipo_ot, cliente_tipo = row.get("id_tipo_ot"), row.get("id_cliente_tipo")
    company_type = _mapped(settings.company_type_by_tipo_ot, tipo_ot)
    if company_type is not None:
        fields["COMPANY_TYPE"] = company_type
    elif clean_text(tipo_ot):
        warnings.append(f"id_tipo_ot {tipo_ot} has no COMPANY_TYPE mapping; left out")
    industry = _mapped(settings.industry_by_cliente_tipo, cliente_tipo)
    if industry is not None:
        fields["INDUSTRY"] = industry
    elif clean_text(cliente_tipo):
        warnings.append(f"id_cliente_tipo {cliente_tipo} has no INDUSTRY mapping; left out")
    email, email_warning = normalise_email(row.get("mail"))
    phone, phone_warning = normalise_phone(row.get("telefono"), settings.phone_region)
    warnings += [w for w in (email_warning, phone_warning) if w]
    return DesiredCompany(origin_id, fields, email, phone), "", tuple(warnings)
