"""Client-side pacing: the portal's leaky bucket, mirrored, and per-method operating time.

* :class:`LeakyBucket` mirrors the portal's request limiter (every HTTP request adds 1, the
  level drains ``drain_per_second``, a request that would overflow ``burst`` gets 503). The
  client waits *before* sending instead of collecting 503s. Buckets are process-wide and keyed
  by portal: every thread and every client of the process that talks to one portal shares one
  bucket (:func:`bucket_for_portal`), exactly like the portal shares one counter per IP.
* :class:`OperatingTimeTracker` keeps the ``time.operating`` figure the portal reports per
  method (seconds of execution in the last 10 minutes) and slows calls of a method that gets
  close to the budget, then waits for ``operating_reset_at`` before the portal would block it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional
from urllib.parse import urlsplit

Clock = Callable[[], float]


class LeakyBucket:
    """Thread-safe leaky bucket with reservations.

    ``reserve()`` books the next free slot and returns how long the caller must sleep before
    sending; callers queue in booking order, so N threads together never exceed the rate.
    ``safety`` slots of the burst are kept free so that network jitter (two requests that
    left 0.5 s apart arriving 0.45 s apart) never tips the portal's counter over.
    """

    def __init__(self, burst: int, drain_per_second: float, *, safety: Optional[float] = None, clock: Clock = time.monotonic):
        if burst < 1 or drain_per_second <= 0:
            raise ValueError("burst must be >= 1 and drain_per_second > 0")
        self._lock = threading.Lock()
        self._clock = clock
        self._level = 0.0
        self._updated = clock()
        self.configure(burst, drain_per_second, safety=safety)

    def configure(self, burst: int, drain_per_second: float, *, safety: Optional[float] = None) -> None:
        with self._lock:
            self.burst = int(burst)
            self.drain_per_second = float(drain_per_second)
            if safety is None:
                safety = min(5.0, max(1.0, burst * 0.05)) if burst > 2 else 0.0
            self.capacity = max(1.0, burst - safety)

    def _drain(self, now: float) -> None:
        self._level = max(0.0, self._level - (now - self._updated) * self.drain_per_second)
        self._updated = now

    def reserve(self) -> float:
        """Book one request; returns the seconds to wait before sending it (0 when free)."""
        with self._lock:
            now = self._clock()
            self._drain(now)
            self._level += 1.0
            excess = self._level - self.capacity
            return excess / self.drain_per_second if excess > 0 else 0.0

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> float:
        """Wait for a slot; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            sleep(wait)
        return wait

    def saturate(self) -> None:
        """The portal answered 503: its counter is full, so treat ours as full too."""
        with self._lock:
            self._drain(self._clock())
            self._level = max(self._level, self.capacity)

    def carry_over(self, level: float) -> None:
        """Another process left the portal's counter at ``level`` (already drained to now): start from it."""
        with self._lock:
            self._drain(self._clock())
            self._level = max(self._level, min(float(level), float(self.burst)))

    @property
    def level(self) -> float:
        with self._lock:
            self._drain(self._clock())
            return self._level

    def __repr__(self) -> str:
        return f"LeakyBucket(burst={self.burst}, drain_per_second={self.drain_per_second}, capacity={self.capacity:g})"


