"""One exception family per cause of a failed Bitrix24 call.

Every error carries ``method``, ``http_status``, ``code`` (the Bitrix ``error`` value: a string,
``""`` for legacy CRM methods or an integer for catalog methods) and ``description``.
``str(error)`` is a single line and never contains a token, a webhook code or the client secret.

    Bitrix24Error
    ├── AuthError                 401/403 token, scope and credential problems
    │   └── ReauthorizationRequired   invalid_grant / invalid_token: run ``glyms-b24 auth``
    ├── RateLimitError            503 QUERY_LIMIT_EXCEEDED / OVERLOAD_LIMIT (retried)
    ├── OperatingLimitError       429 OPERATION_TIME_LIMIT (retried after operating_reset_at)
    ├── NotFoundError             unknown method, missing entity
    ├── ValidationError           any other 4xx: the request itself is wrong (never retried)
    ├── ServerError               5xx, HTML error pages, unreadable answers (retried)
    ├── TransportError            timeouts, connection resets, TLS failures (retried)
    │   └── ConnectError          never connected (retried)
    │       └── UnreachableError  never connected for bitrix24.unreachable_timeout_seconds (not retried)
    └── NotExecutedError          batch command skipped because an earlier one failed (halt)
"""

from __future__ import annotations

from typing import Any, Optional, Union

from glyms_b24_pipeline.settings.errors import OperatorError

ErrorCode = Union[str, int, None]

_MAX_DESCRIPTION = 300


def _one_line(text: Any) -> str:
    line = " ".join(str(text or "").split())
    return line if len(line) <= _MAX_DESCRIPTION else line[: _MAX_DESCRIPTION - 3] + "..."


class Bitrix24Error(Exception):
    """Base of every error raised (or reported per batch command) by the Bitrix24 client."""

    #: whether the client retries this kind of failure (bounded, with back-off)
    retryable = False
    #: whether the portal may have carried out the request although no good answer came back
    #: (a write must then not be sent again blindly: it could apply twice)
    outcome_unknown = False

    def __init__(
        self,
        description: str = "",
        *,
        method: Optional[str] = None,
        http_status: Optional[int] = None,
        code: ErrorCode = None,
        extra: Optional[dict[str, Any]] = None,
    ):
        self.description = _one_line(description)
        self.method = method
        self.http_status = http_status
        self.code = code
        self.extra = dict(extra or {})
        super().__init__(self.description)

    def __str__(self) -> str:
        parts = []
        if self.method:
            parts.append(f"{self.method}:")
        if self.code not in (None, ""):
            parts.append(str(self.code))
        if self.description and self.description != str(self.code):  # "invalid_grant", said once
            parts.append(self.description)
        elif self.code in (None, ""):
            parts.append(type(self).__name__)
        if self.http_status is not None:
            parts.append(f"(HTTP {self.http_status})")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(method={self.method!r}, http_status={self.http_status!r}, "
            f"code={self.code!r}, description={self.description!r})"
        )

    def __reduce__(self):  # keep keyword-only attributes across pickling (multiprocessing)
        return (_rebuild, (type(self), self.description, self.method, self.http_status, self.code, self.extra))


def _rebuild(cls, description, method, http_status, code, extra):
    return cls(description, method=method, http_status=http_status, code=code, extra=extra)


class AuthError(Bitrix24Error):
    """Token, scope or credential problem (``expired_token`` is handled by refreshing)."""


class ReauthorizationRequired(AuthError, OperatorError):
    """The stored grant is gone (``invalid_grant``, ``invalid_token``): the operator must re-authorise."""

    def __str__(self) -> str:
        return f"{super().__str__()}: re-authorise with `glyms-b24 auth`"


class RateLimitError(Bitrix24Error):
    """The portal's request-rate limiter refused the call (HTTP 503)."""

    retryable = True


class OperatingLimitError(Bitrix24Error):
    """The method is blocked by the portal's operating-time limit (HTTP 429)."""

    retryable = True

    @property
    def reset_at(self) -> Optional[float]:
        value = self.extra.get("operating_reset_at")
        return float(value) if isinstance(value, (int, float)) else None


class NotFoundError(Bitrix24Error):
    """Unknown method or missing entity."""


class ValidationError(Bitrix24Error):
    """The portal rejected the request itself (HTTP 400 and other 4xx); retrying cannot help."""


class ServerError(Bitrix24Error):
    """5xx, an HTML error page or an answer that is not the Bitrix24 JSON envelope."""

    retryable = True
    outcome_unknown = True


