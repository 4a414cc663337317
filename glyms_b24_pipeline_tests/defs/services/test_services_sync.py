"""Services sync end to end: real PostgreSQL, the emulator over HTTP, Dagster materialisations."""

from datetime import datetime
from decimal import Decimal

import dagster as dg
import psycopg2
import pytest

from bitrix24_emulator import Fault
from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.defs.services.assets import ServicesPushConfig, services_assets
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.sandbox.glyms_seed import (
    add_price_version,
    add_service_version,
    delete_services,
    insert_services,
    seed_glyms,
)
from glyms_b24_pipeline.settings.resource import SyncSettings
from glyms_b24_pipeline.sync.writer import PortalWriter


@pytest.fixture
def seeded(glyms_dsn):
    summary = seed_glyms(glyms_dsn, services=120, customers=0, seed=11)
    return glyms_dsn, summary


@pytest.fixture
def resources(seeded, emulator, tmp_path):
    dsn, _ = seeded
    return {
        "glyms_db": GlymsDatabase(dsn=dsn),
        "bitrix24": Bitrix24Resource(webhook_url=emulator.add_webhook(user_id=1)),
        "portal_writer": PortalWriter(dsn=dsn),
        "sync_settings": SyncSettings(),
    }


def sync(resources, **push_config):
    result = dg.materialize(
        services_assets,
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
        run_config=dg.RunConfig(ops={"bitrix24__services_push": ServicesPushConfig(**push_config)}),
        raise_on_error=False,
    )
    return result


def materialization(result, *path):
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if mat.asset_key.path == list(path):
            return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    return None


def active_glyms(dsn):
    return GlymsDatabase(dsn=dsn).rows("active_services", {"tipo_ot_ids": [1, 2, 3], "contract_ids": [14, 259, 371]})


def catalog_state(emulator):
    services = {s["xmlId"]: s for s in emulator.services(iblock_id=24)}
    prices = {p["productId"]: p for p in emulator.prices() if p["catalogGroupId"] == 2}
    return services, prices


def test_initial_load_then_nothing_to_do(seeded, resources, emulator):
    dsn, _ = seeded
    result = sync(resources)
    assert result.success
    glyms = active_glyms(dsn)
    valid = [r for r in glyms if (r["descripcion"] or "").strip() and len(r["descripcion"].strip()) <= 255]
    services, prices = catalog_state(emulator)
    assert set(services) == {str(r["id_prestacion"]) for r in valid}
    for row in valid:
        service = services[str(row["id_prestacion"])]
        assert service["name"] == row["descripcion"].strip()
        assert service["active"] == "Y"
        expected_section = {1: 48, 2: 46, 3: 44}.get(row["id_tipo_ot"])
        assert service["iblockSectionId"] == expected_section
        if row["precio"] is None:
            assert service["id"] not in prices
        else:
            assert Decimal(str(prices[service["id"]]["price"])) == row["precio"]
            assert prices[service["id"]]["currency"] == "ARS"
    push = materialization(result, "bitrix24", "services_push")
    assert push["failed"] == 0 and push["succeeded"] == len(valid)

    state_before = catalog_state(emulator)
    emulator.reset_observability()
    second = sync(resources)
    assert second.success
    plan = materialization(second, "sync", "services_plan")
    assert plan["writes"] == 0 and plan["unchanged"] == len(valid)
    assert materialization(second, "bitrix24", "services_push")["succeeded"] == 0
    assert catalog_state(emulator) == state_before
    # a no-op run costs two fast listings (services, prices): at most 2*ceil(N/2500)+3 requests
    assert len(emulator.request_log) <= 5


def test_glyms_edits_become_exactly_those_updates(seeded, resources, emulator):
    dsn, _ = seeded
    assert sync(resources).success
    rows = [r for r in active_glyms(dsn) if r["precio"] is not None and (r["descripcion"] or "").strip()]
    renamed, repriced, retired = rows[0], rows[1], rows[2]
    add_service_version(dsn, renamed["id_prestacion"], descripcion="Glucemia post-prandial")
    add_price_version(dsn, repriced["codigo"], repriced["id_contrato"], Decimal("4321.50"), datetime(2030, 1, 1))
    add_service_version(dsn, retired["id_prestacion"], activa=0)

    result = sync(resources)
    plan = materialization(result, "sync", "services_plan")
    assert (plan["update"], plan["deactivate"], plan["create"], plan["writes"]) == (2, 1, 0, 3)
    assert plan["field_updates"] == 1 and plan["price_changes"] == 1
    services, prices = catalog_state(emulator)
    assert services[str(renamed["id_prestacion"])]["name"] == "Glucemia post-prandial"
    assert prices[services[str(repriced["id_prestacion"])]["id"]]["price"] == 4321.5
    assert services[str(retired["id_prestacion"])]["active"] == "N"

    add_service_version(dsn, retired["id_prestacion"], activa=1)
    again = materialization(sync(resources), "sync", "services_plan")
    assert (again["reactivate"], again["writes"]) == (1, 1)
    assert catalog_state(emulator)[0][str(retired["id_prestacion"])]["active"] == "Y"


