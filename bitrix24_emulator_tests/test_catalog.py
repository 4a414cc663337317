"""Catalog methods: catalogs, sections, price types, services (§6.6) and prices."""

from __future__ import annotations

import requests

SERVICE_KEYS = {"active", "available", "bundle", "code", "createdBy", "dateActiveFrom", "dateActiveTo", "dateCreate",
                "detailPicture", "detailText", "detailTextType", "iblockId", "iblockSectionId", "id", "modifiedBy",
                "name", "previewPicture", "previewText", "previewTextType", "sort", "timestampX", "type", "vatId",
                "vatIncluded", "xmlId"}
PRICE_KEYS = {"catalogGroupId", "currency", "extraId", "id", "price", "priceScale", "productId", "quantityFrom",
              "quantityTo", "timestampX"}


def test_catalog_list_has_the_crm_catalog_24(rest):
    body = rest("catalog.catalog.list").json()
    catalogs = body["result"]["catalogs"]
    crm = [c for c in catalogs if c["productIblockId"] is None]
    assert [c["iblockId"] for c in crm] == [24]
    assert crm[0]["iblockTypeId"] == "CRM_PRODUCT_CATALOG" and crm[0]["lid"] == "s1"
    assert body["total"] == len(catalogs)


def test_section_list(rest):
    body = rest("catalog.section.list", filter={"iblockId": 24}, select=["id", "iblockId", "name"]).json()
    sections = body["result"]["sections"]
    assert [s["id"] for s in sections] == [44, 46, 48]
    assert set(sections[0]) == {"id", "iblockId", "name"} and body["total"] == 3
    missing = rest("catalog.section.list")
    assert missing.status_code == 400 and missing.json()["error"] == 0


def test_price_type_list(rest):
    body = rest("catalog.priceType.list").json()
    types = {t["id"]: t for t in body["result"]["priceTypes"]}
    assert set(types) == {1, 2}
    assert types[1]["name"] == "BASE" and types[1]["base"] == "Y" and types[2]["base"] == "N"
    assert body["total"] == 2


def test_service_add_shape_and_normalisation(rest):
    response = rest("catalog.product.service.add", fields={
        "iblockId": 24, "name": "Ensayo de dureza", "xmlId": "", "previewText": "", "detailText": "",
        "iblockSectionId": 46, "vatId": 2, "vatIncluded": "Y", "dateActiveFrom": "2024-05-28T10:00:00",
        "measure": 9, "property258": "valor", "unknownField": 1})
    assert response.status_code == 200
    service = response.json()["result"]["service"]
    assert set(service) == SERVICE_KEYS | {"property258"}  # no measure, no unknown keys
    assert isinstance(service["id"], int) and service["id"] >= 1000
    assert service["xmlId"] == str(service["id"])
    assert service["previewText"] is None and service["detailText"] is None
    assert service["type"] == 7 and service["iblockSectionId"] == 46 and service["vatId"] == 2
    assert service["dateActiveFrom"] == "2024-05-28T10:00:00-03:00"
    assert service["property258"]["value"] == "valor" and isinstance(service["property258"]["valueId"], str)
    assert service["active"] == "Y" and service["sort"] == 500


def test_service_add_errors(rest):
    def error(fields=None, **params):
        body = rest("catalog.product.service.add", **({"fields": fields} if fields is not None else {}), **params)
        assert body.status_code == 400
        return body.json()
    assert error() == {"error": 100, "error_description": "Could not find value for parameter {fields}"}
    assert error({"name": "x"}) == {"error": 0, "error_description": "iblock is not catalog"}
    assert error({"iblockId": 26, "name": "x"})["error_description"] == "productType is not allowed for this catalog"
    assert error({"iblockId": 24}) == {"error": 0, "error_description": "Required fields: name"}
    assert error({"iblockId": 24, "name": "x", "iblockSectionId": 999})["error"] == 200040300050
    assert error({"iblockId": 24, "name": "x", "vatId": 99})["error_description"] == "VAT vatId is not exists"


