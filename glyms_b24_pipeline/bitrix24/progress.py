"""A process-local progress sink: the syncs report, a terminal (if one installed a reporter) shows.

Nothing is shown unless the CLI installed a reporter for the run it executes in its own
process (``with reporting(...)``); under the Dagster daemon or webserver every call here is a
cheap no-op. No third-party import here: the terminal display lives in ``operator.terminal``.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Protocol


@dataclass(frozen=True)
class Progress:
    """Where one sync's writes stand: rows done of total, requests sent, the wait now under way."""

    sync: str
    done: int
    total: int
    requests: Optional[int] = None
    waiting_seconds: float = 0.0


class Reporter(Protocol):
    def update(self, progress: Progress) -> None: ...

    def waiting(self, seconds: float) -> None:
        """The Bitrix24 client is about to sleep ``seconds`` for the portal's limits."""


_reporter: Optional[Reporter] = None
_lock = threading.Lock()


def set_reporter(reporter: Optional[Reporter]) -> Optional[Reporter]:
    """Install ``reporter`` (None = no-op); returns the previous one."""
    global _reporter
    with _lock:
        previous, _reporter = _reporter, reporter
    return previous


@contextlib.contextmanager
def reporting(reporter: Optional[Reporter]) -> Iterator[Optional[Reporter]]:
    """``reporter`` installed for the block (entered first when it is a context manager, e.g. a live bar)."""
    with contextlib.ExitStack() as stack:
        if hasattr(reporter, "__enter__"):
            stack.enter_context(reporter)  # type: ignore[arg-type]
        previous = set_reporter(reporter)
        try:
            yield reporter
        finally:
            set_reporter(previous)


def report(sync: str, done: int, total: int, requests: Optional[int] = None, waiting_seconds: float = 0.0) -> None:
    reporter = _reporter
    if reporter is not None:
        reporter.update(Progress(sync, done, total, requests, waiting_seconds))


def waiting(seconds: float) -> None:
    """Called by the Bitrix24 client right before it sleeps for the portal's limits."""
    reporter = _reporter
    if reporter is not None and seconds > 0:
        reporter.waiting(seconds)


def push_progress(sync: str, client: Any, total: Optional[int] = None) -> Callable[[int, int], None]:
    """``on_progress`` for ``push_changes``: rows done / total and the client's requests since now.

    With ``total`` the display starts at once (0 of total) instead of after the first slice.
    """
    counters = getattr(client, "counters", None)
    start = int(getattr(counters, "requests", 0) or 0)

    def on_progress(done: int, total: int) -> None:
        if not total:  # nothing to write: nothing worth a line
            return
        sent = int(getattr(counters, "requests", 0) or 0) - start if counters is not None else None
        report(sync, done, total, sent)

    if total:
        on_progress(0, total)
    return on_progress
