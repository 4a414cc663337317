"""Paging: 50-row pages with ``next``/``total``, ``start`` floored, and the ``start=-1`` keyset mode."""

from __future__ import annotations

import pytest


@pytest.fixture
def services(emulator):
    return [emulator.seed_service(name=f"Servicio {i:03d}", xmlId=f"GL-{i:03d}") for i in range(120)]


def _page(rest, start, **filter_):
    return rest("catalog.product.service.list", select=["id", "iblockId"], filter={"iblockId": 24, **filter_},
                order={"id": "asc"}, start=start).json()


def test_offset_pages(rest, services):
    first = _page(rest, 0)
    assert len(first["result"]["services"]) == 50 and first["next"] == 50 and first["total"] == 120
    second = _page(rest, 50)
    assert second["next"] == 100 and second["result"]["services"][0]["id"] == services[50]
    last = _page(rest, 100)
    assert len(last["result"]["services"]) == 20 and "next" not in last and last["total"] == 120
    floored = _page(rest, 73)
    assert floored["result"]["services"][0]["id"] == services[50] and floored["next"] == 100


def test_offset_walk_collects_everything_once(rest, services):
    seen, start = [], 0
    while start is not None:
        body = _page(rest, start)
        seen += [s["id"] for s in body["result"]["services"]]
        start = body.get("next")
    assert seen == services


def test_fast_mode_keyset(rest, services):
    body = _page(rest, -1)
    assert len(body["result"]["services"]) == 50
    assert "next" not in body and "total" not in body  # controller lists: no count in fast mode
    seen, last_id = [], 0
    while True:
        rows = _page(rest, -1, **{">id": last_id})["result"]["services"]
        seen += [row["id"] for row in rows]
        if len(rows) < 50:
            break
        last_id = rows[-1]["id"]
    assert seen == services


def test_crm_fast_mode_reports_total_zero(emulator, rest):
    for index in range(55):
        emulator.seed_company(TITLE=f"Empresa {index}")
    body = rest("crm.company.list", select=["ID"], order={"ID": "ASC"}, start=-1).json()
    assert len(body["result"]) == 50 and body["total"] == 0 and "next" not in body
    paged = rest("crm.company.list", select=["ID"], start=50).json()
    assert len(paged["result"]) == 5 and paged["total"] == 55 and "next" not in paged


def test_empty_list(rest):
    body = rest("catalog.product.service.list", select=["id", "iblockId"], filter={"iblockId": 24}).json()
    assert body["result"] == {"services": []} and body["total"] == 0


def test_price_list_pages(emulator, rest):
    ids = [emulator.seed_service(name=f"S{i}") for i in range(60)]
    for service_id in ids:
        emulator.seed_price(service_id, 100)
    body = rest("catalog.price.list", filter={"@productId": ids}).json()
    assert len(body["result"]["prices"]) == 50 and body["next"] == 50 and body["total"] == 60
