"""Text and ids from Glyms as every sync reads them (pure functions, shared by services and companies)."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any, Optional

# Control characters never belong in CRM or catalog text: C0 (tab, newline and carriage return
# excepted: they are how multi-line comments are typed), DEL and C1 (what a Windows-1252 text
# read as Latin-1 leaves behind). They break exports and some clients, and NUL cannot even be
# stored by PostgreSQL. Format characters (right-to-left marks, zero-width joiners) are kept:
# right-to-left text and emoji sequences need them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Categories with nothing to see: separators, controls, format characters (zero-width space, BOM).
_INVISIBLE = {"Zs", "Zl", "Zp", "Cc", "Cf"}


def clean_text(value: Any) -> str:
    """Trimmed text without control characters; ``None`` is ``""``."""
    if value is None:
        return ""
    return _CONTROL.sub("", str(value)).strip()


def is_blank(text: str) -> bool:
    """True when ``text`` shows nothing: empty, or only spaces, controls and zero-width characters."""
    return all(unicodedata.category(ch) in _INVISIBLE for ch in text)


def optional_int(value: Any) -> Optional[int]:
    """An id as an int: ``7``, ``7.0`` (pandas turns an integer column with NULLs into floats), ``" 7 "``;
    ``None`` for anything else (NULL, NaN, ``"uno"``, ``7.5``), never a truncated guess."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        try:
            return int(value) if value == int(value) else None
        except (OverflowError, ValueError):  # NaN, infinity
            return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None
