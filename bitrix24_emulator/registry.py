"""Method registry: each REST method is a pure-ish function ``(ctx, params) -> MethodResult``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional


@dataclass
class MethodResult:
    """What a method returns: ``result`` plus ``next``/``total`` for lists."""

    result: Any
    next: Optional[int] = None
    total: Optional[int] = None


@dataclass
class CallContext:
    """What a method may use: portal data, settings and the calling user."""

    state: Any
    settings: Any
    user_id: int
    method: str
    caller: Any = None  # the oauth.Caller behind the request (None when seeding directly)


@dataclass(frozen=True)
class MethodSpec:
    name: str
    scope: Optional[str]  # None = any authenticated caller
    handler: Callable[[CallContext, dict], MethodResult]
    writes: bool = False


def param(params: dict, *names: str, default: Any = None) -> Any:
    """First present parameter among ``names`` (CRM accepts id|ID, fields|FIELDS|Fields|arFields)."""
    for name in names:
        if name in params:
            return params[name]
    return default


def as_int(value: Any) -> Optional[int]:
    try:
        if isinstance(value, bool):
            return None
        return int(float(str(value).strip()))
    except (TypeError, ValueError):
        return None


def as_number(value: Any) -> Optional[float]:
    try:
        if isinstance(value, bool) or value is None:
            return None
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def plain_number(value: float) -> Any:
    """2000.0 -> 2000 (as the portal prints whole prices), 100.5 stays."""
    return int(value) if float(value).is_integer() else float(value)
