"""`--debug` shows glyms-b24's own loggers and libraries' warnings; without it only libraries' errors; a swapped
stderr is followed."""

import io
import logging
import sys

from glyms_b24_pipeline.cli.logs import configure_logging


def test_debug_shows_our_loggers_and_keeps_libraries_at_warning(monkeypatch):
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    handler = configure_logging(debug=True)
    try:
        logging.getLogger("glyms_b24_pipeline.bitrix24.client").debug("batch -> HTTP 200")
        logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)
        logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
        logging.getLogger("urllib3.connectionpool").warning("Connection pool is full")
        second = io.StringIO()
        monkeypatch.setattr(sys, "stderr", second)  # e.g. the first one was closed since
        logging.getLogger("glyms_b24_pipeline.sync").info("after the swap")
    finally:
        logging.getLogger().removeHandler(handler)
        configure_logging(debug=False)
        logging.getLogger().removeHandler(logging.getLogger().handlers[-1])
    shown = first.getvalue()
    assert "glyms_b24_pipeline.bitrix24.client: batch -> HTTP 200" in shown
    assert "SQLiteImpl" not in shown and "urllib3.connectionpool: Connection pool is full" in shown
    assert "after the swap" in second.getvalue() and "after the swap" not in shown


def test_without_debug_the_terminal_holds_no_log_record_of_ours(monkeypatch):
    # our records are English and for developers: the CLI says what matters in the run's language
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    handler = configure_logging(debug=False)
    try:
        logging.getLogger("glyms_b24_pipeline.bitrix24.client").warning("batch: ConnectError; retry 1/6 in 0.4s")
        logging.getLogger("glyms_b24_pipeline.sync.lock").error("could not give back the claimed rows")
        logging.getLogger("urllib3.connectionpool").warning("Connection pool is full")
        logging.getLogger("alembic.runtime.migration").error("Can't locate revision")
    finally:
        logging.getLogger().removeHandler(handler)
    shown = stream.getvalue()
    assert "retry 1/6" not in shown and "claimed rows" not in shown and "pool is full" not in shown
    assert "alembic.runtime.migration: Can't locate revision" in shown
