"""Apply and verify the Glyms-side objects the sync needs (``glyms-b24 install-sql``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from glyms_b24_pipeline.glyms.connection import connect, fetch_all
from glyms_b24_pipeline.glyms.contract import RELATIONS, Violation, check_contract, read_violations
from glyms_b24_pipeline.glyms.sql_files import install_scripts, read_sql


@dataclass(frozen=True)
class InstalledObject:
    kind: str
    name: str
    present: bool


@dataclass(frozen=True)
class InstallCheck:
    """What ``install-sql --check`` found: install-sql's own objects, and what Glyms itself must hold."""

    objects: list[InstalledObject]
    #: violations of the Glyms schema contract that install-sql cannot fix (the lab's Glyms must)
    glyms_violations: list[Violation] = field(default_factory=list)

    @property
    def missing(self) -> list[InstalledObject]:
        return [obj for obj in self.objects if not obj.present]


def install_sql(dsn: str) -> list[str]:
    """Run every install script in one transaction; returns the script names applied.

    Each script is idempotent, so running this on a database that already has the objects
    (or part of them) is safe. The Glyms objects of the contract are checked first: nothing is
    installed into a database that is not a Glyms the sync can read.
    """
    applied = []
    with connect(dsn) as conn:
        check_contract(conn, dsn, include_install=False)
        with conn.cursor() as cur:
            for script in install_scripts():
                cur.execute(script.read_text(encoding="utf-8"))
                applied.append(script.name)
    return applied


def check_install(dsn: str) -> InstallCheck:
    """Every object install-sql manages and whether it is present, and the Glyms contract; changes nothing."""
    with connect(dsn) as conn:
        conn.set_session(readonly=True)
        rows = fetch_all(conn, read_sql("install_check.sql"))
        violations = read_violations(conn, include_install=False)
    return InstallCheck([InstalledObject(row["kind"], row["name"], bool(row["present"])) for row in rows], violations)


def glyms_object_lines(check: InstallCheck) -> list[str]:
    """One line per Glyms-owned contract object: ok, or what is wrong with it."""
    lines = []
    for relation in RELATIONS:
        if relation.created_by_install:
            continue
        problems = [v.text.removeprefix(relation.name).lstrip(".: ") for v in check.glyms_violations
                    if v.object_name == relation.name]
        status = "ERROR  " if problems else "ok     "
        lines.append(f"{status}  {relation.kind:<8}  {relation.name}" + (f": {'; '.join(problems)}" if problems else ""))
    return lines

