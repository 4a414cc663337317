"""Build a client from explicit values or from the environment (CLI); no Dagster import here."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from glyms_b24_pipeline.bitrix24.auth import DEFAULT_OAUTH_URL, OAuthApp, OAuthAuth, TokenStore, WebhookAuth
from glyms_b24_pipeline.bitrix24.client import Bitrix24Client
from glyms_b24_pipeline.bitrix24.errors import Bitrix24Error
from glyms_b24_pipeline.settings.errors import ConfigError
from glyms_b24_pipeline.settings.limits import ClientLimits
from glyms_b24_pipeline.settings.model import Bitrix24Settings


@dataclass(frozen=True)
class ConnectionValues:
    """Endpoints and secrets (from environment variables / Dagster EnvVars). ``repr`` hides secrets."""

    portal_url: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    oauth_url: str = ""
    webhook_url: str = field(default="", repr=False)
    token_store_dsn: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "ConnectionValues":
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return (env.get(name) or "").strip()

        return cls(
            portal_url=get("B24_PORTAL_URL"),
            client_id=get("B24_CLIENT_ID"),
            client_secret=get("B24_CLIENT_SECRET"),
            oauth_url=get("B24_OAUTH_URL"),
            webhook_url=get("B24_WEBHOOK_URL"),
            token_store_dsn=get("GLYMS_PG_DSN"),
        )

    @property
    def webhook_mode(self) -> bool:
        return bool(self.webhook_url)

    @property
    def portal(self) -> str:
        """The portal written to: the webhook's when set, else B24_PORTAL_URL ("" when neither is)."""
        return self.webhook_url or self.portal_url


def _require(value: str, name: str, purpose: str) -> str:
    if not value:
        raise ConfigError(f"environment variable {name} is not set ({purpose})")
    return value


def oauth_app(values: ConnectionValues, redirect_uri: str = "http://localhost/", *, need_secret: bool = True) -> OAuthApp:
    return OAuthApp(
        portal_url=_require(values.portal_url, "B24_PORTAL_URL", "Bitrix24 portal, e.g. https://yourportal.bitrix24.es"),
        client_id=_require(values.client_id, "B24_CLIENT_ID", "client id of the Bitrix24 local application"),
        client_secret=_require(values.client_secret, "B24_CLIENT_SECRET", "client secret of the local application") if need_secret else values.client_secret,
        oauth_url=values.oauth_url or DEFAULT_OAUTH_URL,
        redirect_uri=redirect_uri,
    )


def token_store(values: ConnectionValues, app: OAuthApp) -> TokenStore:
    dsn = _require(values.token_store_dsn, "GLYMS_PG_DSN", "the OAuth tokens are kept in the Glyms database, schema glyms_b24")
    return TokenStore(dsn, app.portal_url, app.client_id)


def build_client(
    values: ConnectionValues,
    limits: Optional[ClientLimits] = None,
    *,
    redirect_uri: str = "http://localhost/",
) -> Bitrix24Client:
    """Webhook mode when ``webhook_url`` is set, else OAuth with the token store."""
    try:
        if values.webhook_mode:
            auth: Any = WebhookAuth(values.webhook_url)
        else:
            app = oauth_app(values, redirect_uri)
            auth = OAuthAuth(app, token_store(values, app))
    except Bitrix24Error as exc:  # malformed URL: an operator problem
        raise ConfigError(str(exc)) from None
    return Bitrix24Client(auth, limits)


def client_from_env(settings: Optional[Bitrix24Settings] = None, environ: Optional[Mapping[str, str]] = None) -> Bitrix24Client:
    """The CLI's client: endpoints/secrets from the environment, limits from the settings."""
    settings = settings or Bitrix24Settings()
    return build_client(ConnectionValues.from_env(environ), settings.client_limits(), redirect_uri=settings.redirect_uri)
