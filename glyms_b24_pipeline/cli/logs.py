"""Terminal logging of the CLI: log records are for developers, and English, so they show under ``--debug``.

Without it the terminal holds only what the CLI says in the run's language (progress, summaries,
errors); a run's records stay in its event log (``glyms-b24 history --run ID``, the UI). Under
``--debug`` glyms-b24's own loggers show at DEBUG and third-party ones (alembic, urllib3, Dagster)
at WARNING, whatever level they set themselves: the handler decides, not the loggers. A library's
error shows either way: nothing else would say it.
"""

from __future__ import annotations

import logging
import pkgutil
import sys
from typing import Optional, TextIO

OWN_LOGGER = "glyms_b24_pipeline"
THIRD_PARTY_LEVEL = logging.WARNING
#: without --debug: only a library's errors (ours are said by the CLI itself, in the run's language)
QUIET_LEVEL = logging.ERROR


def _own(record: logging.LogRecord) -> bool:
    return record.name == OWN_LOGGER or record.name.startswith(OWN_LOGGER + ".")


class _OwnRecordsOrWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= THIRD_PARTY_LEVEL or _own(record)


class _LibraryErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= QUIET_LEVEL and not _own(record)


def _own_subloggers() -> list[str]:
    import glyms_b24_pipeline

    return [f"{OWN_LOGGER}.{module.name}" for module in pkgutil.iter_modules(glyms_b24_pipeline.__path__)]


class _TerminalHandler(logging.StreamHandler):
    """The CLI's handler; a second ``main()`` in one process replaces it instead of adding another.

    Without a stream of its own it writes to whatever ``sys.stderr`` is at the time of each
    record, so it never keeps writing to a stream that was swapped and closed since (a test's
    captured stderr, a redirected one).
    """

    def __init__(self, stream: Optional[TextIO] = None):
        super().__init__()
        self._own_stream = stream

    @property
    def stream(self) -> TextIO:
        return self._own_stream or sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        self._own_stream = value


def configure_logging(*, debug: bool, stream=None) -> logging.Handler:
    """One stderr handler on the root logger (replacing an earlier one of ours); returns it."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _TerminalHandler)]:
        root.removeHandler(old)
    handler = _TerminalHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG if debug else QUIET_LEVEL)
    handler.addFilter(_OwnRecordsOrWarnings() if debug else _LibraryErrors())
    root.setLevel(THIRD_PARTY_LEVEL)
    root.addHandler(handler)
    # A Dagster run sets the level of the package's logger to the instance's python_log_level
    # (INFO, for the event log); levels set one step below it keep DEBUG for the whole run.
    level = logging.DEBUG if debug else logging.NOTSET
    logging.getLogger(OWN_LOGGER).setLevel(level)
    for name in _own_subloggers():
        logging.getLogger(name).setLevel(level)
    return handler
