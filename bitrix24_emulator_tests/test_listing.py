"""The keyset shortcut of list_page returns exactly what filter + order + first page would."""

import random

from bitrix24_emulator.listing import apply_filter, apply_order, list_page, parse_filter


def test_keyset_page_equals_the_plain_evaluation():
    rng = random.Random(3)
    rows = [{"id": i, "active": rng.choice("YN"), "xmlId": str(rng.randrange(40))} for i in rng.sample(range(1, 5000), 900)]
    for filters in ({">id": 0}, {">id": 2500, "active": "Y"}, {">=id": 1234, "xmlId": ["1", "2", "3"]},
                    {"active": "N"}, {">id": 4999}, {">id": 100, "<id": 300, "!active": "Y"}):
        conditions = parse_filter(filters)
        expected = apply_order(apply_filter(rows, conditions), [("id", False)])[:50]
        page = list_page(rows, conditions, [("id", False)], -1)
        assert page.rows == expected, filters
        assert (page.next, page.total) == (None, None)


def test_offset_paging_is_unchanged():
    rows = [{"id": i} for i in range(1, 121)]
    page = list_page(rows, [], [], 60)
    assert [r["id"] for r in page.rows] == list(range(51, 101))
    assert (page.next, page.total) == (100, 120)
