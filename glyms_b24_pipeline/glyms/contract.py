"""The Glyms schema contract: every Glyms object the product reads, each column of it, the types it can use.

Glyms is known only from the legacy script's queries: these objects and columns are what it read at
real labs, so they are all that may be assumed to exist. Every query under ``sql/queries/`` that
touches Glyms names only these columns (a test greps them), and every sync, ``check-mappings`` and
``install-sql`` compare this contract with the database's catalog before their first read
(:func:`require_contract`). The change log and its trigger function are the seed's objects, which
``install-sql`` creates where the legacy did not; the columns it adds to the log are marked so.

What is accepted beyond the letter: extra columns, a table (or materialised view) where a view is
expected, any width of integer, ``varchar``/``char``/``text`` alike, a domain over an accepted type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

import psycopg2.extensions

from glyms_b24_pipeline.glyms.connection import GlymsDatabaseError, connect, describe_dsn, fetch_all
from glyms_b24_pipeline.glyms.sql_files import read_sql

INSTALL_REMEDY = "run glyms-b24 install-sql"


@dataclass(frozen=True)
class TypeFamily:
    """The PostgreSQL types a column may have for the code that reads it."""

    name: str
    #: base type names as ``pg_type.typname`` spells them
    accepted: frozenset[str]
    #: the accepted types as an operator reads them
    described: str
    #: the type a minimal schema built from the contract gives the column
    minimal: str


INTEGER = TypeFamily("integer", frozenset({"int2", "int4", "int8"}), "smallint, integer or bigint", "integer")
TEXT = TypeFamily("text", frozenset({"text", "varchar", "bpchar"}), "text, varchar or char", "text")
#: a code is compared as text (``::text`` in the queries), so a numeric code column works as well
CODE = TypeFamily("code", TEXT.accepted | INTEGER.accepted, "text, varchar, char or an integer type", "text")
NUMBER = TypeFamily("number", frozenset({"numeric", "int2", "int4", "int8", "float4", "float8"}),
                    "numeric, an integer type, real or double precision", "numeric")
DATE_OR_TIME = TypeFamily("date or time", frozenset({"date", "timestamp", "timestamptz"}),
                          "date, timestamp or timestamptz", "date")
TIMESTAMP = TypeFamily("timestamp", frozenset({"timestamp", "timestamptz"}), "timestamp or timestamptz", "timestamptz")


@dataclass(frozen=True)
class ContractColumn:
    name: str
    family: TypeFamily
    #: added by ``install-sql`` beside the seed's columns (a lab that ran the legacy lacks it until then)
    added_by_install: bool = False


@dataclass(frozen=True)
class ContractRelation:
    """A table or view the product reads (and, for the change log, updates)."""

    name: str
    kind: str  # "view" or "table": what the legacy knew it as (either is accepted)
    columns: tuple[ContractColumn, ...]
    purpose: str
    #: ``install-sql`` creates it where it is missing (the change log)
    created_by_install: bool = False
    #: privileges the product's role needs on it (SELECT of every contracted column, at least)
    privileges: tuple[str, ...] = ("SELECT",)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> ContractColumn:
        return next(column for column in self.columns if column.name == name)


@dataclass(frozen=True)
class ContractFunction:
    name: str
    purpose: str
    created_by_install: bool = True


def _columns(family: TypeFamily, *names: str, added_by_install: bool = False) -> tuple[ContractColumn, ...]:
    return tuple(ContractColumn(name, family, added_by_install) for name in names)


SERVICES_VIEW = ContractRelation(
    "lims.v_prestacion_max_version", "view",
    (ContractColumn("id_prestacion", INTEGER), ContractColumn("codigo", CODE),
     *_columns(TEXT, "descripcion", "comentario"), *_columns(INTEGER, "activa", "id_tipo_ot")),
    "services (prestaciones) at their newest version; rows with activa = 1 are synced")
PRICES = ContractRelation(
    "public.contrato_presta", "table",
    (ContractColumn("id_contrato", INTEGER), ContractColumn("codigo_presta", CODE),
     ContractColumn("valor_unico", NUMBER), ContractColumn("fecha_version", DATE_OR_TIME)),
    "price versions: valor_unico of the newest fecha_version per (contract, code)")
CUSTOMERS = ContractRelation(
    "public.cliente", "table",
    (ContractColumn("id_cliente", INTEGER), ContractColumn("codigo", CODE),
     *_columns(TEXT, "razon_social", "nombre_fantasia", "direccion", "telefono", "mail", "observaciones"),
     *_columns(INTEGER, "id_tipo_ot", "id_cliente_tipo")),
    "customers; the change log's triggers sit on it")
CHANGE_LOG = ContractRelation(
    "f_cliente.sync_log_bitrix24", "table",
    (*_columns(INTEGER, "log_id", "id_cliente"), ContractColumn("operation_type", TEXT),
     ContractColumn("change_timestamp", TIMESTAMP), ContractColumn("sync_status", TEXT),
     ContractColumn("processed_timestamp", TIMESTAMP), ContractColumn("error_message", TEXT),
     *_columns(INTEGER, "attempts", added_by_install=True),
     *_columns(TIMESTAMP, "claimed_at", added_by_install=True),
     *_columns(TEXT, "claimed_by", added_by_install=True),
     *_columns(TIMESTAMP, "next_attempt_at", added_by_install=True),
     *_columns(INTEGER, "bitrix_company_id", added_by_install=True),
     *_columns(TEXT, "dagster_run_id", added_by_install=True)),
    "the change log of public.cliente, filled by its triggers, consumed by the companies sync",
    created_by_install=True, privileges=("SELECT", "UPDATE"))
TRIGGER_FUNCTION = ContractFunction(
    "f_cliente.fn_log_btrix24_cliente_changes",
    "the trigger function of public.cliente that writes the change log")

#: every Glyms object the product reads, in the order a report names them
RELATIONS: tuple[ContractRelation, ...] = (SERVICES_VIEW, PRICES, CUSTOMERS, CHANGE_LOG)
FUNCTIONS: tuple[ContractFunction, ...] = (TRIGGER_FUNCTION,)


def relation(name: str) -> ContractRelation:
    return next(r for r in RELATIONS if r.name == name)


# --- the comparison (pure: the catalog's rows in, the violations out) --------------------------------


@dataclass(frozen=True)
class Violation:
    """One way the database departs from the contract, as one clause an operator can act on."""

    object_name: str
    text: str
    #: fixed by ``install-sql`` (an object or column it creates)
    install_fixes: bool = False


def compare(catalog_rows: Iterable[Any], functions_present: Iterable[str],
            relations: Sequence[ContractRelation] = RELATIONS,
            functions: Sequence[ContractFunction] = FUNCTIONS) -> list[Violation]:
    """Violations of the contract, given the catalog's rows (``glyms_contract_catalog.sql``: one per column
    of each contract relation found) and the names of the contract's functions that exist."""
    found: dict[str, dict[str, Any]] = {}
    can_update: dict[str, bool] = {}
    for row in catalog_rows:
        columns = found.setdefault(row["object_name"], {})
        can_update[row["object_name"]] = bool(row["can_update"])
        if row["column_name"] is not None:
            columns[row["column_name"]] = row
    violations: list[Violation] = []
    for wanted in relations:
        if wanted.name not in found:
            remedy = INSTALL_REMEDY if wanted.created_by_install else "is GLYMS_PG_DSN pointing at the Glyms database?"
            violations.append(Violation(wanted.name, f"{wanted.name} is missing: {remedy}", wanted.created_by_install))
            continue
        violations += _column_violations(wanted, found[wanted.name])
        if "UPDATE" in wanted.privileges and not can_update[wanted.name]:
            violations.append(Violation(wanted.name, f"the database role cannot update {wanted.name} "
                                                     f"(GRANT UPDATE ON {wanted.name} TO <role>)"))
    present = set(functions_present)
    for function in functions:
        if function.name not in present:
            remedy = INSTALL_REMEDY if function.created_by_install else "check the Glyms database"
            violations.append(Violation(function.name, f"{function.name}() is missing: {remedy}",
                                        function.created_by_install))
    return violations


