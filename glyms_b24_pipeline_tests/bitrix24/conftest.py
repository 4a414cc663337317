"""Fixtures for the Bitrix24 client tests: emulator, token store, ready clients."""

from __future__ import annotations

import pytest

from glyms_b24_pipeline.bitrix24.auth import OAuthApp, OAuthAuth, TokenSet, TokenStore, WebhookAuth
from glyms_b24_pipeline.bitrix24.client import Bitrix24Client
from glyms_b24_pipeline.settings.limits import ClientLimits, RateLimit

CLIENT_ID = "local.test.app"
CLIENT_SECRET = "test-secret"


def limits(rate_limit_burst=None, rate_limit_drain_per_second=None, **overrides) -> ClientLimits:
    """Test limits: no client-side pacing to speak of, quick back-off, short timeouts, plus ``overrides``."""
    if rate_limit_burst is not None or rate_limit_drain_per_second is not None:
        overrides["rate_limit"] = RateLimit(burst=rate_limit_burst or 100_000,
                                            drain_per_second=rate_limit_drain_per_second or 100_000.0)
    return ClientLimits.permissive(**overrides)


FAST = limits()


def store_tokens(emu, dsn) -> TokenStore:
    """Authorise the test app on ``emu`` and keep its tokens in the token table of ``dsn``."""
    store = TokenStore(dsn, emu.portal_url, CLIENT_ID)
    store.save(TokenSet.from_response(emu.issue_tokens(CLIENT_ID)))
    return store


def oauth_client(emu, dsn, **overrides) -> Bitrix24Client:
    app = OAuthApp(emu.portal_url, CLIENT_ID, CLIENT_SECRET, oauth_url=emu.oauth_url)
    return Bitrix24Client(OAuthAuth(app, TokenStore(dsn, emu.portal_url, CLIENT_ID)), limits(**overrides))


def webhook_client(emu, **overrides) -> Bitrix24Client:
    return Bitrix24Client(WebhookAuth(emu.add_webhook(user_id=1)), limits(**overrides))


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
