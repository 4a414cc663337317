"""Listings for people (aligned table) and for scripts (JSON, CSV) on stdout.

A reader that closes the pipe early (``glyms-b24 directory-items INDUSTRY | head -1``) is
not an error: the rest of the output is dropped and the command keeps its exit code.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import unicodedata
from typing import Any, Iterable, Optional, Sequence, TextIO

FORMATS = ("table", "json", "csv")


def _width(text: str) -> int:
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """Aligned text table: a header line, a rule, one line per row (``None`` -> empty)."""
    cells = [[("" if value is None else " ".join(str(value).split())) for value in row] for row in rows]
    widths = [_width(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], _width(value))

    def line(values: Sequence[str]) -> str:
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths, strict=False)).rstrip()

    return [line(list(headers)), "  ".join("-" * w for w in widths), *(line(row) for row in cells)]


def _json_value(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str, list, dict)) else str(value)


def render(headers: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str) -> list[str]:
    """``rows`` as lines of ``fmt``: ``table``, ``json`` (one array of objects keyed by header) or ``csv``."""
    rows = list(rows)
    if fmt == "table":
        return format_table(headers, rows)
    if fmt == "json":
        objects = [{h: _json_value(v) for h, v in zip(headers, row, strict=False)} for row in rows]
        return json.dumps(objects, ensure_ascii=False, indent=2).splitlines()
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        return buffer.getvalue().splitlines()
    raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}")


def silence_stdout() -> None:
    """After the reader went away: send what is left (and the exit-time flush) nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def emit(lines: Iterable[str], stream: Optional[TextIO] = None) -> bool:
    """Write ``lines``; False when the reader closed the pipe (the rest is dropped quietly)."""
    stream = stream or sys.stdout
    try:
        for text in lines:
            stream.write(text + "\n")
        stream.flush()
    except BrokenPipeError:
        silence_stdout()
        return False
    return True


def note(text: str, fmt: str = "table") -> None:
    """A remark for the person reading a table (stdout); scripts asking for JSON/CSV get it on stderr."""
    if fmt == "table":
        emit([text])
    else:
        print(text, file=sys.stderr)


def format_option(parser: argparse.ArgumentParser) -> None:
    from glyms_b24_pipeline.cli.i18n import _

    parser.add_argument("--format", choices=FORMATS, default="table", help=_("table (default), json or csv, for scripts"))