def test_service_update_get_delete(emulator, rest):
    service_id = emulator.seed_service(name="Original", xmlId="GL-1")
    updated = rest("catalog.product.service.update", id=service_id, fields={"name": "Nuevo", "active": "N"})
    assert updated.status_code == 200
    service = updated.json()["result"]["service"]
    assert service["name"] == "Nuevo" and service["active"] == "N" and service["xmlId"] == "GL-1"
    got = rest("catalog.product.service.get", id=service_id).json()["result"]["service"]
    assert got == service
    wrong_iblock = rest("catalog.product.service.update", id=service_id, fields={"iblockId": 25, "name": "x"})
    assert wrong_iblock.json() == {"error": 0, "error_description": f"Product - {service_id} is not exists in catalog - 25"}
    assert rest("catalog.product.service.delete", id=service_id).json()["result"] is True
    assert rest("catalog.product.service.get", id=service_id).json()["error"] == 200040300040


def test_missing_service_errors_default_and_setting(rest, make_emulator):
    assert rest("catalog.product.service.get", id=987654).json()["error"] == 200040300040
    assert rest("catalog.product.service.delete", id=987654).json()["error"] == 200040300040
    assert rest("catalog.product.service.update", id=987654, fields={"name": "x"}).json() == {
        "error": 0, "error_description": "iblock is not catalog"}
    assert rest("catalog.product.service.get").json()["error"] == 100
    emulator = make_emulator(missing_service_error="not_exists")
    token = emulator.issue_tokens("local.test.app")["access_token"]

    body = requests.post(f"{emulator.portal_url}/rest/catalog.product.service.get", json={"auth": token, "id": 5},
                         timeout=5).json()
    assert body == {"error": 0, "error_description": "Product is not exists"}


def test_simple_products_are_invisible_to_service_methods(emulator, rest):
    product_id = emulator.seed_product(name="Producto simple")
    service_id = emulator.seed_service(name="Servicio")
    assert rest("catalog.product.service.get", id=product_id).json()["error_description"] == "Product is not exists"
    listed = rest("catalog.product.service.list", select=["id", "iblockId"], filter={"iblockId": 24}).json()
    assert [s["id"] for s in listed["result"]["services"]] == [service_id]


def test_service_list_requirements_and_filters(emulator, rest):
    ids = [emulator.seed_service(name=f"S{i}", xmlId=f"GL-{i}") for i in range(5)]
    missing_select = rest("catalog.product.service.list", select=["name"], filter={"iblockId": 24})
    assert missing_select.json() == {"error": 0, "error_description": "Required select fields: id, iblockId"}
    missing_filter = rest("catalog.product.service.list", select=["id", "iblockId"], filter={"xmlId": "GL-1"})
    assert missing_filter.json() == {"error": 0, "error_description": "Required filter fields: iblockId"}

    def listed(filter_, **params):
        body = rest("catalog.product.service.list", select=["id", "iblockId", "xmlId"],
                    filter={"iblockId": 24, **filter_}, **params).json()
        return [s["xmlId"] for s in body["result"]["services"]]
    assert listed({"xmlId": ["GL-3", "GL-1", "nope"]}) == ["GL-1", "GL-3"]
    assert listed({"!xmlId": "GL-0"}) == ["GL-1", "GL-2", "GL-3", "GL-4"]
    assert listed({"@id": [ids[0], ids[4]]}) == ["GL-0", "GL-4"]
    assert listed({">id": ids[2]}) == ["GL-3", "GL-4"]
    assert listed({}, order={"id": "desc"}) == ["GL-4", "GL-3", "GL-2", "GL-1", "GL-0"]
    assert listed({"%name": "s3"}) == ["GL-3"]
    rows = rest("catalog.product.service.list", select=["id", "iblockId", "measure"], filter={"iblockId": 24}).json()
    assert set(rows["result"]["services"][0]) == {"id", "iblockId", "measure"}


