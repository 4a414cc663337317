"""``Bitrix24Resource``: the Bitrix24 client as a Dagster resource.

Pass secrets and endpoints as ``dg.EnvVar`` so the UI shows variable names, not values::

    Bitrix24Resource(
        portal_url=dg.EnvVar("B24_PORTAL_URL"),
        client_id=dg.EnvVar("B24_CLIENT_ID"),
        client_secret=dg.EnvVar("B24_CLIENT_SECRET"),
        token_store_dsn=dg.EnvVar("GLYMS_PG_DSN"),
        limits=settings.bitrix24.client_limits(),
    )

One client per resource instance, built on first use and reused by every asset of the step
(the multiprocess executor builds a fresh resource per step; the leaky bucket is shared per
process and the OAuth tokens through PostgreSQL, so that is safe).
"""

from __future__ import annotations

import threading
from typing import Annotated, Any, Optional

import dagster as dg
from pydantic import Field, PrivateAttr

from glyms_b24_pipeline.bitrix24.client import Bitrix24Client
from glyms_b24_pipeline.bitrix24.factory import ConnectionValues, build_client
from glyms_b24_pipeline.settings.limits import ClientLimits

_SECRET_FIELDS = frozenset({"client_secret", "webhook_url", "token_store_dsn"})


class Bitrix24Resource(dg.ConfigurableResource):
    """Bitrix24 REST access for assets: ``get_client()`` and ``counters_metadata()``."""

    portal_url: Annotated[str, Field(description="Portal base URL (B24_PORTAL_URL); unused in webhook mode")] = ""
    client_id: Annotated[Optional[str], Field(description="Local application client id (B24_CLIENT_ID)")] = None
    client_secret: Annotated[Optional[str], Field(description="Local application secret (B24_CLIENT_SECRET)")] = None
    oauth_url: Annotated[Optional[str], Field(description="OAuth server base URL (B24_OAUTH_URL), default https://oauth.bitrix.info")] = None
    webhook_url: Annotated[Optional[str], Field(description="Incoming webhook URL (B24_WEBHOOK_URL): webhook mode when set")] = None
    token_store_dsn: Annotated[Optional[str], Field(description="PostgreSQL DSN holding glyms_b24.oauth_token (GLYMS_PG_DSN)")] = None
    redirect_uri: str = "http://localhost/"
    limits: Annotated[ClientLimits, Field(description="pacing, timeouts and retries (bitrix24.* settings)")] = ClientLimits()

    _client: Optional[Bitrix24Client] = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def __repr_args__(self):  # pydantic repr: hide secrets
        for name, value in super().__repr_args__():
            if name in _SECRET_FIELDS and value:
                yield name, "***"
            else:
                yield name, value

    def get_client(self) -> Bitrix24Client:
        """The resource's client (built lazily, then reused)."""
        with self._lock:
            if self._client is None:
                values = ConnectionValues(
                    portal_url=(self.portal_url or "").strip(),
                    client_id=(self.client_id or "").strip(),
                    client_secret=(self.client_secret or "").strip(),
                    oauth_url=(self.oauth_url or "").strip(),
                    webhook_url=(self.webhook_url or "").strip(),
                    token_store_dsn=(self.token_store_dsn or "").strip(),
                )
                self._client = build_client(values, self.limits, redirect_uri=self.redirect_uri)
            return self._client

    def counters_metadata(self) -> dict[str, Any]:
        """Request counters of this resource's client (zeros before the first call)."""
        if self._client is None:
            return {f"b24_{name}": 0 for name in ("requests", "retries", "rate_limited_503", "operating_limited_429", "seconds_waited", "refreshes")}
        return self._client.counters.as_metadata()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
