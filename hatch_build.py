"""Build hook: compile the command line's gettext catalogs (``.po`` -> ``.mo``) with Babel.

Runs on every build of the wheel, the editable one (``pip install -e .``) included, so an install
always carries ``.mo`` files made from the ``.po`` sources it was built from; the ``.mo`` files are
never committed (``.gitignore``). The tests' ``conftest.py`` calls :func:`compile_catalogs` too,
so a ``.po`` edited in a checkout is in force without reinstalling.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

LOCALE = Path("glyms_b24_pipeline") / "cli" / "locale"


def compile_catalogs(root: Path) -> list[Path]:
    """Every ``LOCALE/<lang>/LC_MESSAGES/*.po`` under ``root`` compiled beside itself; returns the ``.mo`` paths.

    Written to a temporary file and renamed: test workers compiling at once never read half a file."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted((root / LOCALE).glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        errors = [(message.id, problem) for message, problems in catalog.check() for problem in problems]
        if errors:
            raise ValueError(f"{po}: {errors[:3]}")
        mo = po.with_suffix(".mo")
        handle, temporary = tempfile.mkstemp(dir=po.parent, suffix=".mo.tmp")
        with os.fdopen(handle, "wb") as target:
            write_mo(target, catalog, use_fuzzy=False)
        os.replace(temporary, mo)
        written.append(mo)
    return written


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # imported by the tests' conftest, where hatchling need not be installed
    BuildHookInterface = object  # type: ignore[misc,assignment]


class CatalogBuildHook(BuildHookInterface):  # type: ignore[misc,valid-type]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        for mo in compile_catalogs(root):
            if version == "standard":
                # ignored by git, so named explicitly for the wheel (an editable install reads the checkout's)
                build_data["force_include"][str(mo)] = str(mo.relative_to(root))
