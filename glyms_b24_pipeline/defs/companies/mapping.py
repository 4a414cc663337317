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

from glyms_b24_pipeline.settings.model import CompaniesSettings
from glyms_b24_pipeline.sync.text import clean_text, is_blank, optional_int

__all__ = ["DesiredCompany", "clean_text", "desired_company", "normalise_email", "normalise_phone"]

DELETION_NOTE_PREFIX = "[SISTEMA] Empresa eliminada o inactiva en Glyms el"
# Bitrix24 keeps a company TITLE in a 255-character column.
MAX_TITLE_LENGTH = 255
# Several addresses in one mail cell: separated by ";", "," or "/" (none of them can be in a domain).
_ADDRESS_SPLIT = re.compile(r"\s*[;,/]\s*")
# "Compras <compras@lab.com.ar>", as a mail program copies an address
_ANGLE_ADDRESS = re.compile(r"<([^<>]*@[^<>]*)>")


@dataclass(frozen=True)
class DesiredCompany:
    """The company fields Glyms dictates (scalar fields by Bitrix24 name, plus one work e-mail and phone)."""

    origin_id: str
    fields: Mapping[str, str]
    email: Optional[str]
    phone: Optional[str]


#: how a value left unmapped on purpose is noted on its company (not a warning: no check fails for it)
EXCLUDED_NOTE = "excluded on purpose"


def _mapped(mapping: Mapping[int, str], key: Any) -> Optional[str]:
    number = optional_int(key)
    return mapping.get(number) if number is not None else None


def _mail_candidates(text: str) -> list[str]:
    """The addresses a mail cell may hold, in order: split on ``;`` ``,`` ``/``, and on spaces only when
    every word is an address ("juan perez@gmail.com" stays one invalid address, never "perez@...")."""
    candidates: list[str] = []
    for part in _ADDRESS_SPLIT.split(text):
        angle = _ANGLE_ADDRESS.search(part)
        if angle:
            part = angle.group(1).strip()
        words = part.split()
        candidates += words if len(words) > 1 and all("@" in word for word in words) else [part] if part else []
    return candidates


def normalise_email(raw: Any) -> tuple[Optional[str], Optional[str]]:
    """(address to send, warning). Several addresses: the first valid one, with a warning."""
    text = clean_text(raw)
    if not text:
        return None, None
    candidates = _mail_candidates(text)
    for candidate in candidates:
        try:
            valid = validate_email(candidate, check_deliverability=False)
        except EmailNotValidError:
            continue
        # IDN domains travel in their ASCII form, also behind a non-ASCII local part (which has none)
        address = valid.ascii_email or f"{valid.local_part}@{valid.ascii_domain}"
        if len(candidates) > 1:
            return address, f"mail {text!r} holds several addresses; sent the first valid one, {address}"
        return address, None
    return None, f"mail {text!r} is not a valid e-mail address; left out"


def normalise_phone(raw: Any, region: str) -> tuple[Optional[str], Optional[str]]:
    """(phone to send, warning): E.164 (plus `` ext. N``) when it parses as a valid number, else as typed
    with a warning; nothing, with a warning, when it holds no digit at all."""
    text = clean_text(raw)
    if not text:
        return None, None
    if not any(ch.isdigit() for ch in text):  # "sin teléfono", "-": nothing to call
        return None, f"telefono {text!r} has no digits; left out"
    number = None
    # a vanity spelling ("0341-LAB-TEST") would be turned into digits nobody typed: keep it as typed
    if not phonenumbers.is_alpha_number(text):
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            number = None
    if number is not None and phonenumbers.is_valid_number(number):
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        # E.164 has no extension: without this "int. 123" would be lost
        return (f"{e164} ext. {number.extension}" if number.extension else e164), None
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
    if is_blank(title):  # also zero-width characters only: a company nobody can see in a list
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
    elif _mapped({v: "" for v in settings.company_type_excluded_tipo_ot}, tipo_ot) is not None:
        warnings.append(f"{EXCLUDED_NOTE}: id_tipo_ot {tipo_ot} gets no COMPANY_TYPE (companies.company_type_excluded_tipo_ot)")
    elif clean_text(tipo_ot):
        warnings.append(f"id_tipo_ot {tipo_ot} has no COMPANY_TYPE mapping; left out")
    industry = _mapped(settings.industry_by_cliente_tipo, cliente_tipo)
    if industry is not None:
        fields["INDUSTRY"] = industry
    elif _mapped({v: "" for v in settings.industry_excluded_cliente_tipo}, cliente_tipo) is not None:
        warnings.append(f"{EXCLUDED_NOTE}: id_cliente_tipo {cliente_tipo} gets no INDUSTRY "
                        "(companies.industry_excluded_cliente_tipo)")
    elif clean_text(cliente_tipo):
        warnings.append(f"id_cliente_tipo {cliente_tipo} has no INDUSTRY mapping; left out")
    email, email_warning = normalise_email(row.get("mail"))
    phone, phone_warning = normalise_phone(row.get("telefono"), settings.phone_region)
    warnings += [w for w in (email_warning, phone_warning) if w]
    return DesiredCompany(origin_id, fields, email, phone), "", tuple(warnings)