def _audit(dsn):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id, entity, glyms_key, bitrix_id, operation, outcome, error FROM glyms_b24.sync_audit ORDER BY audit_id")
        return cur.fetchall()


def test_a_failing_command_fails_its_row_only_and_the_next_run_repairs_it(seeded, resources, emulator):
    dsn, _ = seeded
    emulator.add_fault(Fault(kind="command_error", method="catalog.price.add", nth=3, count=1))
    first = sync(resources)
    assert first.success
    push = materialization(first, "bitrix24", "services_push")
    assert push["failed"] == 1 and push["succeeded"] > 50
    checks = {e.check_name: e for e in first.get_asset_check_evaluations()}
    assert not checks["push_failures"].passed
    assert checks["push_failures"].severity == dg.AssetCheckSeverity.WARN
    failed = [row for row in _audit(dsn) if row[5] == "failed"]
    assert len(failed) == 1 and failed[0][4] == "price_add" and failed[0][6]
    assert failed[0][0] == first.run_id

    repair = sync(resources)
    plan = materialization(repair, "sync", "services_plan")
    assert plan["price_changes"] == 1 and plan["writes"] == 1
    assert materialization(repair, "bitrix24", "services_push")["failed"] == 0
    assert materialization(sync(resources), "sync", "services_plan")["writes"] == 0


def test_empty_glyms_answer_trips_the_mass_deactivation_guard(seeded, resources, emulator):
    dsn, _ = seeded
    assert sync(resources).success
    before = catalog_state(emulator)[0]
    delete_services(dsn)
    emulator.reset_observability()
    blocked = sync(resources)
    assert not blocked.success
    failure = [e for e in blocked.all_events if e.is_step_failure][0]
    assert "Glyms returned no active services" in failure.event_specific_data.user_failure_data.description
    assert catalog_state(emulator)[0] == before

    allowed = sync(resources, allow_mass_deactivation=True)
    assert allowed.success
    assert {s["active"] for s in catalog_state(emulator)[0].values()} == {"N"}


def test_dry_run_plans_and_writes_nothing(seeded, resources, emulator):
    result = sync(resources, dry_run=True)
    assert result.success
    push = materialization(result, "bitrix24", "services_push")
    assert push["dry_run"] is True and push["planned_writes"] > 50
    assert emulator.services(iblock_id=24) == []


def test_lost_answer_of_a_create_batch_is_settled_by_reading_back(seeded, resources, emulator):
    dsn, _ = seeded
    emulator.add_fault(Fault(kind="lost_response", method="catalog.product.service.add", nth=1))
    result = sync(resources)
    assert result.success
    push = materialization(result, "bitrix24", "services_push")
    assert push["failed"] == 0  # the writes were applied; the read-back proved it
    services = emulator.services(iblock_id=24)
    assert len(services) == len({s["xmlId"] for s in services})  # nothing created twice
    assert [row for row in _audit(dsn) if row[5] == "failed"] == []
    assert materialization(sync(resources), "sync", "services_plan")["writes"] == 0


def test_server_error_on_a_create_batch_fails_those_rows_and_the_next_run_creates_them(seeded, resources, emulator):
    dsn, _ = seeded
    emulator.add_fault(Fault(kind="http_500", method="catalog.product.service.add", nth=1))
    result = sync(resources)
    assert result.success
    push = materialization(result, "bitrix24", "services_push")
    assert push["failed"] > 0 and push["succeeded"] > 0
    failed = [row for row in _audit(dsn) if row[5] == "failed"]
    assert failed and all("the next run retries" in row[6] for row in failed)
    created_first = len(emulator.services(iblock_id=24))
    repair = sync(resources)
    assert materialization(repair, "bitrix24", "services_push")["failed"] == 0
    assert len(emulator.services(iblock_id=24)) == created_first + push["failed"]
    assert materialization(sync(resources), "sync", "services_plan")["writes"] == 0


