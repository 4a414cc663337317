"""Fixtures for the Bitrix24 client tests: emulator, token store, ready clients."""

from __future__ import annotations

import pytest

from glyms_b24_pipeline.bitrix24.auth import OAuthApp, OAuthAuth, TokenSet, TokenStore, WebhookAuth
from glyms_b24_pipeline.bitrix24.client import Bitrix24Client

CLIENT_ID = "local.test.app"
CLIENT_SECRET = "test-secret"

#: client settings for tests: no client-side pacing to speak of, quick back-off, short timeouts
FAST = dict(
    rate_limit_burst=100_000,
    rate_limit_drain_per_second=100_000.0,
    connect_timeout_seconds=2.0,
    read_timeout_seconds=5.0,
    max_retries=4,
    backoff_base_seconds=0.02,
    backoff_max_seconds=0.2,
)


def store_tokens(emu, dsn) -> TokenStore:
    """Authorise the test app on ``emu`` and keep its tokens in the token table of ``dsn``."""
    store = TokenStore(dsn, emu.portal_url, CLIENT_ID)
    store.save(TokenSet.from_response(emu.issue_tokens(CLIENT_ID)))
    return store


def oauth_client(emu, dsn, **overrides) -> Bitrix24Client:
    app = OAuthApp(emu.portal_url, CLIENT_ID, CLIENT_SECRET, oauth_url=emu.oauth_url)
    return Bitrix24Client(OAuthAuth(app, TokenStore(dsn, emu.portal_url, CLIENT_ID)), **{**FAST, **overrides})


def webhook_client(emu, **overrides) -> Bitrix24Client:
    return Bitrix24Client(WebhookAuth(emu.add_webhook(user_id=1)), **{**FAST, **overrides})


@pytest.fixture
def client(emulator, glyms_dsn):
    """An OAuth client of the permissive ``emulator`` with tokens stored in ``glyms_dsn``."""
    store_tokens(emulator, glyms_dsn)
    with oauth_client(emulator, glyms_dsn) as c:
        yield c


@pytest.fixture
def hook_client(emulator):
    """A webhook client of the permissive ``emulator`` (no database needed)."""
    with webhook_client(emulator) as c:
        yield c


def log_of(emu, method=None):
    return [e for e in emu.request_log if e.server == "portal" and (method is None or e.method == method)]
