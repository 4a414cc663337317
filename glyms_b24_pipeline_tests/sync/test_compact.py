"""The compact forms a sync holds per row (issue 13: bounded memory): pure tests, no database, no portal."""

import json
import os
import pickle
import sys
import tracemalloc
from decimal import Decimal

import pytest

from glyms_b24_pipeline.defs.companies.bitrix import CompanyCompactor
from glyms_b24_pipeline.defs.companies.plan import WORK, CompanyAction, multifield_ops
from glyms_b24_pipeline.defs.services.plan import (
    Action,
    PlannedChange,
    managed_catalog,
    plan_against_catalog,
    service_sync_plan,
)
from glyms_b24_pipeline.defs.services.report import plan_preview
from glyms_b24_pipeline.glyms.resource import RowTable
from glyms_b24_pipeline.glyms.rows import Row, SharedValues, column_index, pack
from glyms_b24_pipeline.settings.model import ServicesSettings
from glyms_b24_pipeline.sync.basis import NO_FIELDS
from glyms_b24_pipeline.sync.push import FAILED, SUCCESS, ChangeOutcome, CommandStep, WriteCommand
from glyms_b24_pipeline.sync.report import preview

SETTINGS = ServicesSettings()


def _glyms(id_, name="Glucemia", price="100.00"):
    return {"id_prestacion": id_, "descripcion": name, "comentario": None, "codigo": f"C{id_}", "id_tipo_ot": 1,
            "precio": Decimal(price) if price is not None else None}


def _item(id_, xml, name="Glucemia", active="Y"):
    return {"id": id_, "iblockId": 24, "xmlId": xml, "name": name, "active": active, "code": f"C{xml}",
            "detailText": None, "iblockSectionId": 48}


def _price(id_, product, value="100.00", group=2):
    return {"id": id_, "productId": product, "catalogGroupId": group, "price": value, "currency": "ARS"}


# --- Row and RowTable


def test_row_reads_like_the_dict_it_replaces():
    row = Row(column_index(["id_cliente", "mail"]), (7, None))
    assert row["id_cliente"] == 7 and row.get("mail") is None and row.get("absent", "x") == "x"
    assert dict(row) == {"id_cliente": 7, "mail": None} and row == {"id_cliente": 7, "mail": None}
    assert list(row) == ["id_cliente", "mail"] and len(row) == 2 and "mail" in row and "absent" not in row
    with pytest.raises(KeyError):
        row["absent"]
    assert pickle.loads(pickle.dumps(row)) == row


def test_row_table_iterates_rows_by_name_and_pickles_its_header_once():
    table = RowTable(["id", "name"], [(1, "a"), (2, "b"), (3, None)])
    assert len(table) == 3
    assert [dict(r) for r in table] == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": None}]
    assert table.column("name") == ["a", "b", None] and table.head(2) == [(1, "a"), (2, "b")]
    copy = pickle.loads(pickle.dumps(table))
    assert copy.columns == ("id", "name") and copy.rows == table.rows
    with pytest.raises(ValueError):
        table.column("absent")


def test_an_unpickled_row_table_reads_like_the_one_pickled_and_pickles_again_as_it_came():
    rows = [(n, f"name {n}", None if n % 3 else Decimal(n)) for n in range(12_345)]
    table = RowTable(["id", "name", "price"], rows)
    copy = pickle.loads(pickle.dumps(table))
    assert len(copy) == 12_345 and copy.head(2) == rows[:2] and copy.column("id") == list(range(12_345))
    assert [tuple(r.values()) for r in copy] == rows and [tuple(r.values()) for r in copy] == rows  # twice
    again = pickle.loads(pickle.dumps(copy))
    assert again.columns == table.columns and len(again) == 12_345 and again.rows == rows
    assert copy.rows == rows and len(copy) == 12_345 and copy.head(1) == rows[:1]
    # a table pickled before the row count travelled with its chunks
    old = RowTable.__new__(RowTable)
    old.__setstate__((("id", "name", "price"), pack(rows)))
    assert len(old) == 12_345 and old.rows == rows and [tuple(r.values()) for r in old] == rows
    assert len(pickle.loads(pickle.dumps(RowTable(["a"])))) == 0


def test_an_unpickled_row_table_is_read_a_chunk_at_a_time():
    data = pickle.dumps(RowTable(["id", "name", "code"], [(n, f"name {n}", f"code {n}") for n in range(60_000)]))

    def peak(read):
        tracemalloc.start()
        read()
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    one_pass = peak(lambda: sum(1 for row in pickle.loads(data) if row["name"]))  # as the next asset reads its input
    all_rows = peak(lambda: len(pickle.loads(data).rows))
    assert one_pass < all_rows / 2


