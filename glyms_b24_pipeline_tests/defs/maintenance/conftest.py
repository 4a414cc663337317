"""Fixtures of the orchestration tests: a local SMTP server, settings files, a stand-in flaky job.

No `from __future__ import annotations`: Dagster reads the op's config type at definition time."""


import socket
from email import message_from_bytes, policy
from email.message import Message

import dagster as dg
import pytest


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 (aiosmtpd); ``.inbox.messages`` holds what it received."""
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    controller.inbox = inbox
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def write_settings(tmp_path):
    """``write_settings(text)`` -> path of a settings file holding ``text``."""

    def write(text: str):
        path = tmp_path / "glyms_b24.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


class FlakyConfig(dg.Config):
    fail: bool = False


@dg.op
def flaky_step(config: FlakyConfig) -> None:
    if config.fail:
        raise dg.Failure(description="cannot connect to the Glyms database 127.0.0.1:1/glyms: Connection refused",
                         allow_retries=False)


@dg.job(name="flaky_sync")
def flaky_sync() -> None:
    flaky_step()


@pytest.fixture
def run_flaky():
    """``run_flaky(instance, fail)`` -> the finished real run of the stand-in job ``flaky_sync``."""

    def run(instance: dg.DagsterInstance, fail: bool) -> dg.DagsterRun:
        result = flaky_sync.execute_in_process(instance=instance, raise_on_error=False,
                                               run_config={"ops": {"flaky_step": {"config": {"fail": fail}}}})
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.status == (dg.DagsterRunStatus.FAILURE if fail else dg.DagsterRunStatus.SUCCESS)
        return run

    return run
