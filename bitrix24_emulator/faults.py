"""Fault injection: what a sync must survive (5xx, HTML pages, slowness, resets, lost responses)."""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

FAULT_KINDS = ("http_500", "http_502", "http_504", "html_error", "slow", "timeout", "connection_reset",
               "expired_token", "lost_response", "command_error")
# Faults that hit one method call (a batch command or a direct call), not the HTTP request.
COMMAND_FAULT_KINDS = ("command_error",)
_ids = itertools.count(1)


@dataclass
class Fault:
    """One injected fault.

    ``method``: the REST method it targets (None = any). It matches the HTTP request's method,
    and also a ``batch`` that contains a command of that method (the fault then hits the whole batch).
    ``nth``: fire on the n-th matching request counted from when the fault was added (1-based).
    ``probability``: fire on each matching request with this chance.
    ``duration_seconds``: active only this long after being added.
    ``count``: fire at most this many times (default 1 with ``nth``, otherwise unlimited).
    ``delay_seconds``: sleep of ``slow`` and ``timeout`` (defaults from the settings).
    ``status``: HTTP status of ``html_error`` (default 200: an HTML page where JSON was expected).
    """

    kind: str
    method: Optional[str] = None
    nth: Optional[int] = None
    probability: Optional[float] = None
    duration_seconds: Optional[float] = None
    count: Optional[int] = None
    delay_seconds: Optional[float] = None
    status: Optional[int] = None
    id: int = field(default_factory=lambda: next(_ids))
    added_at: float = field(default_factory=time.monotonic)
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.method:
            self.method = self.method.lower()

    def matches(self, methods: set[str]) -> bool:
        return self.method is None or self.method in methods

    def exhausted(self, now: float) -> bool:
        if self.duration_seconds is not None and now - self.added_at > self.duration_seconds:
            return True
        limit = self.count if self.count is not None else (1 if self.nth is not None else None)
        return limit is not None and self.fired >= limit


class FaultInjector:
    """The active faults; ``pick`` decides (thread-safely) which one hits a request."""

    def __init__(self, seed: Optional[int] = None):
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def add(self, fault: Fault) -> int:
        with self._lock:
            fault.added_at = time.monotonic()
            self._faults.append(fault)
        return fault.id

    def remove(self, fault_id: int) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if f.id != fault_id]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def pick(self, methods: set[str], *, command_level: bool = False) -> Optional[Fault]:
        """The first active fault that fires for a request touching ``methods`` (lower-case names).

        ``command_level`` picks among the faults that hit single method calls (``command_error``)
        instead of those that hit whole HTTP requests.
        """
        now = time.monotonic()
        with self._lock:
            chosen = None
            for fault in self._faults:
                if (fault.kind in COMMAND_FAULT_KINDS) != command_level:
                    continue
                if fault.exhausted(now) or not fault.matches(methods):
                    continue
                fault.seen += 1
                if chosen is not None:
                    continue
                if fault.nth is not None:
                    limit = fault.count if fault.count is not None else 1
                    fires = fault.nth <= fault.seen < fault.nth + limit
                elif fault.probability is not None:
                    fires = self._random.random() < fault.probability
                else:
                    fires = True
                if fires:
                    fault.fired += 1
                    chosen = fault
            return chosen
