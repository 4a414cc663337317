"""The two portal limits: the leaky bucket (503) and the per-method operating time (429)."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from typing import Callable, Optional


class LeakyBucket:
    """Request counter that drains at ``drain_per_second``; a request that would overflow is refused."""

    def __init__(self, burst: int, drain_per_second: float, clock: Callable[[], float] = time.monotonic):
        self.burst = burst
        self.drain_per_second = drain_per_second
        self._clock = clock
        self._level = 0.0
        self._updated = clock()
        self._lock = threading.Lock()

    def _drain(self, now: float) -> None:
        self._level = max(0.0, self._level - (now - self._updated) * self.drain_per_second)
        self._updated = now

    def try_acquire(self) -> bool:
        """Count one request; False (and nothing counted) when the bucket is full."""
        with self._lock:
            self._drain(self._clock())
            if self._level + 1 > self.burst + 1e-9:
                return False
            self._level += 1
            return True

    @property
    def level(self) -> float:
        with self._lock:
            self._drain(self._clock())
            return self._level

    def configure(self, burst: Optional[int] = None, drain_per_second: Optional[float] = None) -> None:
        with self._lock:
            self._drain(self._clock())
            if burst is not None:
                self.burst = burst
            if drain_per_second is not None:
                self.drain_per_second = drain_per_second

    def reset(self) -> None:
        with self._lock:
            self._level = 0.0
            self._updated = self._clock()


class OperatingTime:
    """Execution seconds per (caller, method) in ten rolling buckets spanning ``window_seconds``."""

    BUCKETS = 10

    def __init__(self, budget_seconds: float, window_seconds: float, clock: Callable[[], float] = time.time):
        self.budget_seconds = budget_seconds
        self.window_seconds = window_seconds
        self._clock = clock
        # (caller, method) -> {bucket index: seconds}
        self._usage: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
        self._lock = threading.Lock()

    def _bucket_width(self) -> float:
        return self.window_seconds / self.BUCKETS

    def _live(self, key: tuple[str, str], now: float) -> dict[int, float]:
        width = self._bucket_width()
        oldest = math.floor((now - self.window_seconds) / width) + 1
        buckets = self._usage[key]
        for index in [i for i in buckets if i < oldest]:
            del buckets[index]
        return buckets

    def used(self, caller: str, method: str) -> float:
        with self._lock:
            return sum(self._live((caller, method), self._clock()).values())

    def is_blocked(self, caller: str, method: str) -> bool:
        """Blocked once the window's sum exceeds the budget; lifts as old buckets expire."""
        return self.used(caller, method) > self.budget_seconds

    def charge(self, caller: str, method: str, seconds: float) -> None:
        with self._lock:
            now = self._clock()
            buckets = self._live((caller, method), now)
            index = math.floor(now / self._bucket_width())
            buckets[index] = buckets.get(index, 0.0) + seconds

    def reset_at(self, caller: str, method: str) -> int:
        """Unix time when the oldest counted bucket leaves the window (now + window if none)."""
        with self._lock:
            now = self._clock()
            buckets = self._live((caller, method), now)
            if not buckets:
                return int(math.ceil(now + self.window_seconds))
            return int(math.ceil((min(buckets) + 1) * self._bucket_width() + self.window_seconds - self._bucket_width()))

    def reset(self) -> None:
        with self._lock:
            self._usage.clear()
