"""`--debug` shows glyms-b24's own loggers; libraries print only warnings; a swapped stderr is followed."""

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
