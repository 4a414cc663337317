"""Wire encodings of a Bitrix24 portal: PHP-style query strings and PHP ``json_encode`` output."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote_plus, unquote_plus

_KEY_PART = re.compile(r"\[([^\]]*)\]")


def _split_key(key: str) -> list[str]:
    """``fields[PHONE][0][VALUE]`` -> ``["fields", "PHONE", "0", "VALUE"]`` (``[]`` gives ``""``)."""
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    parts = [head]
    # PHP ignores anything after an unbalanced bracket; keep the same tolerance.
    parts.extend(_KEY_PART.findall("[" + rest))
    return parts


def _listify(node: Any) -> Any:
    """Turn dicts keyed ``"0".."n-1"`` into lists, as a PHP packed array would encode."""
    if isinstance(node, dict):
        converted = {key: _listify(value) for key, value in node.items()}
        if converted and list(converted) == [str(i) for i in range(len(converted))]:
            return list(converted.values())
        return converted
    return node


def parse_php_query(query: str) -> dict[str, Any]:
    """Parse a PHP-style query string (``fields[TITLE]=x&select[]=ID``) into nested values."""
    root: dict[str, Any] = {}
    if not query:
        return root
    for pair in query.split("&"):
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition("=")
        key, value = unquote_plus(raw_key), unquote_plus(raw_value)
        if not key:
            continue
        parts = _split_key(key)
        node = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part == "":
                numeric = [int(k) for k in node if str(k).isdigit()]
                part = str(max(numeric) + 1 if numeric else 0)
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return _listify(root)


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}[{key}]" if prefix else str(key), item, out)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _flatten(f"{prefix}[{index}]" if prefix else str(index), item, out)
    elif value is None:
        return  # http_build_query skips nulls
    elif value is True or value is False:
        out.append((prefix, "1" if value else "0"))
    else:
        out.append((prefix, str(value)))


def build_php_query(params: dict[str, Any]) -> str:
    """Encode nested params like PHP ``http_build_query`` (``fields%5BTITLE%5D=x``)."""
    pairs: list[tuple[str, str]] = []
    _flatten("", params, pairs)
    return "&".join(f"{quote_plus(key)}={quote_plus(value)}" for key, value in pairs)


def php_arrays(value: Any) -> Any:
    """Empty mappings become ``[]``: PHP cannot tell an empty map from an empty list."""
    if isinstance(value, dict):
        if not value:
            return []
        return {str(key): php_arrays(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [php_arrays(item) for item in value]
    return value


# A quote escaped by json.dumps, preceded by an even number of backslashes (so not itself escaped).
_ESCAPED_QUOTE = re.compile(r'(?<!\\)((?:\\\\)*)\\"')


def php_json_encode(value: Any, hex_flags: bool = True) -> str:
    """Serialise like Bitrix: ``json_encode`` with JSON_HEX_TAG|AMP|APOS|QUOT, ``\\/``, ASCII only."""
    text = json.dumps(php_arrays(value), ensure_ascii=True, separators=(",", ":"))
    if not hex_flags:
        return text
    # These characters only occur inside JSON strings, so a textual replace is safe.
    text = text.replace("/", "\\/").replace("&", "\\u0026").replace("<", "\\u003C")
    text = text.replace(">", "\\u003E").replace("'", "\\u0027")
    return _ESCAPED_QUOTE.sub(lambda m: m.group(1) + "\\u0022", text)