def _column_violations(wanted: ContractRelation, columns: Mapping[str, Any]) -> list[Violation]:
    violations: list[Violation] = []
    unreadable: list[str] = []
    for column in wanted.columns:
        have = columns.get(column.name)
        if have is None:
            remedy = f": {INSTALL_REMEDY}" if column.added_by_install else ""
            violations.append(Violation(wanted.name, f"{wanted.name} has no column {column.name}{remedy}",
                                        column.added_by_install))
        elif have["base_type"] not in column.family.accepted:
            violations.append(Violation(wanted.name, f"{wanted.name}.{column.name} is {have['type_shown']}; "
                                                     f"the sync reads it as {column.family.described}"))
        elif not have["readable"]:
            unreadable.append(column.name)
    if unreadable:
        violations.append(Violation(wanted.name, f"the database role cannot read {wanted.name} "
                                                 f"({', '.join(unreadable)}; GRANT SELECT ON {wanted.name} TO <role>)"))
    return violations


# --- the database side -------------------------------------------------------------------------


class GlymsContractError(GlymsDatabaseError):
    """The Glyms database lacks a contracted object or column, or holds one of a type the sync cannot use."""


def read_violations(conn: psycopg2.extensions.connection, *, include_install: bool = True) -> list[Violation]:
    """The violations of this database (``include_install=False``: only what Glyms itself must hold)."""
    relations = [r for r in RELATIONS if include_install or not r.created_by_install]
    functions = [f for f in FUNCTIONS if include_install or not f.created_by_install]
    rows = fetch_all(conn, read_sql("queries/glyms_contract_catalog.sql"),
                     {"objects": [r.name for r in relations]})
    present = [row["name"] for row in fetch_all(conn, read_sql("queries/glyms_contract_functions.sql"),
                                                {"functions": [f.name for f in functions]})]
    violations = compare(rows, present, relations, functions)
    if not include_install:
        violations = [v for v in violations if not v.install_fixes]
    return violations


def contract_error(violations: Sequence[Violation], dsn: str) -> Optional[GlymsContractError]:
    """One line naming every violation, with where (never the password), or None when there is none."""
    if not violations:
        return None
    return GlymsContractError(f"{'; '.join(v.text for v in violations)} "
                              f"(Glyms schema contract; GLYMS_PG_DSN -> {describe_dsn(dsn)})")


def check_contract(conn: psycopg2.extensions.connection, dsn: str, *, include_install: bool = True) -> None:
    """Raise :class:`GlymsContractError` (one line, exit code 2) unless the database meets the contract."""
    error = contract_error(read_violations(conn, include_install=include_install), dsn)
    if error is not None:
        raise error


def require_contract(dsn: str) -> None:
    """Before a sync's first read of Glyms: the whole contract, or one line and nothing read."""
    with connect(dsn) as conn:
        conn.set_session(readonly=True)
        check_contract(conn, dsn)
