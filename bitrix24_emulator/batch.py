"""``batch``: up to 50 ``method?query`` commands with ``$result[...]`` references and ``halt``."""

from __future__ import annotations

import re
from typing import Any, Callable

from .encoding import parse_php_query
from .errors import RestError
from .registry import MethodResult

_REFERENCE = re.compile(r"\$(result|next|total|time|error)((?:\[[^\]\[]*\])+)")
_PATH_PART = re.compile(r"\[([^\]\[]*)\]")

# execute(method, params) -> (MethodResult or RestError, time dict of that command)
Executor = Callable[[str, dict], tuple[Any, dict]]


def split_command(command: str) -> tuple[str, dict]:
    """``crm.company.get?id=5`` -> ``("crm.company.get", {"id": "5"})``."""
    method, _, query = command.partition("?")
    return method.strip(), parse_php_query(query)


def _lookup(source: dict, path: list[str]) -> Any:
    """Follow ``path``; an unresolvable step stops at the last level that resolved."""
    node: Any = source
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, dict) and part.isdigit() and int(part) in node:
            node = node[int(part)]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            break
    return node


def substitute(value: Any, maps: dict[str, dict]) -> Any:
    """Replace ``$result[key][...]`` placeholders in every parameter value.

    A placeholder that is the whole value becomes the raw referenced value (possibly a list or map);
    inside a longer string it is replaced only when the referenced value is a string.
    """
    if isinstance(value, dict):
        return {key: substitute(item, maps) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, maps) for item in value]
    if not isinstance(value, str) or "$" not in value:
        return value
    whole = _REFERENCE.fullmatch(value)
    if whole:
        return _lookup(maps[whole.group(1)], _PATH_PART.findall(whole.group(2)))

    def replace(match: re.Match) -> str:
        found = _lookup(maps[match.group(1)], _PATH_PART.findall(match.group(2)))
        return found if isinstance(found, str) else match.group(0)

    return _REFERENCE.sub(replace, value)


def _commands(params: dict) -> list[tuple[str, Any]]:
    cmd = next((value for key, value in params.items() if str(key).lower() == "cmd"), None)
    if isinstance(cmd, dict):
        return [(str(key), value) for key, value in cmd.items()]
    if isinstance(cmd, list):
        return [(str(index), value) for index, value in enumerate(cmd)]
    return []


def batch_methods(params: dict) -> set[str]:
    """Lower-case method names a batch would call (for fault matching and logging)."""
    return {split_command(value)[0].lower() for _, value in _commands(params) if isinstance(value, str)}


def command_count(params: dict) -> int:
    return sum(1 for _, value in _commands(params) if isinstance(value, str))


def _halt(params: dict) -> bool:
    value = next((value for key, value in params.items() if str(key).lower() == "halt"), False)
    return str(value).strip().lower() in ("1", "true", "y", "yes")


def run_batch(params: dict, execute: Executor, max_commands: int = 50) -> dict[str, Any]:
    """Run the commands in order and build the five result maps of the batch answer."""
    maps: dict[str, dict] = {"result": {}, "error": {}, "total": {}, "next": {}, "time": {}}
    halt = _halt(params)
    executed = 0
    for key, command in _commands(params):
        if not isinstance(command, str):
            continue  # non-string commands are skipped, as the server does
        if executed >= max_commands:
            maps["error"][key] = {"error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max batch length exceeded"}
            continue
        executed += 1
        method, command_params = split_command(command)
        command_params = substitute(command_params, maps)
        outcome, timing = execute(method, command_params)
        if isinstance(outcome, RestError):
            maps["error"][key] = outcome.body()
            if halt:
                break
            continue
        assert isinstance(outcome, MethodResult)
        maps["result"][key] = outcome.result
        maps["time"][key] = timing
        if outcome.total is not None:
            maps["total"][key] = outcome.total
        if outcome.next is not None:
            maps["next"][key] = outcome.next
    return {"result": _packed(maps["result"]), "result_error": _packed(maps["error"]),
            "result_total": _packed(maps["total"]), "result_next": _packed(maps["next"]),
            "result_time": _packed(maps["time"])}


def _packed(mapping: dict) -> Any:
    """Keys 0..n-1 in order serialise as a JSON array (PHP packed array); an empty map as ``[]``."""
    if not mapping:
        return []
    if list(mapping) == [str(i) for i in range(len(mapping))]:
        return list(mapping.values())
    return mapping
