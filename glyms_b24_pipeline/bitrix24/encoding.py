"""Request encodings: JSON bodies for single calls, PHP ``http_build_query`` for batch commands."""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import re
from typing import Any, Iterator, Mapping, Optional
from urllib.parse import quote

#: a batch placeholder such as ``$result[create_1][ID]`` or ``$result[p0][services][49][id]``
REFERENCE = re.compile(r"\$(result|next|total|time|error)\[([^\]\[]+)\]")


def scalar_text(value: Any) -> str:
    """Text of a scalar as Bitrix expects it in a query string.

    ``None`` -> ``""`` (an explicitly empty value; never the string ``"None"``),
    booleans -> ``"1"``/``"0"`` (PHP's own rendering), floats without exponent noise.
    """
    if value is None:
        return ""
    if value is True or value is False:
        return "1" if value else "0"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"cannot send the float {value!r} to Bitrix24")
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _flatten(f"{prefix}[{key}]" if prefix else str(key), item)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _flatten(f"{prefix}[{index}]" if prefix else str(index), item)
    else:
        yield prefix, scalar_text(value)


def _quote_value(text: str) -> str:
    # keep ``$result[...]`` placeholders readable: the portal substitutes them after parsing
    if REFERENCE.search(text):
        return quote(text, safe="$[]")
    return quote(text, safe="")


def build_query(params: Optional[Mapping[str, Any]]) -> str:
    """PHP ``http_build_query`` style: ``fields[NAME]=x&select[0]=id`` (percent-encoded).

    Nested mappings and sequences become bracketed keys; ``None`` becomes an empty value;
    empty mappings/lists produce nothing (as in PHP).
    """
    if not params:
        return ""
    return "&".join(f"{quote(key, safe='[]')}={_quote_value(text)}" for key, text in _flatten("", params))


def command_string(method: str, params: Optional[Mapping[str, Any]]) -> str:
    """One batch command: ``method?query`` (or just ``method``)."""
    query = build_query(params)
    return f"{method}?{query}" if query else method


def references(params: Any) -> set[str]:
    """Command keys referenced by ``$result[key]...`` placeholders anywhere in ``params``."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, item in node.items():
                walk(key)
                walk(item)
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item)
        elif isinstance(node, str) and "$" in node:
            found.update(match.group(2) for match in REFERENCE.finditer(node))

    walk(params)
    return found


_WHOLE_RESULT_REFERENCE = re.compile(r"^\$result((?:\[[^\]\[]+\])+)$")


def resolve_references(params: Any, results: Mapping[str, Any]) -> Any:
    """``params`` with each whole-value ``$result[key][...]`` of a key in ``results`` replaced by
    the value it names, so a command can be sent again without the command it referred to."""
    if isinstance(params, Mapping):
        return {key: resolve_references(item, results) for key, item in params.items()}
    if isinstance(params, (list, tuple)):
        return [resolve_references(item, results) for item in params]
    if isinstance(params, str):
        match = _WHOLE_RESULT_REFERENCE.match(params)
        if match:
            path = re.findall(r"\[([^\]\[]+)\]", match.group(1))
            if path[0] in results:
                value: Any = results[path[0]]
                for step in path[1:]:
                    if isinstance(value, Mapping) and step in value:
                        value = value[step]
                    elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
                        value = value[int(step)]
                    else:
                        return params
                return value
    return params


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    raise TypeError(f"cannot send a {type(value).__name__} to Bitrix24")


def json_body(payload: Mapping[str, Any]) -> bytes:
    """UTF-8 JSON body: ``None`` is ``null``, Decimal a number, dates ISO-8601."""
    return json.dumps(payload, default=_json_default, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
