"""The legacy script's spellings (``sync_glyms_b24.py --sync_type all``) as aliases of the new commands.

A cron line or a habit keeps working; each use prints the new spelling once, on stderr.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Optional, Sequence

from glyms_b24_pipeline.cli.i18n import _
from glyms_b24_pipeline.settings.errors import ConfigError


@dataclass(frozen=True)
class LegacyFlag:
    """A legacy option and the command it stands for; its value (if any) follows the command."""

    command: tuple[str, ...]
    takes_value: bool
    #: shown instead of the value in the notice (an authorisation code is a credential)
    placeholder: Optional[str] = None


LEGACY_FLAGS: dict[str, LegacyFlag] = {
    "--auth_code": LegacyFlag(("auth", "--code"), True, placeholder="CODIGO"),
    "--sync_type": LegacyFlag(("sync", "--type"), True),
    "--price_types": LegacyFlag(("price-types",), False),
    "--directory_items": LegacyFlag(("directory-items",), True),
}

#: options of the main parser that may stand anywhere on a legacy line
_GLOBAL_FLAGS = ("--debug",)
_GLOBAL_OPTIONS = ("--config",)


@dataclass(frozen=True)
class Translation:
    argv: list[str]
    notice: Optional[str] = None


def _split(token: str) -> tuple[str, Optional[str]]:
    name, sep, value = token.partition("=")
    return (name, value) if sep else (token, None)


def translate(argv: Sequence[str]) -> Translation:
    """``argv`` in the new spelling, with the notice to print when a legacy flag was used."""
    found: list[tuple[int, str, LegacyFlag, Optional[str], int]] = []  # index, name, flag, value, tokens used
    i = 0
    tokens = list(argv)
    while i < len(tokens):
        name, inline = _split(tokens[i])
        flag = LEGACY_FLAGS.get(name)
        if flag is None:
            i += 2 if name in _GLOBAL_OPTIONS and inline is None else 1
            continue
        if not flag.takes_value:
            if inline is not None:
                raise ConfigError(f"{name} no lleva valor")
            found.append((i, name, flag, None, 1))
            i += 1
            continue
        if inline is not None:
            found.append((i, name, flag, inline, 1))
            i += 1
        elif i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
            found.append((i, name, flag, tokens[i + 1], 2))
            i += 2
        else:
            raise ConfigError(f"{name} necesita un valor (por ejemplo {name} {_example(name)})")
    if not found:
        return Translation(list(argv))
    if len(found) > 1:
        raise ConfigError(f"use una sola de {', '.join(f[1] for f in found)} por ejecución")
    index, name, flag, value, used = found[0]
    rest = tokens[:index] + tokens[index + used :]
    leading: list[str] = []
    trailing: list[str] = []
    j = 0
    while j < len(rest):
        option, inline = _split(rest[j])
        if option in _GLOBAL_FLAGS:
            leading.append(rest[j])
        elif option in _GLOBAL_OPTIONS:
            leading.extend(rest[j : j + (1 if inline is not None else 2)])
            j += 0 if inline is not None else 1
        else:
            trailing.append(rest[j])
        j += 1
    command = list(flag.command) + ([value] if value is not None else [])
    new_argv = leading + command + trailing
    shown = leading + list(flag.command) + ([flag.placeholder or value] if value is not None else []) + trailing
    notice = _("warning: {flag} is deprecated; use: glyms-b24 {command}").format(flag=name, command=shlex.join(shown))
    return Translation(new_argv, notice)


def _example(name: str) -> str:
    return {"--auth_code": "CODIGO", "--sync_type": "all", "--directory_items": "INDUSTRY"}.get(name, "VALOR")
