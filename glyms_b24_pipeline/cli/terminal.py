"""The terminal side of ``bitrix24.progress``: a live bar on a TTY, plain lines otherwise (cron, pipes)."""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from typing import Any, Callable, Optional, TextIO

from rich import progress as rich_progress
from rich.console import Console

from glyms_b24_pipeline.bitrix24 import progress as sync_progress
from glyms_b24_pipeline.bitrix24.progress import Progress, Reporter, Wait
from glyms_b24_pipeline.cli.i18n import _
from glyms_b24_pipeline.cli.reasons import N_, translated

#: plain mode: at most one progress line per this many seconds (the last one always shows)
PLAIN_EVERY_SECONDS = 10.0
#: plain mode: waits shorter than this are pacing as usual, not news
PLAIN_WAIT_WORTH_A_LINE_SECONDS = 5.0


#: the errors a retry follows, as the operator reads them (the log names the exact error)
RETRIED_ERRORS = {
    "ConnectError": N_("failing to connect to the portal"),
    "TransportError": N_("a dropped or unanswered connection"),
    "ServerError": N_("a Bitrix24 server error"),
    "RateLimitError": N_("a too-many-requests answer (QUERY_LIMIT_EXCEEDED)"),
}


def wait_reason(wait: Wait) -> str:
    """Why the sync waits, in the operator's words."""
    if wait.cause == sync_progress.RETRY:
        error = RETRIED_ERRORS.get(wait.detail)
        return _("to retry after {error}").format(
            error=_(error) if error else _("a Bitrix24 error ({name})").format(name=wait.detail))
    if wait.cause == sync_progress.OPERATING_WINDOW:
        return _("for Bitrix24 to free {method} (operating-time limit)").format(method=wait.detail or _("the method"))
    if wait.cause == sync_progress.PORTAL_LOCK:
        return _("for another sync writing to the portal to end ({holder})").format(holder=translated(wait.detail))
    return _("for Bitrix24's requests-per-second limit")


class PlainLines:
    """One line now and then: fit for a log file or a cron mail."""

    def __init__(self, stream: Optional[TextIO] = None, clock: Callable[[], float] = time.monotonic):
        self.stream = stream or sys.stdout
        self._clock = clock
        self._last_line: dict[str, float] = {}
        self._lock = threading.Lock()

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):  # the reader left: progress is not worth failing a sync for
            pass

    def update(self, progress: Progress) -> None:
        now = self._clock()
        with self._lock:
            last = self._last_line.get(progress.sync)
            finished = progress.done >= progress.total
            if not finished and last is not None and now - last < PLAIN_EVERY_SECONDS:
                return
            self._last_line[progress.sync] = now
        requests = _(", {requests} requests").format(requests=progress.requests) if progress.requests is not None else ""
        self._write(_("  {sync}: {done}/{total} changes written").format(sync=progress.sync, done=progress.done,
                                                                         total=progress.total) + requests)

    def waiting(self, wait: Wait) -> None:
        if wait.seconds >= PLAIN_WAIT_WORTH_A_LINE_SECONDS or wait.cause != sync_progress.RATE_LIMIT:
            self._write(_("  waiting {seconds:.0f} s {reason}").format(seconds=wait.seconds, reason=wait_reason(wait)))


class LiveBar:
    """A rich progress bar per sync, with requests and a countdown of the current wait; gone when done."""

    def __init__(self, stream: Optional[TextIO] = None):
        self._progress = rich_progress.Progress(
            rich_progress.TextColumn("{task.description}"), rich_progress.BarColumn(), rich_progress.MofNCompleteColumn(),
            rich_progress.TextColumn("{task.fields[requests]} " + _("requests")), rich_progress.TextColumn("{task.fields[wait]}"),
            rich_progress.TimeElapsedColumn(),
            console=Console(file=stream or sys.stdout), transient=True, refresh_per_second=4,
            redirect_stdout=False, redirect_stderr=False,
        )
        self._tasks: dict[str, Any] = {}  # sync -> rich TaskID
        self._wait_until = 0.0
        self._wait_reason = ""
        self._current: Optional[str] = None
        self._ticker: Optional[threading.Thread] = None
        self._stop = threading.Event()

    def __enter__(self) -> "LiveBar":
        self._progress.start()
        self._ticker = threading.Thread(target=self._tick, name="glyms-b24-progress", daemon=True)
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        self._progress.stop()

    def _wait_text(self) -> str:
        remaining = self._wait_until - time.monotonic()
        return (_("waiting {seconds:.0f} s {reason}").format(seconds=remaining, reason=self._wait_reason)
                if remaining >= 0.5 else "")

    def _tick(self) -> None:  # the countdown moves while the client sleeps and reports nothing
        while not self._stop.wait(0.25):
            if self._current is not None:
                self._progress.update(self._tasks[self._current], wait=self._wait_text())

    def update(self, progress: Progress) -> None:
        task = self._tasks.get(progress.sync)
        requests = progress.requests if progress.requests is not None else "?"
        if task is None:
            task = self._tasks[progress.sync] = self._progress.add_task(
                progress.sync, total=progress.total, requests=requests, wait=self._wait_text())
        self._progress.update(task, completed=progress.done, total=progress.total, requests=requests,
                              wait=self._wait_text())
        self._current = progress.sync

    def waiting(self, wait: Wait) -> None:
        until = time.monotonic() + wait.seconds
        if until >= self._wait_until:
            self._wait_until, self._wait_reason = until, wait_reason(wait)


def own_stdout() -> TextIO:
    """A second handle on this process's stdout, made before the run starts.

    During each step Dagster points file descriptor 1 at the step's captured-output file (and
    mirrors it with ``tail``); there a live bar sees no terminal and stops drawing, and plain
    progress lines would land in the run's captured stdout. A duplicate of the descriptor keeps
    reaching the operator's terminal or log.
    """
    try:
        return os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding=sys.stdout.encoding or "utf-8",
                         errors="replace")
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):  # no real descriptor (tests' capture)
        return sys.stdout


class _Closing:
    """Enter ``reporter`` (if it is a context manager) and close the duplicated stream afterwards."""

    def __init__(self, reporter: Reporter, stream: TextIO):
        self.reporter, self.stream = reporter, stream

    def update(self, progress: Progress) -> None:
        self.reporter.update(progress)

    def waiting(self, wait: Wait) -> None:
        self.reporter.waiting(wait)

    def __enter__(self) -> "_Closing":
        if isinstance(self.reporter, LiveBar):
            self.reporter.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if isinstance(self.reporter, LiveBar):
                self.reporter.__exit__(*exc)
        finally:
            if self.stream is not sys.stdout:
                try:
                    self.stream.close()
                except OSError:  # BrokenPipeError on the final flush: the reader left
                    pass


def terminal_reporter(stream: Optional[TextIO] = None, *, plain: bool = False) -> Reporter:
    """A live bar when stdout is a terminal (and ``plain`` is not asked for), else plain lines.

    Use it with ``progress.reporting(...)``, which enters and leaves it around the run.
    """
    stream = stream or own_stdout()
    is_tty = bool(getattr(stream, "isatty", lambda: False)())
    return _Closing(LiveBar(stream) if is_tty and not plain else PlainLines(stream), stream)
