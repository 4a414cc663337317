"""A process-local progress sink: the syncs report, a terminal (if one installed a reporter) shows.

Nothing is shown unless the CLI installed a reporter for the run it executes in its own
process (``with reporting(...)``); under the Dagster daemon or webserver every call here is a
cheap no-op. No third-party import here: the terminal display lives in ``cli.terminal``.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Protocol

#: why a sync is waiting (``Wait.cause``)
RATE_LIMIT = "rate_limit"  # the portal's request rate (the client's leaky bucket)
OPERATING_WINDOW = "operating_window"  # a method blocked for its execution time (429 OPERATION_TIME_LIMIT)
RETRY = "retry"  # backing off before retrying after an error (``detail``: which)
PORTAL_LOCK = "portal_lock"  # another run holds the portal's writer lock (``detail``: which run)


@dataclass(frozen=True)
class Wait:
    """A wait about to start: how long at most, and why."""

    seconds: float
    cause: str = RATE_LIMIT
    #: the error retried after, the blocked method, or the run holding the lock
    detail: str = ""


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

    def waiting(self, wait: Wait) -> None:
        """The sync is about to wait (the Bitrix24 client's pacing or back-off, the portal lock)."""


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


def waiting(seconds: float, cause: str = RATE_LIMIT, detail: str = "") -> None:
    """Called right before a sleep of ``seconds``, with its cause (one of the constants above)."""
    reporter = _reporter
    if reporter is not None and seconds > 0:
        reporter.waiting(Wait(seconds, cause, detail))


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