def test_checks_flag_unmapped_types_and_missing_prices_as_warnings(glyms_dsn, emulator):
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        insert_services(cur, [(1, 1, "C1", "Glucemia", None, 1, 1, "2024-01-01"),
                              (2, 1, "X2", "Ensayo sin tipo", None, 1, 9, "2024-01-01")])
        cur.execute("INSERT INTO public.contrato_presta (id_contrato, codigo_presta, valor_unico, fecha_version) "
                    "VALUES (14, 'C1', 100, '2024-01-01')")
    resources = {"glyms_db": GlymsDatabase(dsn=glyms_dsn),
                 "bitrix24": Bitrix24Resource(webhook_url=emulator.add_webhook(user_id=1)),
                 "portal_writer": PortalWriter(dsn=glyms_dsn), "sync_settings": SyncSettings()}
    result = sync(resources)
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    coverage, prices = checks["mapping_coverage"], checks["price_validity"]
    assert (coverage.passed, coverage.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert coverage.metadata["types_without_section"].value == "9"
    # the services it is about, by id, as a table the UI shows
    assert [r.data for r in coverage.metadata["services_affected_rows"].value.records] == [
        {"id_prestacion": 2, "id_tipo_ot": 9, "missing": "section and contract"}]
    assert (prices.passed, prices.metadata["without_price"].value) == (False, 1)
    assert [r.data["id_prestacion"] for r in prices.metadata["unpriced_rows"].value.records] == [2]
    assert checks["push_failures"].passed
    # the unmapped service is still created, without a section, and without a price
    created = {s["xmlId"]: s for s in emulator.services(iblock_id=24)}
    assert created["2"]["iblockSectionId"] is None
    assert [p["productId"] for p in emulator.prices()] == [created["1"]["id"]]


def test_oauth_token_expiring_mid_push_is_refreshed_and_the_sync_completes(seeded, emulator):
    from glyms_b24_pipeline.bitrix24.auth import TokenSet, TokenStore

    dsn, _ = seeded
    store = TokenStore(dsn, emulator.portal_url, "local.test.app")
    store.save(TokenSet.from_response(emulator.issue_tokens("local.test.app")))
    resources = {
        "glyms_db": GlymsDatabase(dsn=dsn),
        "bitrix24": Bitrix24Resource(portal_url=emulator.portal_url, client_id="local.test.app",
                                     client_secret="test-secret", oauth_url=emulator.oauth_url, token_store_dsn=dsn),
        "portal_writer": PortalWriter(dsn=dsn),
        "sync_settings": SyncSettings(),
    }
    emulator.add_fault(Fault(kind="expired_token", method="catalog.product.service.add", nth=2))
    result = sync(resources)
    assert result.success
    push = materialization(result, "bitrix24", "services_push")
    assert push["failed"] == 0 and push["b24_refreshes"] == 1
    assert store.load().generation == 2
    assert materialization(sync(resources), "sync", "services_plan")["writes"] == 0


def test_writes_are_audited_as_sent_before_they_leave_and_settled_after(seeded, resources, emulator):
    import threading
    import time

    dsn, _ = seeded
    emulator.add_fault(Fault(kind="slow", method="catalog.product.service.add", nth=1, delay_seconds=3))
    seen_in_flight = []
    done = threading.Event()

    def watch_audit():  # reads the audit table while the portal is still on the first batch
        while not done.is_set() and not seen_in_flight:
            seen_in_flight.extend(row for row in _audit(dsn) if row[5] == "sent")
            time.sleep(0.1)

    watcher = threading.Thread(target=watch_audit)
    watcher.start()
    try:
        result = sync(resources)  # Dagster stays on the main thread
    finally:
        done.set()
        watcher.join(timeout=30)
    assert seen_in_flight and {row[4] for row in seen_in_flight} >= {"create"}
    assert result.success
    rows = _audit(dsn)
    assert rows and not [row for row in rows if row[5] == "sent"]
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM glyms_b24.sync_audit WHERE outcome = 'success' AND settled_at IS NULL")
        assert cur.fetchone()[0] == 0


def test_a_work_order_type_excluded_on_purpose_is_counted_audited_once_and_no_problem(glyms_dsn, emulator, tmp_path):
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        insert_services(cur, [(1, 1, "C1", "Glucemia", None, 1, 1, "2024-01-01"),
                              (2, 1, "X2", "Ensayo interno", None, 1, 4, "2024-01-01")])
        cur.execute("INSERT INTO public.contrato_presta (id_contrato, codigo_presta, valor_unico, fecha_version) "
                    "VALUES (14, 'C1', 100, '2024-01-01')")
    config = tmp_path / "glyms_b24.yaml"
    config.write_text("services:\n  excluded_tipo_ot: [4]\n")
    resources = {"glyms_db": GlymsDatabase(dsn=glyms_dsn),
                 "bitrix24": Bitrix24Resource(webhook_url=emulator.add_webhook(user_id=1)),
                 "portal_writer": PortalWriter(dsn=glyms_dsn), "sync_settings": SyncSettings(config_file=str(config))}
    for _ in range(2):
        result = sync(resources)
        assert result.success
        assert all(e.passed for e in result.get_asset_check_evaluations())  # nothing to warn about
        plan, push = materialization(result, "sync", "services_plan"), materialization(result, "bitrix24", "services_push")
        assert (plan["excluded"], plan["invalid"]) == (1, 0)
        assert (push["excluded"], push["not_synced"]) == (1, 0)
        assert [r.data["glyms_key"] for r in push["excluded_rows"].records] == ["2"]
    assert [s["xmlId"] for s in emulator.services(iblock_id=24)] == ["1"]
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT glyms_key, operation, outcome FROM glyms_b24.sync_audit WHERE outcome = 'skipped'")
        assert cur.fetchall() == [("2", "excluded", "skipped")]  # audited once, not every run
