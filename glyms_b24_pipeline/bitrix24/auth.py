"""Authentication: OAuth 2.0 local application (tokens in PostgreSQL) or an incoming webhook.

OAuth tokens live in ``glyms_b24.oauth_token`` (one row per portal + client id). Bitrix24
refresh tokens are single-use, so a refresh happens only under ``SELECT ... FOR UPDATE`` of
that row: a process that finds a different access token stored than the one the portal just
rejected uses the stored one instead of spending its (already rotated) refresh token.
Tokens are refreshed only when the portal answers ``expired_token``/``invalid_token`` — never
on a timer.

Nothing in this module logs or renders a token, a webhook code or the client secret.
"""

from __future__ import annotations

import datetime as _dt
import logging
import random
import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Optional, Protocol
from urllib.parse import urlencode

import requests

from glyms_b24_pipeline.bitrix24 import errors
from glyms_b24_pipeline.bitrix24.pacing import portal_key
from glyms_b24_pipeline.glyms.connection import connect, fetch_all
from glyms_b24_pipeline.glyms.sql_files import read_sql

log = logging.getLogger(__name__)

DEFAULT_OAUTH_URL = "https://oauth.bitrix.info"
TOKEN_METHOD = "oauth.token"

# --- log redaction -----------------------------------------------------------------------------

_SECRET_PATTERNS = (
    (re.compile(r"\b((?:auth|access_token|refresh_token|client_secret|code)=)[^&\s\"']+", re.I), r"\1***"),
    (re.compile(r"(/rest/\d+/)[^/\s\"']+"), r"\1***"),
    (re.compile(r"(Bearer\s+)\S+", re.I), r"\1***"),
)