class TransportError(Bitrix24Error):
    """No HTTP answer: timeout, connection reset, TLS failure."""

    retryable = True
    outcome_unknown = True


class ConnectError(TransportError):
    """The connection was never established, so the portal cannot have seen the request."""

    outcome_unknown = False


class UnreachableError(ConnectError):
    """The portal could not be reached for the configured time: the run ends (a later run tries again)."""

    retryable = False


class NotExecutedError(Bitrix24Error):
    """A batch command that the portal did not run because an earlier command failed (halt)."""


def operator_message(exc: Bitrix24Error, *, webhook_mode: bool) -> str:
    """One line for the operator: the error and what to check."""
    if isinstance(exc, ReauthorizationRequired):
        return str(exc)
    hint = ""
    if isinstance(exc, AuthError):
        hint = ("; check B24_WEBHOOK_URL (user id, code and the webhook's scopes)" if webhook_mode
                else "; check B24_PORTAL_URL and the application's scopes, or run glyms-b24 auth")
    elif isinstance(exc, TransportError):
        hint = "; is the portal reachable from this server? check " + ("B24_WEBHOOK_URL" if webhook_mode else "B24_PORTAL_URL")
    return f"Bitrix24: {exc}{hint}"


# --- classification ----------------------------------------------------------------------------

#: codes that mean the grant itself is unusable: refreshing cannot help
REAUTHORIZE_CODES = frozenset({"invalid_grant", "invalid_token", "invalid_client", "wrong_client", "NOT_INSTALLED"})

_AUTH_CODES = frozenset(
    {
        "expired_token",
        "invalid_token",
        "NO_AUTH_FOUND",
        "insufficient_scope",
        "invalid_scope",
        "INVALID_CREDENTIALS",
        "user_access_error",
        "authorization_error",
        "APPLICATION_NOT_FOUND",
        "ACCESS_DENIED",
        "PAYMENT_REQUIRED",
        "WRONG_AUTH_TYPE",
        "invalid_request",
    }
    | REAUTHORIZE_CODES
)
_RATE_CODES = frozenset({"QUERY_LIMIT_EXCEEDED", "OVERLOAD_LIMIT"})
_OPERATING_CODES = frozenset({"OPERATION_TIME_LIMIT"})
_NOT_FOUND_CODES = frozenset({"ERROR_METHOD_NOT_FOUND", "NOT_FOUND", "ERROR_NOT_FOUND"})
_SERVER_CODES = frozenset({"INTERNAL_SERVER_ERROR", "ERROR_UNEXPECTED_ANSWER", "PORTAL_DELETED"})
_NOT_FOUND_TEXTS = ("not found", "is not found", "not exists", "does not exist")


def classify(
    *,
    method: Optional[str],
    http_status: Optional[int],
    code: ErrorCode,
    description: Any = "",
    extra: Optional[dict[str, Any]] = None,
) -> Bitrix24Error:
    """The right exception for a Bitrix ``{error, error_description}`` envelope.

    The decision is made on the ``error`` code first (the portal and the OAuth server do not
    use HTTP statuses consistently, and batch sub-errors arrive inside an HTTP 200), then on
    the status.
    """
    kwargs: dict[str, Any] = dict(method=method, http_status=http_status, code=code, extra=extra)
    text = _one_line(description)
    key = code if isinstance(code, str) else None
    if key in REAUTHORIZE_CODES:
        return ReauthorizationRequired(text or key, **kwargs)
    if key in _AUTH_CODES:
        return AuthError(text or key, **kwargs)
    if key in _RATE_CODES:
        return RateLimitError(text, **kwargs)
    if key in _OPERATING_CODES:
        return OperatingLimitError(text, **kwargs)
    if key in _NOT_FOUND_CODES:
        return NotFoundError(text, **kwargs)
    if key in _SERVER_CODES:
        return ServerError(text, **kwargs)
    status = http_status or 0
    if status == 503:
        return RateLimitError(text, **kwargs)
    if status == 429:
        return OperatingLimitError(text, **kwargs)
    if status >= 500:
        return ServerError(text, **kwargs)
    if status == 401:
        return AuthError(text, **kwargs)
    if status == 404 or (code in ("", None) and any(t in text.lower() for t in _NOT_FOUND_TEXTS)):
        return NotFoundError(text, **kwargs)
    return ValidationError(text, **kwargs)
