"""Indexed list plans answer exactly what filtering every row would, and indexes follow every change."""

from __future__ import annotations

import random

import pytest

from bitrix24_emulator.indexes import FieldIndex, KeyIndex, SortedIds, Table
from bitrix24_emulator.listing import (
    Condition,
    apply_filter,
    apply_order,
    list_page,
    paginate,
    parse_filter,
    value_matches,
)

# Values that stress the equality rules: numbers vs numeric text, "007" vs 7, nulls vs "".
AWKWARD_VALUES = [None, "", "7", 7, 7.0, "7.0", "007", " 7 ", "x", "X", 0, "0", False, True, "True", "None",
                  "1e1", 10, "abc", "nan", "-3", -3]


def _plain(rows, conditions, order, start, keep=None):
    """The unplanned answer: filter all rows, order by id then by ``order``, page."""
    kept = [row for row in rows if keep is None or keep(row)]
    matching = apply_filter(sorted(kept, key=lambda row: row["id"]), conditions)
    return paginate(apply_order(matching, order), start)


def _random_rows(rng, count):
    ids = rng.sample(range(1, 20 * count), count)
    return [{"id": row_id, "code": rng.choice(AWKWARD_VALUES), "tags": rng.sample(AWKWARD_VALUES, rng.randrange(3)),
             "kind": rng.choice("AB")} for row_id in ids]


def _random_filter(rng, rows):
    filters = {}
    pick = rng.random()
    if pick < 0.4:
        filters["code"] = rng.choice(AWKWARD_VALUES)
    elif pick < 0.7:
        filters["@code"] = rng.sample(AWKWARD_VALUES, rng.randrange(1, 5))
    elif pick < 0.85:
        filters["tags"] = rng.choice(AWKWARD_VALUES)
    else:
        filters["@id"] = [rng.choice(rows)["id"] for _ in range(3)] + ["x", str(rows[0]["id"]) + ".0"]
    if rng.random() < 0.5:
        filters[rng.choice([">id", ">=id", "<id", "<=id"])] = rng.choice(
            [rng.choice(rows)["id"], str(rng.choice(rows)["id"]), rng.random() * 20 * len(rows), -5, "abc", "[x]"])
    if rng.random() < 0.3:
        filters["kind"] = "A"
    return filters


@pytest.mark.parametrize("seed", range(6))
def test_planned_pages_equal_the_plain_evaluation(seed):
    rng = random.Random(seed)
    rows = _random_rows(rng, 400)
    table = Table({row["id"]: row for row in rows}, "id", {
        "code": FieldIndex(lambda row: row.get("code")), "tags": FieldIndex(lambda row: row.get("tags"))})
    for _ in range(150):
        conditions = parse_filter(_random_filter(rng, rows))
        order = rng.choice([[], [("id", False)], [("id", True)], [("code", False)]])
        start = rng.choice([-1, 0, 50, 73, 350, None])
        keep = rng.choice([None, lambda row: row["kind"] == "B"])
        planned = list_page(table, conditions, order, start, keep=keep)
        expected = _plain(rows, conditions, order, start, keep)
        if start == -1 and order in ([], [("id", False)]):
            expected.rows, expected.next, expected.total = expected.rows[:50], None, None
        assert (planned.rows, planned.next, planned.total) == (expected.rows, expected.next, expected.total), \
            (conditions, order, start)


def test_index_follows_rows_changed_in_place_and_removed():
    rows = {1: {"id": 1, "code": "a"}, 2: {"id": 2, "code": "b"}}
    table = Table(rows, "id", {"code": FieldIndex(lambda row: row.get("code"))})
    equals = parse_filter({"code": "a"})
    assert [r["id"] for r in list_page(table, equals, [], 0).rows] == [1]
    rows[1]["code"] = "z"
    table.put(rows[1])
    rows[2]["code"] = "a"
    table.put(rows[2])
    assert [r["id"] for r in list_page(table, equals, [], 0).rows] == [2]
    assert [r["id"] for r in list_page(table, parse_filter({"code": "z"}), [], 0).rows] == [1]
    table.remove(2)
    assert list_page(table, equals, [], 0).rows == [] and 2 not in rows
    assert list_page(table, [], [], 0).total == 1


def test_sorted_ids_against_a_plain_sorted_list():
    rng = random.Random(5)
    ids, expected = SortedIds(), set()
    for step in range(20000):
        value = rng.randrange(6000)
        if rng.random() < 0.6:
            ids.add(value)
            expected.add(value)
        else:
            ids.discard(value)
            expected.discard(value)
        if step % 1000 == 0:
            ordered = sorted(expected)
            assert list(ids) == ordered and len(ids) == len(ordered)
            probe = rng.randrange(-10, 6010) + rng.choice([0, 0.5])
            assert ids.rank(probe) == sum(1 for v in ordered if v < probe)
            assert ids.rank(probe, or_equal=True) == sum(1 for v in ordered if v <= probe)
            position = rng.randrange(len(ordered) + 1)
            assert list(ids.iter_from(position)) == ordered[position:]


def test_text_in_shortcut_agrees_with_comparing_each_value():
    rng = random.Random(11)
    texts = [v for v in AWKWARD_VALUES if isinstance(v, str)]
    for _ in range(3000):
        operator = rng.choice(["@", "!"])
        wanted = rng.sample(texts, rng.randrange(1, 6))
        [condition] = parse_filter({f"{operator}code": wanted})
        assert condition.texts is not None
        slow = Condition(condition.field, condition.operator, condition.value)
        stored = rng.choice([rng.choice(AWKWARD_VALUES), rng.sample(AWKWARD_VALUES, 2)])
        assert value_matches(stored, condition) == value_matches(stored, slow), (stored, condition)


def test_key_index_shares_and_releases_keys():
    rows = {row_id: {"id": row_id, "key": "k"} for row_id in (1, 2, 3)}
    index = KeyIndex(lambda row: [row["key"]])
    for row_id, row in rows.items():
        index.put(row_id, row)
    assert set(index.ids("k")) == {1, 2, 3}
    index.remove(2)
    assert set(index.ids("k")) == {1, 3}
    rows[3]["key"] = "other"
    index.put(3, rows[3])
    assert set(index.ids("k")) == {1} and set(index.ids("other")) == {3}
    index.remove(1)
    index.remove(1)
    assert set(index.ids("k")) == set() and set(index.ids("other")) == {3}
    index.put(1, rows[1])
    index.put(1, rows[1])
    assert set(index.ids("k")) == {1}