def test_price_add_update_delete_list(emulator, rest):
    service_id = emulator.seed_service(name="Con precio")
    added = rest("catalog.price.add", fields={"productId": service_id, "catalogGroupId": 1, "price": 1500,
                                              "currency": "ARS"})
    assert added.status_code == 200
    price = added.json()["result"]["price"]
    assert set(price) == PRICE_KEYS and price["price"] == 1500 and isinstance(price["id"], int)
    duplicate = rest("catalog.price.add", fields={"productId": service_id, "catalogGroupId": 1, "price": 1,
                                                  "currency": "ARS"})
    assert duplicate.status_code == 400 and duplicate.json()["error"] == 0
    assert "single price" in duplicate.json()["error_description"]
    updated = rest("catalog.price.update", id=price["id"], fields={"price": 1750.5, "currency": "ARS"})
    assert updated.json()["result"]["price"]["price"] == 1750.5
    assert emulator.prices(service_id)[0]["price"] == 1750.5
    listed = rest("catalog.price.list", select=["id", "productId", "catalogGroupId", "price", "currency"],
                  filter={"@productId": [service_id], "catalogGroupId": 1}).json()
    assert listed["result"]["prices"] == [{"id": price["id"], "productId": service_id, "catalogGroupId": 1,
                                           "price": 1750.5, "currency": "ARS"}]
    assert listed["total"] == 1
    assert rest("catalog.price.delete", id=price["id"]).json()["result"] is True
    assert rest("catalog.price.delete", id=price["id"]).json() == {"error": 0, "error_description": "Price is not exists"}


def test_price_errors(emulator, rest):
    service_id = emulator.seed_service()
    def add(**fields):
        return rest("catalog.price.add", fields={"productId": service_id, "catalogGroupId": 1, "price": 10,
                                                 "currency": "ARS", **fields}).json()
    assert add(productId=999999)["error"] == 200040300030
    assert add(catalogGroupId=77)["error_description"] == "Validate price error. Catalog price group is wrong"
    assert add(currency="EUR")["error"] == 0
    assert rest("catalog.price.add", fields={"productId": service_id}).json()["error_description"].startswith("Required fields")
    assert rest("catalog.price.update", id=424242, fields={"price": 1, "currency": "ARS"}).json()["error_description"] == "Price is not exists"


def test_price_modify_updates_creates_and_deletes_unlisted(emulator, rest):
    service_id = emulator.seed_service()
    base = emulator.seed_price(service_id, 100, price_type_id=1)
    emulator.seed_price(service_id, 90, price_type_id=2)
    response = rest("catalog.price.modify", fields={"product": {"id": service_id, "prices": [
        {"id": base, "catalogGroupId": 1, "price": 120, "currency": "ARS"}]}})
    assert response.status_code == 200
    written = response.json()["result"]["prices"]
    assert [(p["id"], p["price"]) for p in written] == [(base, 120)]
    assert [p["id"] for p in emulator.prices(service_id)] == [base]  # type 2 price deleted
    recreated = rest("catalog.price.modify", fields={"product": {"id": service_id, "prices": [
        {"catalogGroupId": 1, "price": 130, "currency": "ARS"}, {"catalogGroupId": 2, "price": 99, "currency": "USD"}]}})
    new_ids = [p["id"] for p in recreated.json()["result"]["prices"]]
    assert base not in new_ids and len(new_ids) == 2
    twice = rest("catalog.price.modify", fields={"product": {"id": service_id, "prices": [
        {"catalogGroupId": 1, "price": 1, "currency": "ARS"}, {"catalogGroupId": 1, "price": 2, "currency": "ARS"}]}})
    assert twice.status_code == 400 and twice.json()["error"] == 0
    # Older-source behaviour: the unlisted prices were deleted before validation failed.
    assert emulator.prices(service_id) == []


def test_service_delete_removes_its_prices(emulator, rest):
    service_id = emulator.seed_service()
    emulator.seed_price(service_id, 10)
    rest("catalog.product.service.delete", id=service_id).raise_for_status()
    assert emulator.prices(service_id) == []
