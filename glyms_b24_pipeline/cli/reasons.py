"""The planners' reasons and warnings (English: they are Dagster metadata too) in the run's language.

Each template below is a msgid of the catalog; a text matching one is translated with the values it
carries (``{name}`` matches any text). A text matching none is shown as it is.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Optional, Pattern

from glyms_b24_pipeline.cli.i18n import _


def N_(message: str) -> str:
    """Marks a msgid for extraction; translated later, when it is matched."""
    return message


TEMPLATES = (
    # services (defs/services/plan.py)
    N_("id_prestacion is empty"),
    N_("descripcion (name) is blank"),
    N_("descripcion is {length} characters long; Bitrix24 keeps at most {limit}"),
    N_("precio {value} is not a number"),
    N_("precio {value} is negative"),
    N_("no price in Glyms"),
    N_("codigo is empty: no price can be looked up for it"),
    N_("id_tipo_ot {tipo_ot} has no section mapping"),
    N_("xmlId {xml_id} is on several Bitrix24 services ({ids})"),
    N_("no longer an active service in Glyms"),
    N_("codigo {code} is also the code of active service(s) {others}: they share its price"),
    N_("{count} prices share the newest fecha_version ({date}): the highest is in force"),
    # companies (defs/companies/mapping.py, plan.py)
    N_("id_cliente is empty"),
    N_("razon_social (TITLE) is blank"),
    N_("razon_social is {length} characters long; cut to {limit}"),
    N_("id_tipo_ot {value} has no COMPANY_TYPE mapping; left out"),
    N_("id_cliente_tipo {value} has no INDUSTRY mapping; left out"),
    N_("mail {text} holds several addresses; sent the first valid one, {address}"),
    N_("mail {text} is not a valid e-mail address; left out"),
    N_("telefono {text} has no digits; left out"),
    N_("telefono {text} is not a valid {region} number; sent as typed"),
    N_("ORIGIN_ID {origin} is on several companies ({ids}); keep one and clear the others' ORIGIN_ID"),
    N_("customer deleted in Glyms; companies.on_delete is ignore"),
    N_("customer deleted in Glyms and no company has its ORIGIN_ID"),
    N_("customer deleted in Glyms"),
    N_("deletion already noted"),
    N_("no company has this ORIGIN_ID (companies.missing_on_update)"),
    N_("linked to company {id} typed by hand (same {matched_by})"),
)


@lru_cache(maxsize=None)
def _patterns() -> tuple[tuple[Pattern[str], str], ...]:
    compiled = []
    for template in TEMPLATES:
        parts = re.split(r"\{(\w+)\}", template)
        regex = "".join(re.escape(part) if n % 2 == 0 else f"(?P<{part}>.+?)" for n, part in enumerate(parts))
        compiled.append((re.compile(regex, re.DOTALL), template))
    return tuple(compiled)


def translated(text: Optional[str]) -> str:
    """``text`` in the run's language when it is one of the templates, else as it is."""
    if not text:
        return ""
    for pattern, template in _patterns():
        match = pattern.fullmatch(text)
        if match:
            return _(template).format(**match.groupdict())
    return text
