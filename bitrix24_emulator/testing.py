"""Pytest fixtures for the local Bitrix24 emulator (registered via ``pytest_plugins``)."""

from __future__ import annotations

from typing import Any, Callable

import pytest
import requests

from bitrix24_emulator import Bitrix24Emulator, EmulatorSettings

TEST_CLIENT_ID = "local.test.app"
TEST_CLIENT_SECRET = "test-secret"
PERMISSIVE_LIMITS = {"rate_limit_burst": 100000, "rate_limit_drain_per_second": 100000.0}


def _started(**settings: Any) -> Bitrix24Emulator:
    emulator = Bitrix24Emulator(EmulatorSettings(**settings)).start()
    emulator.register_app(TEST_CLIENT_ID, TEST_CLIENT_SECRET)
    return emulator


@pytest.fixture
def emulator():
    """A started emulator with permissive limits and the app ``local.test.app`` / ``test-secret``."""
    instance = _started(**PERMISSIVE_LIMITS)
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def make_emulator():
    """Factory: ``make_emulator(**EmulatorSettings kwargs)`` -> started emulator (app registered); all stopped at teardown."""
    started: list[Bitrix24Emulator] = []

    def factory(**settings: Any) -> Bitrix24Emulator:
        instance = _started(**settings)
        started.append(instance)
        return instance

    try:
        yield factory
    finally:
        for instance in started:
            instance.stop()


@pytest.fixture
def emulator_token(emulator) -> str:
    """An access token of ``local.test.app`` on the ``emulator`` fixture."""
    return emulator.issue_tokens(TEST_CLIENT_ID)["access_token"]


@pytest.fixture
def rest(emulator, emulator_token) -> Callable[..., requests.Response]:
    """``rest("crm.company.get", id=5)`` -> the raw ``requests`` response (JSON POST with ``auth``)."""

    def call(method: str, **params: Any) -> requests.Response:
        return requests.post(f"{emulator.portal_url}/rest/{method}", json={"auth": emulator_token, **params},
                             timeout=10)

    return call
