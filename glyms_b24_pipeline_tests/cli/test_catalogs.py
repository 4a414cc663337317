"""The message catalogs: every message the command line can print has its Spanish translation, the compiled
catalog is the .po source's, and the translations keep the placeholders of their msgid."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from glyms_b24_pipeline.cli.i18n import DOMAIN, LOCALE_DIR

CLI = Path(__file__).resolve().parents[2] / "glyms_b24_pipeline" / "cli"
PO = LOCALE_DIR / "es" / "LC_MESSAGES" / f"{DOMAIN}.po"
#: argparse's own messages the catalog translates (it looks them up through our catalog)
ARGPARSE = {"usage: ", "positional arguments", "options", "show this help message and exit"}


def catalog():
    with PO.open("rb") as source:
        return read_po(source, locale="es")


def plural_pairs(message):
    singular, plural = message.id
    return [(singular if n == 0 else plural, form) for n, form in enumerate(message.string)]


def test_every_message_of_the_command_line_is_translated():
    extracted = {message for _, _, message, *_ in extract_from_dir(
        str(CLI), method_map=[("**.py", "python")], keywords={"_": None, "N_": None})}
    assert len(extracted) > 250
    translated = {m.id for m in catalog() if m.id and m.string}
    missing = sorted(extracted - translated)
    assert not missing, f"add these to {PO} (msgid and its Spanish msgstr): {missing}"
    assert ARGPARSE <= translated


def test_translations_keep_the_placeholders_of_their_message():
    problems = []
    for message in catalog():
        # a plural message (argparse's) has the placeholders of its msgid in each of its forms
        for msgid, string in plural_pairs(message) if message.pluralizable else [(message.id, message.string)]:
            if msgid and string:
                wanted = sorted(re.findall(r"\{\w*[^{}]*\}|%\(\w+\)[sr]|%[sr]", msgid))
                got = sorted(re.findall(r"\{\w*[^{}]*\}|%\(\w+\)[sr]|%[sr]", string))
                if wanted != got:
                    problems.append(f"{msgid!r}: {got} != {wanted}")
    assert not problems, "\n".join(problems)


def _hashable(value):
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def test_the_compiled_catalog_is_the_source_s():
    """The .mo the command line reads (built by hatch_build.py at install, by conftest.py for the tests)."""
    with (PO.with_suffix(".mo")).open("rb") as compiled:
        mo = {_hashable(m.id): _hashable(m.string) for m in read_mo(compiled) if m.id}
    assert mo == {_hashable(m.id): _hashable(m.string) for m in catalog() if m.id and all(_hashable(m.string))}
    spanish = gettext.translation(DOMAIN, LOCALE_DIR, languages=["es"])
    assert spanish.gettext("interrupted") == "interrumpido"
