"""Application methods: ``app.info`` as the portal answers it to an application or a webhook."""

from __future__ import annotations

from .registry import CallContext, MethodResult, MethodSpec


def app_info(ctx: CallContext, params: dict) -> MethodResult:
    """An application sees its own record; a webhook sees only its scope and the portal licence."""
    settings = ctx.settings
    licence = f"{settings.language_id}_{settings.license_type}"
    caller = ctx.caller
    if caller is None or caller.transport == "webhook":
        scope = [part.strip() for part in str(getattr(caller, "scope_text", "")).split(",") if part.strip()]
        return MethodResult({"SCOPE": scope, "LICENSE": licence})
    return MethodResult({
        "ID": caller.app_id, "CODE": caller.key, "VERSION": 1, "STATUS": "L", "INSTALLED": True,
        "PAYMENT_EXPIRED": "N", "DAYS": None, "LANGUAGE_ID": settings.language_id, "LICENSE": licence,
        "LICENSE_TYPE": settings.license_type, "LICENSE_FAMILY": settings.license_type,
    })


# Every application and webhook may call app.info, whatever its scope.
METHODS = [MethodSpec("app.info", None, app_info)]
