"""Portal time: ISO-8601 datetimes with the portal's offset, as Bitrix renders them."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Optional


def portal_tz(offset_minutes: int) -> timezone:
    return timezone(timedelta(minutes=offset_minutes))


def iso_now(offset_minutes: int, at: Optional[float] = None) -> str:
    """``2024-06-14T11:51:08-03:00`` for now (or ``at``) in the portal offset."""
    moment = datetime.fromtimestamp(time.time() if at is None else at, portal_tz(offset_minutes))
    return moment.replace(microsecond=0).isoformat()


def normalise_datetime(value: str, offset_minutes: int) -> Optional[str]:
    """Re-render an incoming datetime in the portal offset; naive values are taken as portal time.

    Returns None when the text is not a datetime.
    """
    text = str(value).strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for pattern in ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y"):
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            return None
    tz = portal_tz(offset_minutes)
    parsed = parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed.astimezone(tz)
    return parsed.replace(microsecond=0).isoformat()
