"""Request log and counters, readable by tests and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Optional, Union


@dataclass(frozen=True)
class RequestLogEntry:
    """One HTTP request as the emulator saw it (``http_status`` None = no answer was sent)."""

    time: float
    method: str
    http_status: Optional[int]
    batch_commands: int
    error: Optional[Union[str, int]]
    transport: str  # "oauth" | "webhook" | "token" | "authorize" | "none"
    duration: float
    fault: Optional[str] = None
    server: str = "portal"  # "portal" | "oauth"


class Observability:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log: list[RequestLogEntry] = []
        self._counters: Counter = Counter()
        self._by_status: Counter = Counter()
        self._by_method: Counter = Counter()
        self._by_fault: Counter = Counter()
        self._by_error: Counter = Counter()

    def record(self, entry: RequestLogEntry) -> None:
        with self._lock:
            self._log.append(entry)
            self._counters["requests"] += 1
            self._counters["batch_commands"] += entry.batch_commands
            self._by_status[str(entry.http_status) if entry.http_status is not None else "none"] += 1
            self._by_method[entry.method] += 1
            if entry.fault:
                self._by_fault[entry.fault] += 1
            if entry.error not in (None, ""):
                self._by_error[str(entry.error)] += 1
            if entry.error == "QUERY_LIMIT_EXCEEDED":
                self._counters["rate_limited"] += 1
            if entry.error == "OPERATION_TIME_LIMIT":
                self._counters["operating_limited"] += 1

    @property
    def log(self) -> list[RequestLogEntry]:
        with self._lock:
            return list(self._log)

    def counters(self) -> dict:
        with self._lock:
            return {"requests": self._counters["requests"], "batch_commands": self._counters["batch_commands"],
                    "rate_limited": self._counters["rate_limited"],
                    "operating_limited": self._counters["operating_limited"],
                    "by_status": dict(self._by_status), "by_method": dict(self._by_method),
                    "by_fault": dict(self._by_fault), "by_error": dict(self._by_error)}

    def reset(self) -> None:
        with self._lock:
            self._log.clear()
            for counter in (self._counters, self._by_status, self._by_method, self._by_fault, self._by_error):
                counter.clear()
