"""The CLI as the operator runs it: a separate process, a clean environment, real services."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Callable, Mapping, Optional

import pytest

CLI = [sys.executable, "-m", "glyms_b24_pipeline.cli"]


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any glyms-b24, Bitrix24 or Dagster setting, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("B24_", "GLYMS_", "DAGSTER_"))}
    env.update(values)
    return env


@pytest.fixture
def glyms_cli() -> Callable[..., subprocess.CompletedProcess]:
    """``glyms_cli("price-types", env={...})`` -> the finished process (text stdout/stderr)."""

    def run(*args: str, env: Optional[Mapping[str, str]] = None, timeout: float = 120,
            cwd: Optional[str] = None) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, *args], env=clean_env(**dict(env or {})), capture_output=True, text=True,
                              timeout=timeout, cwd=cwd)

    return run
