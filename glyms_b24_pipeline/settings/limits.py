"""The client's limits, defined once: the YAML settings, the Dagster resource and the client share them.

A ``dg.Config`` so that ``Bitrix24Resource`` can carry it as one nested field (shown in the UI),
made strict (unknown keys are errors) and frozen like the rest of the settings.
"""

from __future__ import annotations

from typing import Annotated

import dagster as dg
from pydantic import ConfigDict, Field


class RateLimit(dg.Config):
    """Client-side leaky bucket; match the portal's plan (standard 50/2, Enterprise 250/5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    burst: Annotated[int, Field(ge=1, le=100_000, description="requests the portal accepts at once")] = 50
    drain_per_second: Annotated[float, Field(gt=0, le=100_000, description="requests per second the bucket drains")] = 2.0


class ClientLimits(dg.Config):
    """Pacing, timeouts, retries and the operating-time budget of the Bitrix24 client."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_limit: RateLimit = RateLimit()
    connect_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    read_timeout_seconds: Annotated[float, Field(gt=0)] = 60.0
    max_retries: Annotated[int, Field(ge=0, le=20, description="retries of a retryable failure (503, 429, 5xx, timeouts)")] = 6
    backoff_base_seconds: Annotated[float, Field(ge=0, description="first back-off; doubles per retry, with jitter")] = 0.5
    backoff_max_seconds: Annotated[float, Field(ge=0)] = 30.0
    unreachable_timeout_seconds: Annotated[float, Field(gt=0, le=3600, description=(
        "a portal that cannot be reached for this long ends the run (exit 2) instead of retrying on"))] = 60.0
    # The portal blocks a method after 480 s of execution time in 10 minutes.
    operating_budget_seconds: Annotated[float, Field(gt=0)] = 480.0
    operating_wait_max_seconds: Annotated[float, Field(gt=0, description="longest wait for a method's window")] = 600.0

    @classmethod
    def permissive(cls, **overrides: object) -> "ClientLimits":
        """Limits for tests and benchmarks against an unthrottled emulator: no pacing, quick back-off."""
        values: dict[str, object] = {
            "rate_limit": RateLimit(burst=100_000, drain_per_second=100_000.0),
            "connect_timeout_seconds": 2.0,
            "read_timeout_seconds": 5.0,
            "max_retries": 4,
            "backoff_base_seconds": 0.02,
            "backoff_max_seconds": 0.2,
            "unreachable_timeout_seconds": 1.0,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