def redact(text: str) -> str:
    """``text`` with tokens, secrets and webhook codes replaced by ``***``."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _RedactingFilter(logging.Filter):
    """Masks secrets in records of libraries that log URLs (urllib3 logs every request line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - a broken record is not ours to fix
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_FILTER = _RedactingFilter()


def install_log_redaction() -> None:
    """Idempotently attach the redacting filter to the loggers that print request URLs."""
    for name in ("urllib3.connectionpool", "requests"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def _mask(value: Optional[str]) -> str:
    return "''" if not value else "'***'"


# --- token model -------------------------------------------------------------------------------


def normalize_portal_url(url: str) -> str:
    """``https://portal.bitrix24.es`` (scheme + host, no path, no trailing slash)."""
    key = portal_key(url)
    if "://" not in key:
        raise errors.ValidationError(f"the portal URL (B24_PORTAL_URL) must look like https://yourportal.bitrix24.es, got {url!r}")
    return key


@dataclass(frozen=True)
class TokenSet:
    """An access/refresh token pair; ``repr`` never shows the tokens."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: Optional[_dt.datetime] = None
    member_id: Optional[str] = None
    client_endpoint: Optional[str] = None
    scope: Optional[str] = None
    generation: int = 0

    @classmethod
    def from_response(cls, data: Mapping[str, Any], *, now: Optional[float] = None) -> "TokenSet":
        """From an OAuth token response or a legacy ``bitrix24_tokens.json``."""
        access, refresh = data.get("access_token"), data.get("refresh_token")
        if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
            raise errors.AuthError("token answer lacks access_token/refresh_token", method=TOKEN_METHOD)
        expires_at = None
        expires = data.get("expires")
        expires_in = data.get("expires_in")
        try:
            if isinstance(expires, (int, float, str)) and str(expires).strip():
                expires_at = _dt.datetime.fromtimestamp(float(expires), tz=_dt.timezone.utc)
            elif isinstance(expires_in, (int, float, str)) and str(expires_in).strip():
                base = time.time() if now is None else now
                expires_at = _dt.datetime.fromtimestamp(base + float(expires_in), tz=_dt.timezone.utc)
        except (TypeError, ValueError, OverflowError, OSError):
            expires_at = None

        def text(key: str) -> Optional[str]:
            value = data.get(key)
            return str(value) if value not in (None, "") else None

        return cls(
            access_token=access,
            refresh_token=refresh,
            expires_at=expires_at,
            member_id=text("member_id"),
            client_endpoint=text("client_endpoint"),
            scope=text("scope"),
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "TokenSet":
        return cls(
            access_token=row["access_token"],
            refresh_token=row["refresh_token"],
            expires_at=row.get("expires_at"),
            member_id=row.get("member_id"),
            client_endpoint=row.get("client_endpoint"),
            scope=row.get("scope"),
            generation=int(row.get("generation") or 0),
        )


class TokenStore:
    """The token row of one portal + client id in the project schema (``glyms_b24.oauth_token``)."""

    def __init__(self, dsn: str, portal_url: str, client_id: str, *, lock_timeout_seconds: float = 120.0):
        self._dsn = dsn
        self.portal_url = normalize_portal_url(portal_url)
        self.client_id = client_id
        self.lock_timeout_seconds = lock_timeout_seconds

    def __repr__(self) -> str:
        return f"TokenStore(portal_url={self.portal_url!r}, client_id={self.client_id!r})"

    def _key(self) -> dict[str, Any]:
        return {"portal_url": self.portal_url, "client_id": self.client_id}

    def _params(self, tokens: TokenSet) -> dict[str, Any]:
        return {
            **self._key(),
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at,
            "member_id": tokens.member_id,
            "client_endpoint": tokens.client_endpoint,
            "scope": tokens.scope,
        }

    def load(self) -> Optional[TokenSet]:
        with connect(self._dsn) as conn:
            rows = fetch_all(conn, read_sql("queries/oauth_token_select.sql"), self._key())
        return TokenSet.from_row(rows[0]) if rows else None

    def save(self, tokens: TokenSet) -> TokenSet:
        """Store a pair from an authorisation code or an import (replaces any previous pair)."""
        with connect(self._dsn) as conn:
            row = fetch_all(conn, read_sql("queries/oauth_token_upsert.sql"), self._params(tokens))[0]
        log.info("oauth tokens stored for %s (generation %s)", self.portal_url, row["generation"])
        return replace(tokens, generation=int(row["generation"]))

    def refresh_locked(self, failed_access_token: Optional[str], refresher: Callable[[str], TokenSet]) -> tuple[TokenSet, bool]:
        """New tokens after the portal rejected ``failed_access_token``.

        Under the row lock: when the stored access token differs from the failed one, another
        process (or thread) already refreshed — return the stored pair, ``refreshed=False``.
        Otherwise spend the stored refresh token via ``refresher`` and store the rotated pair
        before releasing the lock. Returns ``(tokens, refreshed)``.
        """
        with connect(self._dsn) as conn:
            with conn.cursor() as cur:
                cur.execute(read_sql("queries/session_lock_timeout.sql"), {"value": f"{int(self.lock_timeout_seconds * 1000)}ms"})
            rows = fetch_all(conn, read_sql("queries/oauth_token_select_for_update.sql"), self._key())
            if not rows:
                raise errors.ReauthorizationRequired(
                    f"no OAuth tokens stored for {self.portal_url} and client {self.client_id}", method=TOKEN_METHOD
                )
            stored = TokenSet.from_row(rows[0])
            if failed_access_token is not None and stored.access_token != failed_access_token:
                log.debug("tokens already refreshed elsewhere (generation %s); using them", stored.generation)
                return stored, False
            fresh = refresher(stored.refresh_token)
            updated = fetch_all(
                conn,
                read_sql("queries/oauth_token_update_refreshed.sql"),
                {**self._params(fresh), "expected_generation": stored.generation},
            )
            if not updated:  # cannot happen while we hold the lock; refuse to guess
                raise errors.AuthError("token row changed during a locked refresh", method=TOKEN_METHOD)
        log.info("oauth tokens refreshed for %s (generation %s)", self.portal_url, updated[0]["generation"])
        return replace(fresh, generation=int(updated[0]["generation"])), True


# --- OAuth server --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OAuthApp:
    """A Bitrix24 local application; ``repr`` hides the client secret."""

    portal_url: str
    client_id: str
    client_secret: str = field(repr=False)
    oauth_url: str = DEFAULT_OAUTH_URL
    redirect_uri: str = "http://localhost/"

    def authorize_url(self, state: Optional[str] = None) -> str:
        """Where the operator grants access (``redirect_uri``/``scope`` come from the app card)."""
        query = {"client_id": self.client_id}
        if state:
            query["state"] = state
        return f"{normalize_portal_url(self.portal_url)}/oauth/authorize/?{urlencode(query)}"

    @property
    def token_url(self) -> str:
        return f"{(self.oauth_url or DEFAULT_OAUTH_URL).rstrip('/')}/oauth/token/"


def request_tokens(
    session: requests.Session,
    app: OAuthApp,
    grant: Mapping[str, str],
    *,
    timeout: tuple[float, float] = (10.0, 60.0),
    attempts: int = 3,
    backoff_seconds: float = 0.5,
) -> TokenSet:
    """Call the OAuth server's token endpoint (``grant_type`` + its parameters).

    The secret travels in the query string as Bitrix documents it; the urllib3 request line is
    redacted by :func:`install_log_redaction`. Transport failures and 5xx are retried a few
    times; an ``error`` in the body (``invalid_grant``, ``wrong_client`` with HTTP 200, ...) is not.
    """
    install_log_redaction()
    params = {**grant, "client_id": app.client_id, "client_secret": app.client_secret}
    last: Optional[errors.Bitrix24Error] = None
    for attempt in range(max(1, attempts)):
        if attempt:
            time.sleep(backoff_seconds * (2 ** (attempt - 1)) * random.uniform(0.5, 1.0))
        try:
            response = session.get(app.token_url, params=params, timeout=timeout, headers={"Accept": "application/json"})
        except requests.Timeout:
            last = errors.TransportError("OAuth server did not answer in time", method=TOKEN_METHOD)
            continue
        except requests.RequestException as exc:
            last = errors.TransportError(f"cannot reach the OAuth server: {type(exc).__name__}", method=TOKEN_METHOD)
            continue
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("error") not in (None, ""):
            raise errors.classify(
                method=TOKEN_METHOD,
                http_status=response.status_code,
                code=data.get("error"),
                description=data.get("error_description") or data.get("error"),
            )
        if response.status_code >= 500 or not isinstance(data, dict):
            last = errors.ServerError("OAuth server answered without a token", method=TOKEN_METHOD, http_status=response.status_code)
            if response.status_code >= 500 or response.status_code == 200:
                continue
            raise last
        if response.status_code >= 400:
            raise errors.classify(method=TOKEN_METHOD, http_status=response.status_code, code=None, description="token request refused")
        log.debug("oauth token grant %s answered", grant.get("grant_type"))
        return TokenSet.from_response(data)
    assert last is not None
    raise last


# --- auth strategies used by the client ----------------------------------------------------------


class Auth(Protocol):
    """How the client authenticates; see :class:`OAuthAuth` and :class:`WebhookAuth`."""

    portal_url: str
    mode: str

    def endpoint(self, method: str) -> str: ...

    def access_token(self) -> Optional[str]: ...

    def renew(self, failed_token: Optional[str]) -> bool: ...

    def bind(self, session: requests.Session, timeout: tuple[float, float]) -> None: ...


class OAuthAuth:
    """OAuth local application with tokens in the project's token table."""

    mode = "oauth"

    def __init__(self, app: OAuthApp, store: TokenStore):
        self.app = app
        self.store = store
        self.portal_url = normalize_portal_url(app.portal_url)
        self._tokens: Optional[TokenSet] = None
        self._lock = threading.RLock()
        self._session: Optional[requests.Session] = None
        self._timeout: tuple[float, float] = (10.0, 60.0)
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"OAuthAuth(portal_url={self.portal_url!r}, client_id={self.app.client_id!r}, client_secret='***')"

    def bind(self, session: requests.Session, timeout: tuple[float, float]) -> None:
        self._session, self._timeout = session, timeout

    def endpoint(self, method: str) -> str:
        return f"{self.portal_url}/rest/{method}"

    def access_token(self) -> Optional[str]:
        with self._lock:
            if self._tokens is None:
                tokens = self.store.load()
                if tokens is None:
                    raise errors.ReauthorizationRequired(
                        f"no OAuth tokens stored for {self.portal_url}", method=TOKEN_METHOD
                    )
                self._tokens = tokens
            return self._tokens.access_token

    @property
    def generation(self) -> Optional[int]:
        return self._tokens.generation if self._tokens else None

    def _refresh_grant(self, refresh_token: str) -> TokenSet:
        session = self._session or requests.Session()
        return request_tokens(
            session, self.app, {"grant_type": "refresh_token", "refresh_token": refresh_token}, timeout=self._timeout
        )

    def renew(self, failed_token: Optional[str]) -> bool:
        """After ``expired_token``/``invalid_token``: get usable tokens (True = refreshed here)."""
        with self._lock:  # one refresh per process at a time; other threads reuse its result
            if self._tokens is not None and failed_token is not None and self._tokens.access_token != failed_token:
                return False
            tokens, refreshed = self.store.refresh_locked(failed_token, self._refresh_grant)
            self._tokens = tokens
            if refreshed:
                self.refreshes += 1
            return refreshed

    def exchange_code(self, code: str) -> TokenSet:
        """Trade an authorisation code (valid 30 s) for tokens and store them."""
        session = self._session or requests.Session()
        tokens = request_tokens(session, self.app, {"grant_type": "authorization_code", "code": code}, timeout=self._timeout, attempts=1)
        stored = self.store.save(tokens)
        with self._lock:
            self._tokens = stored
        return stored


_WEBHOOK = re.compile(r"^(https?://[^/]+)/rest/(\d+)/([^/]+)/?$")


class WebhookAuth:
    """Incoming webhook: ``https://portal/rest/{user_id}/{code}/`` (the code is the secret)."""

    mode = "webhook"

    def __init__(self, webhook_url: str):
        match = _WEBHOOK.match(webhook_url.strip())
        if not match:
            raise errors.ValidationError("the webhook URL (B24_WEBHOOK_URL) must look like https://yourportal.bitrix24.es/rest/1/abc123/")
        self._base = f"{match.group(1)}/rest/{match.group(2)}/{match.group(3)}/"
        self.portal_url = normalize_portal_url(match.group(1))
        self.user_id = int(match.group(2))
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"WebhookAuth(portal_url={self.portal_url!r}, user_id={self.user_id}, code='***')"

    def bind(self, session: requests.Session, timeout: tuple[float, float]) -> None:
        pass

    def endpoint(self, method: str) -> str:
        return self._base + method

    def access_token(self) -> Optional[str]:
        return None

    def renew(self, failed_token: Optional[str]) -> bool:
        raise errors.AuthError("the webhook was rejected; check B24_WEBHOOK_URL", method=None)
