"""Errors a portal method can answer with: the ``{error, error_description}`` envelope."""

from __future__ import annotations

from typing import Any, Optional, Union


class RestError(Exception):
    """A method-level or transport-level failure rendered as the Bitrix24 error envelope."""

    def __init__(self, error: Union[str, int], description: str, status: int = 400,
                 extra: Optional[dict[str, Any]] = None):
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        """The JSON body: ``error`` first, then ``error_description``, then any extra keys."""
        return {"error": self.error, "error_description": self.description, **self.extra}


def crm_error(description: str) -> RestError:
    """Legacy CRM proxies answer with an empty error code."""
    return RestError("", description, 400)


def catalog_error(code: int, description: str) -> RestError:
    """Controller-based catalog methods answer with an integer error code."""
    return RestError(code, description, 400)


def catalog_access_denied(code: int) -> RestError:
    return RestError(code, "Access Denied", 400)


def missing_parameter(name: str) -> RestError:
    return RestError(100, f"Could not find value for parameter {{{name}}}", 400)


METHOD_NOT_FOUND = ("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)