def test_many_rows_cost_a_fraction_of_as_many_dicts():
    columns = [f"c{i}" for i in range(10)]
    values = [tuple(range(i, i + 10)) for i in range(20_000)]
    index = column_index(columns)

    def measure(build):
        tracemalloc.start()
        kept = build()
        size = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del kept
        return size

    as_dicts = measure(lambda: [dict(zip(columns, v, strict=True)) for v in values])
    as_rows = measure(lambda: [Row(index, v) for v in values])
    assert as_rows < as_dicts / 2


# --- the services' catalog, streamed


def test_managed_catalog_consumes_its_listings_once_and_keeps_the_first_price_of_the_type():
    consumed = []

    def stream(rows, name):
        for row in rows:
            consumed.append(name)
            yield row

    items = stream([_item(10, "1"), _item(11, ""), _item(12, "2", active="N")], "item")
    prices = stream([_price(1, 10, "5"), _price(2, 10, "6"), _price(3, 12, "7", group=9), _price(4, 11, "8")], "price")
    catalog = managed_catalog(items, prices, SETTINGS)
    assert consumed == ["price"] * 4 + ["item"] * 3  # prices first, each listing read once
    assert [(s.bitrix_id, s.xml_id, s.active, s.price_id, s.price) for s in catalog] == [
        (10, "1", True, 1, Decimal("5.00")),  # the first price of the product
        (12, "2", False, None, None),  # a price of another type is not its price
    ]  # 11 has no xmlId: not managed


def test_plan_against_a_streamed_catalog_equals_the_plan_from_dicts():
    glyms_rows = [_glyms(1), _glyms(2, price="120.00"), _glyms(3, name="Nuevo")]
    items = [_item(10, "1"), _item(11, "2"), _item(12, "4")]
    prices = [_price(1, 10), _price(2, 11)]
    table = RowTable(list(glyms_rows[0]), [tuple(r.values()) for r in glyms_rows])
    streamed = plan_against_catalog(table, managed_catalog(iter(items), iter(prices), SETTINGS), SETTINGS)
    from_dicts = service_sync_plan(glyms_rows, items, prices, SETTINGS)
    assert streamed.changes == from_dicts.changes
    assert {c.xml_id: c.action for c in streamed.changes} == {
        "1": Action.UNCHANGED, "2": Action.UPDATE, "3": Action.CREATE, "4": Action.DEACTIVATE}


# --- the plan's records


def test_changes_that_write_no_field_share_one_immutable_empty_mapping():
    plan = service_sync_plan([_glyms(1), _glyms(2)], [_item(10, "1"), _item(11, "2")],
                             [_price(1, 10), _price(2, 11)], SETTINGS)
    first, second = plan.changes
    assert first.action == second.action == Action.UNCHANGED
    assert first.fields is second.fields is NO_FIELDS
    assert first.fields == {} and not first.fields and dict(first.fields) == {}
    with pytest.raises(TypeError):
        first.fields["name"] = "x"  # type: ignore[index]
    assert pickle.loads(pickle.dumps(plan)).changes[0].fields is NO_FIELDS
    assert PlannedChange("9", Action.UNCHANGED).fields is NO_FIELDS


@pytest.mark.skipif(sys.version_info < (3, 11), reason="slotted frozen dataclasses from Python 3.11")
def test_planned_changes_carry_no_instance_dict_and_pickle():
    change = PlannedChange("1", Action.CREATE, fields={"name": "a"}, price=Decimal("1.00"))
    assert not hasattr(change, "__dict__")
    assert pickle.loads(pickle.dumps(change)) == change


