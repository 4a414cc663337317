"""service_sync_plan: pure diff of Glyms services against the catalog."""

from decimal import Decimal

from glyms_b24_pipeline.defs.services.plan import Action, service_sync_plan
from glyms_b24_pipeline.settings.model import ServicesSettings

SETTINGS = ServicesSettings()


def glyms(id_, name="Glucemia", price="100.00", tipo=1, codigo=None, comentario=None):
    return {"id_prestacion": id_, "descripcion": name, "comentario": comentario, "codigo": codigo or f"C{id_}",
            "id_tipo_ot": tipo, "precio": Decimal(price) if price is not None else None}


def catalog(id_, xml, name="Glucemia", active="Y", code=None, detail=None, section=48):
    return {"id": id_, "iblockId": 24, "xmlId": xml, "name": name, "active": active, "code": code or f"C{xml}",
            "detailText": detail, "iblockSectionId": section}


def price(id_, product, value, currency="ARS", group=2):
    return {"id": id_, "productId": product, "catalogGroupId": group, "price": value, "currency": currency}


def actions(plan):
    return {c.xml_id: c.action for c in plan.changes}


def test_creates_carry_section_and_price():
    plan = service_sync_plan([glyms(1), glyms(2, tipo=3, price=None)], [], [], SETTINGS)
    first, second = plan.changes
    assert first.action == Action.CREATE
    assert first.fields == {"iblockId": 24, "xmlId": "1", "name": "Glucemia", "code": "C1", "detailText": "",
                            "active": "Y", "iblockSectionId": 48}
    assert first.price == Decimal("100.00")
    assert second.fields["iblockSectionId"] == 44 and second.price is None
    assert second.warnings == ("no price in Glyms",)
    assert plan.counts()["without_price"] == 1


def test_unchanged_catalog_gives_empty_plan_despite_cosmetic_differences():
    rows = [glyms(1, name="  Glucemia ", comentario="", price="100"), glyms(2, comentario=None, price="5.5")]
    items = [catalog(10, "1", detail=None), catalog(11, "2", detail="")]
    prices = [price(500, 10, 100.0), price(501, 11, 5.50), price(502, 11, 999, group=1)]
    plan = service_sync_plan(rows, items, prices, SETTINGS)
    assert set(actions(plan).values()) == {Action.UNCHANGED}
    assert plan.writes == []


def test_field_and_price_changes():
    rows = [glyms(1, name="Glucemia en ayunas"), glyms(2, price="120.004")]
    items = [catalog(10, "1"), catalog(11, "2")]
    prices = [price(500, 10, 100), price(501, 11, 100)]
    plan = service_sync_plan(rows, items, prices, SETTINGS)
    one, two = plan.changes
    assert (one.action, dict(one.fields), one.price) == (Action.UPDATE, {"name": "Glucemia en ayunas"}, None)
    assert (two.action, dict(two.fields), two.price, two.price_id) == (Action.UPDATE, {}, Decimal("120.00"), 501)
    assert plan.counts()["price_changes"] == 1 and plan.counts()["field_updates"] == 1


def test_missing_price_row_is_added_and_currency_change_updates():
    plan = service_sync_plan([glyms(1), glyms(2)], [catalog(10, "1"), catalog(11, "2")],
                             [price(501, 11, 100, currency="USD")], SETTINGS)
    one, two = plan.changes
    assert (one.price, one.price_id) == (Decimal("100.00"), None)
    assert (two.price, two.price_id) == (Decimal("100.00"), 501)


def test_deactivation_and_reactivation():
    items = [catalog(10, "1", active="N"), catalog(11, "2"), catalog(12, "3", active="N")]
    plan = service_sync_plan([glyms(1)], items, [price(500, 10, 100)], SETTINGS)
    assert actions(plan) == {"1": Action.REACTIVATE, "2": Action.DEACTIVATE}
    assert dict(plan.changes[0].fields) == {"active": "Y"}
    assert dict(plan.changes[1].fields) == {"active": "N"}


def test_sections_kept_in_line_only_when_configured():
    rows, items = [glyms(1, tipo=2)], [catalog(10, "1", section=48)]
    prices = [price(500, 10, 100)]
    assert service_sync_plan(rows, items, prices, SETTINGS).changes[0].action == Action.UNCHANGED
    keep = SETTINGS.model_copy(update={"keep_sections_in_line": True})
    change = service_sync_plan(rows, items, prices, keep).changes[0]
    assert dict(change.fields) == {"iblockSectionId": 46}


def test_invalid_rows_are_reported_not_written():
    rows = [glyms(1, name="   "), glyms(2, name="x" * 300), glyms(3, price="-1"), glyms(4, price=None, tipo=9)]
    plan = service_sync_plan(rows, [catalog(10, "1")], [], SETTINGS)
    reasons = {c.xml_id: (c.action, c.reason) for c in plan.changes}
    assert reasons["1"] == (Action.INVALID, "descripcion (name) is blank")
    assert reasons["2"][0] == Action.INVALID and "300 characters" in reasons["2"][1]
    assert reasons["3"] == (Action.INVALID, "precio -1.00 is negative")
    assert reasons["4"][0] == Action.CREATE  # unmapped type: created without section, reported
    create = plan.changes[3]
    assert "iblockSectionId" not in create.fields
    assert "id_tipo_ot 9 has no section mapping" in create.warnings
    # an invalid Glyms row that exists in Bitrix24 is not deactivated
    assert not plan.by_action(Action.DEACTIVATE)


