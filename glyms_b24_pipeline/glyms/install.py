"""Apply and verify the Glyms-side objects the sync needs (``glyms-b24 install-sql``)."""

from __future__ import annotations

from dataclasses import dataclass

from glyms_b24_pipeline.glyms.connection import GlymsDatabaseError, connect, fetch_all
from glyms_b24_pipeline.sql_files import install_scripts, read_sql


@dataclass(frozen=True)
class InstalledObject:
    kind: str
    name: str
    present: bool


def install_sql(dsn: str) -> list[str]:
    """Run every install script in one transaction; returns the script names applied.

    Each script is idempotent, so running this on a database that already has the objects
    (or part of them) is safe.
    """
    applied = []
    with connect(dsn) as conn:
        if not fetch_all(conn, read_sql("queries/relation_exists.sql"), {"relation": "public.cliente"})[0]["present"]:
            raise GlymsDatabaseError("public.cliente is missing: is GLYMS_PG_DSN pointing at the Glyms database?")
        with conn.cursor() as cur:
            for script in install_scripts():
                cur.execute(script.read_text(encoding="utf-8"))
                applied.append(script.name)
    return applied


def check_install(dsn: str) -> list[InstalledObject]:
    """Every object install-sql manages and whether it is present; changes nothing."""
    with connect(dsn) as conn:
        conn.set_session(readonly=True)
        rows = fetch_all(conn, read_sql("install_check.sql"))
    return [InstalledObject(row["kind"], row["name"], bool(row["present"])) for row in rows]


def missing_objects(dsn: str) -> list[InstalledObject]:
    return [obj for obj in check_install(dsn) if not obj.present]