def test_companies_planned_from_compact_rows_match_those_from_dicts_and_unchanged_share_no_fields():
    import datetime as dt

    from glyms_b24_pipeline.defs.companies.bitrix import company_select
    from glyms_b24_pipeline.defs.companies.plan import CustomerChanges, company_sync_plan
    from glyms_b24_pipeline.settings.model import CompaniesSettings
    from glyms_b24_pipeline_tests.defs.companies.test_plan import CUSTOMER, _company

    settings = CompaniesSettings()
    compact = CompanyCompactor(company_select(settings))
    customer_row = Row(column_index(list(CUSTOMER)), tuple(CUSTOMER.values()))
    companies = [_company(), _company(ID="101", ORIGIN_ID="22", ADDRESS="Calle vieja 1")]
    groups = [CustomerChanges("21", CUSTOMER), CustomerChanges("22", {**CUSTOMER, "id_cliente": 22})]
    compact_groups = [CustomerChanges("21", customer_row), CustomerChanges("22", {**CUSTOMER, "id_cliente": 22})]
    companies[0]["ORIGIN_ID"] = "21"

    def plan(groups, companies):
        return company_sync_plan(groups, companies, settings, today=dt.date(2026, 11, 28), reconcile=True)

    from_dicts = plan(groups, companies)
    from_rows = plan(compact_groups, [compact(c) for c in companies])
    assert [(c.origin_id, c.action, dict(c.fields)) for c in from_rows.changes] == \
        [(c.origin_id, c.action, dict(c.fields)) for c in from_dicts.changes]
    unchanged, updated = from_rows.changes
    assert unchanged.action == CompanyAction.UNCHANGED and unchanged.fields is NO_FIELDS
    assert updated.action == CompanyAction.UPDATE and dict(updated.fields) == {"ADDRESS": "San Martín 123"}


# --- companies as compact rows


def test_company_compactor_keeps_the_selected_fields_and_the_entries_the_planner_reads():
    compact = CompanyCompactor(["TITLE", "ORIGIN_ID", "EMAIL", "PHONE"])
    raw = {"ID": "5", "TITLE": "Lab", "ORIGIN_ID": "7", "UNSELECTED": "dropped",
           "EMAIL": [{"ID": "31", "VALUE": "a@b.ar", "VALUE_TYPE": "WORK", "TYPE_ID": "EMAIL"},
                     {"ID": "32", "VALUE": "c@d.ar", "VALUE_TYPE": "WORK", "TYPE_ID": "EMAIL"}]}
    row = compact(raw)
    assert row["ID"] == "5" and row["TITLE"] == "Lab" and row.get("PHONE") is None and "UNSELECTED" not in row
    assert [dict(e) for e in row["EMAIL"]] == raw["EMAIL"]
    # the planner gives the compact company the same operations as the raw one
    assert multifield_ops(row, "EMAIL", "x@y.ar") == multifield_ops(raw, "EMAIL", "x@y.ar") == [
        {"ID": "31", "VALUE": "x@y.ar", "VALUE_TYPE": WORK}, {"ID": "32", "DELETE": "Y"}]
    assert pickle.loads(pickle.dumps(row)) == row


def test_company_compactor_holds_a_repeated_value_once_and_keeps_every_value():
    # as the portal answers: json builds a new string object for each value
    raw = json.loads(json.dumps([
        {"ID": str(n), "TITLE": f"Lab {n}", "COMPANY_TYPE": "CUSTOMER", "ORIGIN_ID": str(n + 100),
         "EMAIL": [{"ID": str(n + 500), "VALUE": f"lab{n}@b.ar", "VALUE_TYPE": "WORK", "TYPE_ID": "EMAIL"}]}
        for n in range(3)]))
    assert raw[0]["COMPANY_TYPE"] is not raw[1]["COMPANY_TYPE"]
    compact = CompanyCompactor(["TITLE", "COMPANY_TYPE", "ORIGIN_ID", "EMAIL"])
    rows = [compact(c) for c in raw]
    assert [{**row, "EMAIL": [dict(e) for e in row["EMAIL"]]} for row in rows] == raw
    assert rows[0]["COMPANY_TYPE"] is rows[1]["COMPANY_TYPE"] is rows[2]["COMPANY_TYPE"]
    first, second = rows[0]["EMAIL"][0], rows[1]["EMAIL"][0]
    assert first["VALUE_TYPE"] is second["VALUE_TYPE"] and first["TYPE_ID"] is second["TYPE_ID"]


def test_shared_values_are_per_column_bounded_and_leave_other_types_alone():
    shared = SharedValues(limit=2)
    one, again = "".join(["WO", "RK"]), "".join(["W", "ORK"])
    assert one is not again and shared("a", one) is one and shared("a", again) is one
    assert shared("b", again) is again  # another column remembers its own
    assert shared("a", "x" * 3) == "xxx"  # the second distinct value of column a: remembered
    late, late_again = "".join(["la", "te"]), "".join(["l", "ate"])
    assert shared("a", late) is late and shared("a", late_again) is late_again  # the memo is full
    assert shared("a", one[:0] + "WORK") is one  # values it holds are still shared
    number = 10**20
    assert shared("a", number) is number and shared("a", None) is None


