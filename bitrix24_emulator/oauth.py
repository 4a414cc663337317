"""OAuth 2.0 of a Bitrix24 local application: apps, codes, token rotation, webhooks."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import urlencode

from .clock import iso_now
from .errors import RestError

DEFAULT_SCOPE = "crm,catalog,user,im"


@dataclass
class TokenError(Exception):
    """A token-endpoint failure: HTTP status plus the ``{error[, error_description]}`` body."""

    status: int
    error: str
    description: Optional[str] = None

    def body(self) -> dict[str, Any]:
        body = {"error": self.error}
        if self.description is not None:
            body["error_description"] = self.description
        return body


@dataclass
class Caller:
    """Who is calling a REST method: an OAuth application or an incoming webhook."""

    transport: str  # "oauth" | "webhook"
    key: str  # client_id or webhook code: the operating-time account
    user_id: int
    scope: frozenset
    scope_text: str = ""  # the granted scope as configured, order kept (app.info shows it)
    app_id: Optional[int] = None  # the application's local id on the portal (OAuth only)


def _new_token() -> str:
    return secrets.token_hex(16)


class OAuthServer:
    """Applications, authorization codes, access/refresh tokens and webhooks of one portal."""

    def __init__(self, settings, clock: Callable[[], float] = time.time):
        self.settings = settings
        self._clock = clock
        self.lock = threading.RLock()
        self.apps: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}

    # ---- registration -------------------------------------------------------------------
    def register_app(self, client_id: str, client_secret: str, redirect_uri: str = "http://localhost/",
                     scope: str = DEFAULT_SCOPE) -> None:
        with self.lock:
            app_id = self.apps.get(client_id, {}).get("id") or self._next_app_id()
            self.apps[client_id] = {"client_secret": client_secret, "redirect_uri": redirect_uri, "scope": scope,
                                    "id": app_id}

    def _next_app_id(self) -> int:
        return max((int(app.get("id") or 0) for app in self.apps.values()), default=0) + 1

    def add_webhook(self, user_id: int = 1, code: Optional[str] = None, scope: str = DEFAULT_SCOPE) -> str:
        code = code or secrets.token_hex(8)
        with self.lock:
            self.webhooks[code] = {"user_id": int(user_id), "scope": scope}
        return code

    # ---- authorisation code ---------------------------------------------------------------
    def issue_code(self, client_id: str, user_id: int) -> str:
        code = _new_token()
        with self.lock:
            if client_id not in self.apps:
                raise TokenError(200, "wrong_client")
            self.codes[code] = {"client_id": client_id, "user_id": user_id,
                                "expires_at": self._clock() + self.settings.authorization_code_lifetime_seconds}
        return code

    def authorize_redirect(self, client_id: str, state: Optional[str], user_id: int, portal_domain: str,
                           member_id: str, server_domain: str) -> str:
        """The Location of the consent redirect (the consent is given automatically)."""
        code = self.issue_code(client_id, user_id)
        app = self.apps[client_id]
        query = {"code": code}
        if state is not None:
            query["state"] = state
        query.update({"domain": portal_domain, "member_id": member_id, "scope": app["scope"],
                      "server_domain": server_domain})
        separator = "&" if "?" in app["redirect_uri"] else "?"
        return app["redirect_uri"] + separator + urlencode(query)

    # ---- token endpoint ------------------------------------------------------------------
    def token(self, params: dict[str, Any], endpoints: dict[str, Any]) -> dict[str, Any]:
        """``/oauth/token/`` for both grants; raises TokenError with the real status and body."""
        client_id = str(params.get("client_id") or "")
        with self.lock:
            app = self.apps.get(client_id)
            if app is None:
                raise TokenError(200, "wrong_client")
            if str(params.get("client_secret") or "") != app["client_secret"]:
                raise TokenError(400, "invalid_client")
            grant_type = params.get("grant_type")
            now = self._clock()
            if grant_type == "authorization_code":
                code = params.get("code")
                if not code:
                    raise TokenError(400, "invalid_request", 'No "code" parameter found')
                record = self.codes.pop(str(code), None)  # single use, even when it fails later
                if record is None or record["client_id"] != client_id or record["expires_at"] < now:
                    raise TokenError(400, "invalid_grant")
                return self._issue_pair(client_id, record["user_id"], app["scope"], endpoints)
            if grant_type == "refresh_token":
                refresh = params.get("refresh_token")
                if not refresh:
                    raise TokenError(400, "invalid_request", 'No "refresh_token" parameter found')
                record = self.refresh_tokens.get(str(refresh))
                if (record is None or record["client_id"] != client_id or record["used"]
                        or record["expires_at"] < now):
                    raise TokenError(400, "invalid_grant")
                record["used"] = True
                if self.settings.revoke_access_token_on_refresh and record.get("access_token") in self.access_tokens:
                    self.access_tokens[record["access_token"]]["revoked"] = True
                return self._issue_pair(client_id, record["user_id"], record["scope"], endpoints)
            raise TokenError(400, "unsupported_grant_type")

    def _issue_pair(self, client_id: str, user_id: int, scope: str, endpoints: dict[str, Any]) -> dict[str, Any]:
        now = self._clock()
        lifetime = int(self.settings.access_token_lifetime_seconds)
        access, refresh = _new_token(), _new_token()
        self.access_tokens[access] = {"client_id": client_id, "user_id": user_id, "scope": scope,
                                      "expires_at": now + lifetime, "revoked": False}
        self.refresh_tokens[refresh] = {"client_id": client_id, "user_id": user_id, "scope": scope,
                                        "expires_at": now + self.settings.refresh_token_lifetime_seconds,
                                        "used": False, "access_token": access}
        return {
            "access_token": access,
            "client_endpoint": endpoints["client_endpoint"],
            "domain": endpoints["domain"],
            "expires": int(now + lifetime),
            "expires_in": lifetime,
            "member_id": endpoints["member_id"],
            "refresh_token": refresh,
            "scope": scope,
            "server_endpoint": endpoints["server_endpoint"],
            "status": "L",
            "user_id": user_id,
        }

    def expire_access_tokens(self) -> None:
        with self.lock:
            for record in self.access_tokens.values():
                record["expires_at"] = min(record["expires_at"], self._clock() - 1)

    # ---- REST authentication ---------------------------------------------------------------
    def authenticate(self, token: Optional[str]) -> Caller:
        """The caller behind an access token, or the 401 error Bitrix gives."""
        if not token:
            raise RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)
        with self.lock:
            record = self.access_tokens.get(token)
            if record is None or record["revoked"]:
                raise RestError("invalid_token", "Unable to get application by token", 401)
            if record["expires_at"] <= self._clock():
                raise RestError("expired_token", self.settings.expired_token_description, 401)
            if record["client_id"] not in self.apps:
                raise RestError("APPLICATION_NOT_FOUND", "Application not found", 401)
            return Caller("oauth", record["client_id"], record["user_id"], _scopes(record["scope"]), record["scope"],
                          self.apps[record["client_id"]].get("id"))

    def app_info(self, token: Optional[str], install: dict[str, Any], offset_minutes: int) -> dict[str, Any]:
        """The OAuth server's ``app.info``: the token's application, scope, expiry and installation."""
        with self.lock:
            self.authenticate(token)
            record = self.access_tokens[str(token)]
            app = self.apps[record["client_id"]]
            return {"client_id": record["client_id"], "scope": record["scope"],
                    "expires": iso_now(offset_minutes, record["expires_at"]), "user_id": record["user_id"],
                    "install": {"installed": True, "version": 1, "status": "L", "scope": app["scope"], **install}}

    def authenticate_webhook(self, user_id: str, code: str) -> Caller:
        with self.lock:
            record = self.webhooks.get(code)
            if record is None or str(record["user_id"]) != str(user_id):
                raise RestError("INVALID_CREDENTIALS", "Invalid request credentials",
                                self.settings.invalid_credentials_status)
            return Caller("webhook", "webhook:" + code, record["user_id"], _scopes(record["scope"]), record["scope"])

    # ---- persistence --------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"apps": dict(self.apps), "access_tokens": dict(self.access_tokens),
                    "refresh_tokens": dict(self.refresh_tokens), "webhooks": dict(self.webhooks)}

    def restore(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.apps.update(data.get("apps", {}))
            for app in self.apps.values():  # state files written before apps had ids
                if not app.get("id"):
                    app["id"] = self._next_app_id()
            self.access_tokens.update(data.get("access_tokens", {}))
            self.refresh_tokens.update(data.get("refresh_tokens", {}))
            self.webhooks.update(data.get("webhooks", {}))


def _scopes(scope: str) -> frozenset:
    return frozenset(part.strip() for part in str(scope).split(",") if part.strip())
