"""Are the configured ids real, and is every Glyms value in use mapped? One report for any set of syncs.

Two directions:

* portal: every id or code of the settings exists in the portal, else the closest ones it has;
* Glyms: every value in use (``id_tipo_ot``, ``id_cliente_tipo``) has an entry in its map.

Each domain brings its own :class:`MappingCheck` (what it asks the portal and Glyms, how it
compares); :func:`check_mappings` runs any of them with one batch request and one database
connection. A push runs its domain's check before writing; ``glyms-b24 check-mappings`` runs all.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

import psycopg2.extensions

from glyms_b24_pipeline.bitrix24.client import BatchCommand, CommandOutcome
from glyms_b24_pipeline.glyms.connection import connect, fetch_all
from glyms_b24_pipeline.glyms.contract import check_contract
from glyms_b24_pipeline.glyms.sql_files import read_sql
from glyms_b24_pipeline.settings.errors import OperatorError
from glyms_b24_pipeline.settings.model import Settings


@dataclass(frozen=True)
class MappingProblem:
    """One configured value the portal lacks, or one Glyms value the maps lack."""

    kind: str  # e.g. "section", "services_unmapped": a kind of problem, grouped in the report
    setting: str  # the settings key, e.g. services.sections_by_tipo_ot[1]
    value: Any
    problem: str  # one line, Spanish
    closest: tuple[str, ...] = ()
    label: str = ""  # what the CLI shows in its TIPO column, Spanish

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "setting": self.setting, "value": self.value, "problem": self.problem,
                "closest": list(self.closest)}


class BrokenMapping(OperatorError):
    """A sync refused to write: its mappings do not match the portal or Glyms (exit code 2)."""


def closest(value: Any, existing: Mapping[str, str], n: int = 3) -> tuple[str, ...]:
    matches = difflib.get_close_matches(str(value), list(existing), n=n, cutoff=0.0)
    return tuple(f"{key} ({existing[key]})" if existing[key] else key for key in matches)


@dataclass
class MappingReport:
    """``problems`` per kind, in the order they were found; ``checked`` = how many values were compared."""

    problems: dict[str, list[MappingProblem]] = field(default_factory=dict)
    checked: int = 0

    def add(self, problem: MappingProblem) -> None:
        self.problems.setdefault(problem.kind, []).append(problem)

    def expect(self, kind: str, label: str, setting: str, value: Any, existing: Mapping[str, str], what: str,
               where: str = "in the portal") -> None:
        """A configured ``value`` must be one of ``existing`` (id -> name)."""
        self.checked += 1
        if str(value) not in existing:
            none = "; there are none" if not existing else ""
            self.add(MappingProblem(kind, setting, value, f"{what} {value} does not exist {where}{none}",
                                    closest(value, existing), label))

    def mapped(self, kind: str, label: str, setting: str, in_use: Mapping[int, int], mapping: Mapping[int, Any],
               column: str, rows_name: str, excluded: Iterable[int] = ()) -> None:
        """Every Glyms value in use (value -> rows) must have an entry in ``mapping``, or be ``excluded`` on purpose."""
        excluded = frozenset(excluded)
        for value, rows in sorted(in_use.items()):
            self.checked += 1
            if value not in mapping and value not in excluded:
                self.add(MappingProblem(kind, setting, value,
                                        f"{column} {value} is in use in Glyms ({rows} {rows_name}) and has no mapping",
                                        label=label))

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    def all(self) -> list[MappingProblem]:
        return [p for problems in self.problems.values() for p in problems]

    def raise_if_portal_broken(self) -> "MappingReport":
        """For a sync about to write: stop (``BrokenMapping``) when a configured id or code does not exist in
        the portal. Glyms values without a mapping only warn (the field is left out, as the legacy did)."""
        portal = {kind: problems for kind, problems in self.problems.items() if not kind.endswith("_unmapped")}
        if any(portal.values()):
            MappingReport(portal, self.checked).raise_if_broken()
        return self

    def raise_if_broken(self) -> "MappingReport":
        """For a sync about to write: stop with one line (``BrokenMapping``) unless every mapping is right."""
        if not self.ok:
            raise BrokenMapping(f"nothing written: {self.summary()}")
        return self

    def summary(self) -> str:
        """One line: what is wrong, for a sync's failure message or the CLI's last line."""
        if self.ok:
            return f"mappings right ({self.checked} values checked)"
        problems = self.all()
        first = problems[0]
        return f"mapping problems: {len(problems)}; the first: {first.setting}: {first.problem} (glyms-b24 check-mappings)"


class MappingCheck(ABC):
    """What one sync's mappings are checked against: a few portal listings and a few Glyms counts."""

    #: the sync it belongs to
    name: str

    @abstractmethod
    def portal_commands(self, settings: Settings) -> list[BatchCommand]:
        """The listings to ask the portal for (keys unique across every check)."""

    def read_portal(self, client: Any, results: Mapping[str, CommandOutcome], settings: Settings) -> Any:
        """This check's view of the portal from the batch's results (``client`` pages on where needed)."""
        return results

    @abstractmethod
    def glyms_usage(self, conn: psycopg2.extensions.connection) -> Any:
        """The Glyms values in use that need a mapping."""

    @abstractmethod
    def compare(self, settings: Settings, portal: Any, glyms: Any, report: MappingReport) -> None:
        """Add this sync's problems to ``report``."""


def value_counts(conn: psycopg2.extensions.connection, query: str,
                 params: Optional[Mapping[str, Any]] = None) -> dict[int, int]:
    """``sql/queries/<query>.sql`` as value -> rows."""
    return {int(r["value"]): int(r["rows"]) for r in fetch_all(conn, read_sql(f"queries/{query}.sql"), params)}


def listed(result: Any, key: str) -> list[dict[str, Any]]:
    """The items of a listing's result: under ``key`` (catalog methods) or the result itself (CRM methods)."""
    items = result.get(key) if isinstance(result, dict) and key else result
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def check_mappings(client: Any, db_dsn: str, settings: Settings, checks: Iterable[MappingCheck]) -> MappingReport:
    """Every configured value against the portal and every Glyms value in use against the maps.

    Reads only: Glyms first (after the schema contract's preflight), then one batch request.
    Raises ``Bitrix24Error`` / ``GlymsDatabaseError`` when a side cannot be read."""
    chosen: Sequence[MappingCheck] = list(checks)
    with connect(db_dsn) as conn:
        check_contract(conn, db_dsn)
        usage = {check.name: check.glyms_usage(conn) for check in chosen}
    commands = [command for check in chosen for command in check.portal_commands(settings)]
    results = client.batch(commands) if commands else {}
    for outcome in results.values():
        if not outcome.ok:
            raise outcome.error
    report = MappingReport()
    for check in chosen:
        check.compare(settings, check.read_portal(client, results, settings), usage[check.name], report)
    return report
