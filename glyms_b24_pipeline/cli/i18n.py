"""One language per run of the command line: Spanish (the default) or English, through gettext.

Messages are written in English (the msgids) and translated by the catalog
``locale/es/LC_MESSAGES/glyms_b24.po``; English is the identity. The ``.mo`` files are compiled
from the ``.po`` sources by the build hook (``hatch_build.py``) on every install, and again by the
tests' ``conftest.py``: they are never committed. The language comes from ``--lang``, then
``$GLYMS_B24_LANG``, then the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``, ``LANGUAGE``); a
locale of neither language gives Spanish, the product's language.

Logs for developers and Dagster's UI (asset, check and metadata names) stay English.
"""

from __future__ import annotations

import argparse
import gettext
import os
from pathlib import Path
from typing import Mapping, Optional, Sequence

DOMAIN = "glyms_b24"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"
LANGUAGE_VARIABLE = "GLYMS_B24_LANG"

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


def _from_locale(value: Optional[str]) -> Optional[str]:
    """``es_AR.UTF-8`` -> ``es``; ``C``, ``POSIX``, other languages -> None."""
    for part in (value or "").split(":"):
        code = part.split(".")[0].split("@")[0].split("_")[0].lower()
        if code in LANGUAGES:
            return code
    return None


def choose_language(option: Optional[str] = None, environ: Optional[Mapping[str, str]] = None) -> str:
    """``--lang``, then ``$GLYMS_B24_LANG``, then the locale, then Spanish."""
    environ = os.environ if environ is None else environ
    for value in (option, environ.get(LANGUAGE_VARIABLE)):
        language = _from_locale(value)
        if language:
            return language
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        if environ.get(variable):
            return _from_locale(environ[variable]) or DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def lang_from_argv(argv: Sequence[str]) -> Optional[str]:
    """The value of ``--lang X`` / ``--lang=X`` anywhere in ``argv`` (before the parser runs: its own
    messages, ``--help`` included, are in that language too)."""
    for position, arg in enumerate(argv):
        if arg == "--lang" and position + 1 < len(argv):
            return argv[position + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


def activate(language: str) -> None:
    """Translate every following message into ``language`` (``es`` or ``en``)."""
    global _translation, _language
    _language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    if _language == "en":
        _translation = gettext.NullTranslations()
    else:
        # a missing catalog is a broken install, not a reason to print another language quietly
        _translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=[_language])
    # argparse's own words (usage, errors, --help) through the same catalog: it looks them up at call time
    argparse._ = _  # type: ignore[attr-defined]
    argparse.ngettext = ngettext  # type: ignore[attr-defined]


def language() -> str:
    return _language


def _(message: str) -> str:
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return _translation.ngettext(singular, plural, count)