_BUCKETS: dict[str, LeakyBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def portal_key(url: str) -> str:
    """``scheme://host[:port]`` of a portal or webhook URL, lower-cased (no path, no secrets)."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return url.strip().rstrip("/").lower()
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme.lower()}://{host.lower()}{port}"


def bucket_for_portal(url: str, burst: int, drain_per_second: float) -> LeakyBucket:
    """The process-wide bucket of a portal; a later client with other limits reconfigures it."""
    key = portal_key(url)
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(key)
        if bucket is None:
            bucket = _BUCKETS[key] = LeakyBucket(burst, drain_per_second)
        elif bucket.burst != burst or bucket.drain_per_second != drain_per_second:
            bucket.configure(burst, drain_per_second)
        return bucket


def existing_bucket(url: str) -> Optional[LeakyBucket]:
    """The process's bucket of a portal, if a client has made one."""
    with _BUCKETS_LOCK:
        return _BUCKETS.get(portal_key(url))


def forget_buckets() -> None:
    """Drop every process-wide bucket (tests and benchmarks that restart portals)."""
    with _BUCKETS_LOCK:
        _BUCKETS.clear()


@dataclass
class _MethodUsage:
    operating: float = 0.0  # the portal's last running total (``time.operating`` of a direct call)
    reset_at: Optional[float] = None  # unix time
    observed_at: float = 0.0  # unix time
    # Batch sub-results carry no running total, only each call's ``duration``: those since the
    # last total are summed here (when, seconds) over the portal's rolling window.
    since_total: list[tuple[float, float]] = field(default_factory=list)


class OperatingTimeTracker:
    """Per-method operating time as reported by the portal, and the delay it calls for.

    Below ``slow_fraction`` of the budget nothing happens. Between ``slow_fraction`` and
    ``stop_fraction`` each call of the method is delayed, linearly up to ``max_slow_delay``
    seconds. At ``stop_fraction`` and above the client waits until the portal's
    ``operating_reset_at`` (capped by ``max_wait_seconds``), before the portal answers 429.
    """

    def __init__(
        self,
        budget_seconds: float = 480.0,
        *,
        slow_fraction: float = 0.7,
        stop_fraction: float = 0.9,
        max_slow_delay: float = 5.0,
        max_wait_seconds: float = 600.0,
        default_block_seconds: float = 60.0,
        window_seconds: float = 600.0,
        clock: Clock = time.time,
    ):
        self.budget_seconds = float(budget_seconds)
        self.slow_fraction = slow_fraction
        self.stop_fraction = stop_fraction
        self.max_slow_delay = max_slow_delay
        self.max_wait_seconds = max_wait_seconds
        self.default_block_seconds = default_block_seconds
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._usage: dict[str, _MethodUsage] = {}

    @staticmethod
    def _key(method: str) -> str:
        return method.strip().lower()

    def observe(self, method: str, time_info: Optional[dict]) -> None:
        """Record the ``time`` object of a response (or of a batch sub-command)."""
        if not isinstance(time_info, dict):
            return
        operating = time_info.get("operating")
        reset_at = time_info.get("operating_reset_at")
        duration = time_info.get("duration")
        if not any(isinstance(v, (int, float)) for v in (operating, reset_at, duration)):
            return
        now = self._clock()
        with self._lock:
            usage = self._usage.setdefault(self._key(method), _MethodUsage())
            if isinstance(operating, (int, float)):
                usage.operating = float(operating)
                usage.since_total.clear()  # the portal's total already counts them
            elif isinstance(duration, (int, float)):
                usage.since_total.append((now, float(duration)))
            if isinstance(reset_at, (int, float)):
                usage.reset_at = float(reset_at)
            usage.observed_at = now

    def _estimate(self, usage: _MethodUsage, now: float) -> float:
        """Seconds of the method in the portal's window: its last total plus durations since."""
        usage.since_total = [(t, d) for t, d in usage.since_total if t > now - self.window_seconds]
        return usage.operating + sum(d for _, d in usage.since_total)

    def _relief_at(self, usage: _MethodUsage, now: float) -> float:
        """When enough of the summed durations leave the window to fall below the stop line."""
        excess = self._estimate(usage, now) - self.stop_fraction * self.budget_seconds
        for when, seconds in usage.since_total:
            excess -= seconds
            if excess < 0:
                return when + self.window_seconds
        return usage.observed_at + self.default_block_seconds

    def blocked(self, method: str, reset_at: Optional[float] = None) -> float:
        """The portal answered 429 for ``method``: seconds to wait before trying it again."""
        now = self._clock()
        with self._lock:
            usage = self._usage.setdefault(self._key(method), _MethodUsage())
            if reset_at is not None:
                usage.reset_at = reset_at
            usage.operating = max(usage.operating, self.budget_seconds)
            usage.observed_at = now
            target = usage.reset_at if usage.reset_at and usage.reset_at > now else now + self.default_block_seconds
        return min(self.max_wait_seconds, max(0.0, target - now))

    def delay_before(self, method: str) -> float:
        """Seconds to wait before the next call of ``method`` (0 when far from the budget)."""
        now = self._clock()
        with self._lock:
            usage = self._usage.get(self._key(method))
            if usage is None or self.budget_seconds <= 0:
                return 0.0
            if usage.reset_at is not None and now >= usage.reset_at:
                # the oldest minute bucket has expired: the figure is stale and lower by now
                usage.operating = 0.0
                usage.reset_at = None
            share = self._estimate(usage, now) / self.budget_seconds
            if share >= self.stop_fraction:
                target = usage.reset_at if usage.reset_at else self._relief_at(usage, now)
                return min(self.max_wait_seconds, max(0.0, target - now))
            if share >= self.slow_fraction:
                span = max(1e-9, self.stop_fraction - self.slow_fraction)
                return self.max_slow_delay * (share - self.slow_fraction) / span
            return 0.0

    def operating(self, method: str) -> float:
        """The estimated seconds of ``method`` in the portal's window."""
        with self._lock:
            usage = self._usage.get(self._key(method))
            return self._estimate(usage, self._clock()) if usage else 0.0