def test_duplicate_xml_ids_are_reported_never_guessed():
    items = [catalog(10, "1"), catalog(11, "1"), catalog(12, "2"), catalog(13, "2")]
    plan = service_sync_plan([glyms(1)], items, [], SETTINGS)
    assert actions(plan) == {"1": Action.DUPLICATE, "2": Action.DUPLICATE}
    assert plan.writes == []
    assert "10, 11" in plan.changes[0].reason


def test_mass_deactivation_guard():
    items = [catalog(10 + i, str(i)) for i in range(1, 11)]
    empty = service_sync_plan([], items, [], SETTINGS)
    assert "Glyms returned no active services" in empty.mass_deactivation(0.5)
    assert "Glyms returned no active services" in empty.mass_deactivation(1.0)
    six_gone = service_sync_plan([glyms(i) for i in range(1, 5)], items, [], SETTINGS)
    assert six_gone.deactivation_share == 0.6
    assert "6 of 10" in six_gone.mass_deactivation(0.5)
    assert six_gone.mass_deactivation(0.7) is None
    assert service_sync_plan([], [], [], SETTINGS).mass_deactivation(0.5) is None


# --- lims.v_prestacion_max_version as it may really be ------------------------------------------------


def test_an_id_the_view_gives_twice_as_the_same_row_is_synced_once_whatever_the_order():
    rows = [glyms(1), glyms(2), glyms(1)]
    for order in (rows, list(reversed(rows))):
        plan = service_sync_plan(order, [], [], SETTINGS)
        assert sorted(c.xml_id for c in plan.changes) == ["1", "2"] and len(plan.writes) == 2
        (one,) = [c for c in plan.changes if c.xml_id == "1"]
        assert one.action == Action.CREATE
        assert one.warnings == ("id_prestacion 1 appears 2 times in lims.v_prestacion_max_version (identical rows)",)


def test_an_id_the_view_gives_twice_with_different_rows_is_not_synced_and_its_service_left_alone():
    rows = [glyms(1, name="Glucemia"), glyms(1, name="Glucemia en ayunas", price="120"), glyms(2)]
    items = [catalog(10, "1"), catalog(11, "2")]
    for order in (rows, list(reversed(rows))):
        plan = service_sync_plan(order, items, [price(500, 10, 100), price(501, 11, 100)], SETTINGS)
        assert actions(plan) == {"1": Action.INVALID, "2": Action.UNCHANGED}  # never deactivated either
        (one,) = [c for c in plan.changes if c.xml_id == "1"]
        assert one.bitrix_id == 10
        assert one.reason == ("id_prestacion 1 appears 2 times in lims.v_prestacion_max_version with different "
                              "descripcion, precio; not synced until the view gives it once")
        assert plan.writes == []


def test_an_id_twice_once_without_a_name_is_not_synced():
    plan = service_sync_plan([glyms(1), glyms(1, name=None)], [], [], SETTINGS)
    (one,) = plan.changes
    assert one.action == Action.INVALID and "appears 2 times" in one.reason and "different values" in one.reason


def test_an_empty_code_syncs_without_a_price_lookup_and_says_so():
    (change,) = service_sync_plan([{**glyms(1, price=None), "codigo": "  "}], [], [], SETTINGS).changes
    assert change.action == Action.CREATE and change.fields["code"] == ""
    assert change.warnings == ("no price in Glyms", "codigo is empty: no price can be looked up for it")


def test_a_code_shared_by_services_syncs_each_and_names_the_others():
    plan = service_sync_plan([glyms(3, codigo="HEMO"), glyms(1, codigo="HEMO"), glyms(2, codigo="HEMO")], [], [], SETTINGS)
    assert [c.action for c in plan.changes] == [Action.CREATE] * 3
    warnings = {c.xml_id: c.warnings for c in plan.changes}
    assert warnings["1"] == ("codigo HEMO is also the code of active service(s) 2, 3: they share its price",)
    assert warnings["3"] == ("codigo HEMO is also the code of active service(s) 1, 2: they share its price",)


def test_prices_of_any_precision_and_a_tie_on_one_date():
    rows = [{**glyms(1), "precio": Decimal("1234.567890")}, {**glyms(2), "precio": 75},
            {**glyms(3), "precio": Decimal("80.10"), "precio_valores_en_fecha": 2, "precio_fecha_version": "2024-05-01"}]
    one, two, three = service_sync_plan(rows, [], [], SETTINGS).changes
    assert (one.price, two.price, three.price) == (Decimal("1234.57"), Decimal("75.00"), Decimal("80.10"))
    assert three.warnings == ("2 prices share the newest fecha_version (2024-05-01): the highest is in force",)


def test_a_one_shot_iterator_of_rows_is_planned_like_a_list():
    plan = service_sync_plan(iter([glyms(1), glyms(2)]), [], [], SETTINGS)
    assert [c.xml_id for c in plan.changes] == ["1", "2"]
