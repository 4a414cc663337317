"""Locate and read the project's SQL files (``sql/`` in a checkout, bundled in a wheel)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

#: the product package (this module lives in its glyms/ package)
_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def sql_root() -> Path:
    """The ``sql`` directory: inside the installed package, else beside it in the checkout."""
    for candidate in (_PACKAGE_DIR / "sql", _PACKAGE_DIR.parent / "sql"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"sql/ directory not found near {_PACKAGE_DIR}")


@lru_cache(maxsize=None)
def read_sql(relative_path: str) -> str:
    """Text of ``sql/<relative_path>``, e.g. ``read_sql("queries/active_services.sql")``."""
    return (sql_root() / relative_path).read_text(encoding="utf-8")


def install_scripts() -> list[Path]:
    """The install scripts in the order they must run."""
    return sorted((sql_root() / "install").glob("*.sql"))