# --- the push keeps little of a settled write


def test_a_settled_successful_change_drops_its_steps_a_failed_one_keeps_them():
    command = WriteCommand("s1", "catalog.product.service.add", {"fields": {"name": "a"}}, "create", "service")
    ok = ChangeOutcome(change="c1", glyms_key="1", bitrix_id=10, steps=[CommandStep(command, SUCCESS)])
    failed = ChangeOutcome(change="c2", glyms_key="2", bitrix_id=None,
                           steps=[CommandStep(command, SUCCESS), CommandStep(command, FAILED, "boom", failure="permanent")])
    for outcome in (ok, failed):
        outcome.compact()
    assert ok.steps == [] and ok.ok and ok.errors == [] and ok.failure is None and not ok.unknown
    assert len(failed.steps) == 2 and not failed.ok and failed.failure == "permanent"
    assert failed.errors == ["catalog.product.service.add: boom"]


# --- previews describe only what they show


def test_preview_reads_only_the_rows_it_shows_and_says_of_how_many():
    produced = []

    def rows():
        for n in range(100_000):
            produced.append(n)
            yield (n,)

    text = preview(["n"], rows(), empty="none", limit=20, total=100_000)
    assert text.startswith("First 20 of 100,000.")
    assert [line for line in text.splitlines() if line.startswith("| ")][1:] == [f"| {n} |" for n in range(20)]
    assert len(produced) <= 21
    assert preview(["n"], [(1,), (2,)], empty="none") == "| n |\n|---|\n| 1 |\n| 2 |"
    assert preview(["n"], [], empty="none") == "none"


def test_plan_preview_counts_every_write_but_describes_only_the_first():
    plan = service_sync_plan([_glyms(n) for n in range(1, 101)], [], [], SETTINGS)
    text = plan_preview(plan, limit=5)
    assert text.startswith("First 5 of 100.") and text.count("| create |") == 5


# --- values pickled between assets go in chunks


def test_pack_round_trips_in_chunks_each_pickled_alone():
    from glyms_b24_pipeline.glyms.rows import PackedList, pack, unpack

    items = [(n, f"s{n}", Decimal(n)) for n in range(12_345)]
    chunks = pack(items, chunk=5_000)
    assert len(chunks) == 3 and all(isinstance(c, bytes) for c in chunks)
    assert unpack(chunks) == items and pack([]) == [] and unpack([]) == []
    packed = pickle.loads(pickle.dumps(PackedList(items)))
    assert isinstance(packed, PackedList) and packed == items


def test_pickling_a_large_value_remembers_a_chunk_not_every_row():
    from glyms_b24_pipeline.glyms.rows import PackedList

    rows = [(n, f"name {n}", f"code {n}") for n in range(60_000)]

    def pickling_peak(value):
        tracemalloc.start()
        with open(os.devnull, "wb") as sink:
            pickle.dump(value, sink, protocol=pickle.HIGHEST_PROTOCOL)  # as the IO manager writes a file
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    assert pickling_peak(PackedList(rows)) < pickling_peak(list(rows)) / 2


def test_plans_tables_and_claims_survive_the_io_manager_pickle():
    import datetime as dt

    from glyms_b24_pipeline.defs.companies.changelog import ClaimedChanges
    from glyms_b24_pipeline.defs.companies.plan import CustomerChanges, LogRow
    from glyms_b24_pipeline.sync.basis import PlanBasis

    plan = service_sync_plan([_glyms(n) for n in range(1, 7_001)], [], [], SETTINGS,
                             basis=PlanBasis("run", "epoch", "plan-1"))
    copy = pickle.loads(pickle.dumps(plan))
    assert copy == plan and isinstance(copy.changes, tuple) and copy.basis == plan.basis
    assert copy.counts() == plan.counts()
    table = RowTable(["a", "b"], [(n, str(n)) for n in range(6_000)])
    table_copy = pickle.loads(pickle.dumps(table))
    assert table_copy.columns == table.columns and table_copy.rows == table.rows
    stamp = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    claim = ClaimedChanges("run", tuple(CustomerChanges(str(n), {"id_cliente": n}, (LogRow(n, "INSERT", stamp, 0),))
                                        for n in range(5_500)), reclaimed=2, per_operation={"INSERT": 5_500},
                           oldest_change=stamp)
    claim_copy = pickle.loads(pickle.dumps(claim))
    assert claim_copy == claim and isinstance(claim_copy.groups, tuple) and claim_copy.rows == 5_500
