"""Request encodings: JSON bodies for single calls, PHP ``http_build_query`` for batch commands."""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional, Union
from urllib.parse import quote

#: text the portal reads as a batch placeholder wherever it appears in a parsed parameter value
#: (percent-encoding does not protect it): data holding it must travel outside any batch
PLACEHOLDER_TEXT = re.compile(r"\$(result|next|total|time|error)\[")


@dataclass(frozen=True)
class ResultRef:
    """A reference to an earlier batch command's result, e.g. ``ResultRef("s1", ("service", "id"))``.

    References are objects, never patterns found in strings, so no Glyms text can ever be
    mistaken for one. In a batch they render as ``$result[s1][service][id]``.
    """

    key: str
    path: tuple[Union[str, int], ...] = ()

    def render(self) -> str:
        return f"$result[{self.key}]" + "".join(f"[{step}]" for step in self.path)

    def resolve(self, results: Mapping[str, Any]) -> Any:
        """The value this reference names in ``results`` (command key -> result); ``LookupError`` if absent."""
        if self.key not in results:
            raise LookupError(f"no result for batch command {self.key!r}")
        value: Any = results[self.key]
        for step in self.path:
            if isinstance(value, Mapping) and str(step) in value:
                value = value[str(step)]
            elif isinstance(value, Mapping) and step in value:
                value = value[step]
            elif isinstance(value, list) and str(step).isdigit() and int(step) < len(value):
                value = value[int(step)]
            else:
                raise LookupError(f"{self.render()} does not resolve")
        return value


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
    """(bracketed key, percent-encoded value) pairs; a :class:`ResultRef` renders as its placeholder."""
    if isinstance(value, ResultRef):
        yield prefix, value.render()
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _flatten(f"{prefix}[{key}]" if prefix else str(key), item)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _flatten(f"{prefix}[{index}]" if prefix else str(index), item)
    else:
        yield prefix, quote(scalar_text(value), safe="")


def build_query(params: Optional[Mapping[str, Any]]) -> str:
    """PHP ``http_build_query`` style: ``fields[NAME]=x&select[0]=id`` (percent-encoded).

    Nested mappings and sequences become bracketed keys; ``None`` becomes an empty value;
    empty mappings/lists produce nothing (as in PHP).
    """
    if not params:
        return ""
    return "&".join(f"{quote(key, safe='[]')}={text}" for key, text in _flatten("", params))


def command_string(method: str, params: Optional[Mapping[str, Any]]) -> str:
    """One batch command: ``method?query`` (or just ``method``)."""
    query = build_query(params)
    return f"{method}?{query}" if query else method


def references(params: Any) -> set[str]:
    """Command keys that :class:`ResultRef` values anywhere in ``params`` refer to."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, ResultRef):
            found.add(node.key)
        elif isinstance(node, Mapping):
            for item in node.values():
                walk(item)
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item)

    walk(params)
    return found


def carries_placeholder_text(params: Any) -> bool:
    """Whether any key or text in ``params`` would be read by the portal as a batch placeholder."""
    if isinstance(params, ResultRef):
        return False
    if isinstance(params, Mapping):
        return any(carries_placeholder_text(k) or carries_placeholder_text(v) for k, v in params.items())
    if isinstance(params, (list, tuple)):
        return any(carries_placeholder_text(item) for item in params)
    return isinstance(params, str) and "$" in params and PLACEHOLDER_TEXT.search(params) is not None


def resolve_references(params: Any, results: Mapping[str, Any], *, keep_pending: bool = False) -> Any:
    """``params`` with every :class:`ResultRef` replaced by the value it names in ``results``.

    Raises ``LookupError`` when a referenced command has no result (it failed or never ran);
    with ``keep_pending`` a reference to a key absent from ``results`` stays a reference (it
    will travel in the same batch as its target).
    """
    if isinstance(params, ResultRef):
        if keep_pending and params.key not in results:
            return params
        return params.resolve(results)
    if isinstance(params, Mapping):
        return {key: resolve_references(item, results, keep_pending=keep_pending) for key, item in params.items()}
    if isinstance(params, (list, tuple)):
        return [resolve_references(item, results, keep_pending=keep_pending) for item in params]
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
