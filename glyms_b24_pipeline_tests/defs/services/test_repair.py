"""`glyms-b24 repair services` against the emulator: the legacy script's duplicates, set aside once."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import psycopg2
import requests

from bitrix24_emulator import Fault
from glyms_b24_pipeline.bitrix24.auth import WebhookAuth
from glyms_b24_pipeline.bitrix24.client import Bitrix24Client
from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.defs.services.assets import services_assets
from glyms_b24_pipeline.defs.services.repair import CatalogEntry, plan_service_repair, repair_services
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline.settings.model import Settings, parse_settings
from glyms_b24_pipeline.settings.resource import SyncSettings
from glyms_b24_pipeline.sync.lock import PortalLock
from glyms_b24_pipeline.sync.writer import PortalWriter

CLI = [sys.executable, "-m", "glyms_b24_pipeline.cli"]
PRICE_TYPE = 2


def sync(dsn, emulator):
    resources = {"glyms_db": GlymsDatabase(dsn=dsn), "bitrix24": Bitrix24Resource(webhook_url=emulator.add_webhook()),
                 "portal_writer": PortalWriter(dsn=dsn), "sync_settings": SyncSettings()}
    result = dg.materialize(services_assets, resources=resources, instance=dg.DagsterInstance.ephemeral(),
                            raise_on_error=False)
    assert result.success
    return {k: getattr(v, "value", v) for e in result.get_asset_materialization_events()
            for k, v in e.event_specific_data.materialization.metadata.items()
            if e.event_specific_data.materialization.asset_key.path == ["sync", "services_plan"]}


def legacy_duplicates(dsn, emulator):
    """What a lab migrating today has: the catalog of a first run plus copies a 503 made the legacy script
    create again, some priced (the copy's price add went through), some not. Returns {xmlId: [ids]}."""
    seed_glyms(dsn, services=30, customers=0, seed=8, dirty_share=0.0)
    sync(dsn, emulator)
    originals = {s["xmlId"]: s for s in emulator.services()}
    priced = {p["productId"] for p in emulator.prices() if p["catalogGroupId"] == PRICE_TYPE}
    xml_ids = sorted((x for x, s in originals.items() if s["id"] in priced), key=int)[:6]
    groups: dict[str, list[int]] = {x: [originals[x]["id"]] for x in xml_ids}
    for n, xml_id in enumerate(xml_ids):
        original = originals[xml_id]
        for copy in range(1 + n % 2):  # one or two copies each
            copy_id = emulator.seed_service(xmlId=xml_id, name=original["name"], code=original["code"],
                                            iblockSectionId=original["iblockSectionId"], active="Y")
            if copy == 0 and n % 3 != 2:
                emulator.seed_price(copy_id, 990.0, price_type_id=PRICE_TYPE)
            groups[xml_id].append(copy_id)
    # the first group: the original lost its price, so the copy with a price keeps the xmlId
    first = xml_ids[0]
    hook = emulator.add_webhook()
    for price in emulator.prices(product_id=originals[first]["id"]):
        assert "result" in requests.post(hook + "catalog.price.delete", json={"id": price["id"]}, timeout=10).json()
    return groups


def audit_rows(dsn, run_id=None):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id, glyms_key, bitrix_id, operation, outcome, detail FROM glyms_b24.sync_audit "
                    "WHERE run_id LIKE 'repair-%%' ORDER BY audit_id")
        return [r for r in cur.fetchall() if run_id is None or r[0] == run_id]


def test_the_keep_policies():
    members = [CatalogEntry(10, "5", "A", True, None), CatalogEntry(11, "5", "A", True, 100),
               CatalogEntry(12, "5", "A", False, 100), CatalogEntry(20, "6", "B", True, None)]
    keep = {policy: plan_service_repair(members, policy, 2).groups[0].keep.bitrix_id
            for policy in ("priced_lowest_id", "lowest_id", "newest")}
    assert keep == {"priced_lowest_id": 11, "lowest_id": 10, "newest": 12}
    plan = plan_service_repair(members, "priced_lowest_id", 2)
    assert [(c.bitrix_id, c.new_xml_id) for c in plan.changes] == [(10, "dup-5-10"), (12, "dup-5-12")]
    unpriced = plan_service_repair([CatalogEntry(3, "7", "", True, None), CatalogEntry(2, "7", "", True, None)],
                                   "priced_lowest_id", 2)
    assert unpriced.groups[0].keep.bitrix_id == 2 and "none has a price" in unpriced.groups[0].why


def test_repair_keeps_one_service_per_xml_id_and_the_next_sync_writes_nothing_for_the_others(glyms_dsn, emulator):
    groups = legacy_duplicates(glyms_dsn, emulator)
    before = sync(glyms_dsn, emulator)
    assert before["duplicate"] == len(groups)  # the sync reports them and never writes them
    priced = {p["productId"] for p in emulator.prices() if p["catalogGroupId"] == PRICE_TYPE}
    expected_keep = {x: min((i for i in ids if i in priced), default=min(ids)) for x, ids in groups.items()}
    first = sorted(groups, key=int)[0]
    assert expected_keep[first] != min(groups[first])  # the priced copy, not the lowest id

    with Bitrix24Client(WebhookAuth(emulator.add_webhook())) as client:
        catalog = emulator.services()
        dry = repair_services(client, glyms_dsn, Settings(), dry_run=True)
        assert emulator.services() == catalog and audit_rows(glyms_dsn) == []  # a dry run changes nothing
        assert {g.xml_id: g.keep.bitrix_id for g in dry.plan.groups} == expected_keep

        done = repair_services(client, glyms_dsn, Settings())
    assert done.exit_code == 0 and len(done.outcomes) == sum(len(ids) - 1 for ids in groups.values())
    services = {s["id"]: s for s in emulator.services()}
    for xml_id, ids in groups.items():
        keep = expected_keep[xml_id]
        assert (services[keep]["xmlId"], services[keep]["active"]) == (xml_id, "Y")
        for other in set(ids) - {keep}:
            assert (services[other]["xmlId"], services[other]["active"]) == (f"dup-{xml_id}-{other}", "N")
    holders = {}
    for s in services.values():
        holders.setdefault(s["xmlId"], []).append(s["id"])
    assert all(len(ids) == 1 for ids in holders.values())
    rows = audit_rows(glyms_dsn, done.run_id)
    assert len(rows) == len(done.outcomes) and {r[3:5] for r in rows} == {("set_aside_duplicate", "success")}
    assert {(r[1], int(r[2]), r[5]["kept"]) for r in rows} == {
        (x, i, expected_keep[x]) for x, ids in groups.items() for i in ids if i != expected_keep[x]}

    after = sync(glyms_dsn, emulator)  # the survivors get what Glyms says; nothing is created
    assert (after["duplicate"], after["create"]) == (0, 0)
    assert {s["id"]: (s["xmlId"], s["active"]) for s in emulator.services() if s["xmlId"].startswith("dup-")} == {
        i: (f"dup-{x}-{i}", "N") for x, ids in groups.items() for i in ids if i != expected_keep[x]}
    assert sync(glyms_dsn, emulator)["writes"] == 0
    with Bitrix24Client(WebhookAuth(emulator.add_webhook())) as client:
        assert repair_services(client, glyms_dsn, Settings()).plan.groups == ()  # nothing left to repair


def test_keep_newest_from_the_settings(glyms_dsn, emulator):
    groups = legacy_duplicates(glyms_dsn, emulator)
    settings = parse_settings({"repair": {"services_keep": "newest"}}, "test")
    with Bitrix24Client(WebhookAuth(emulator.add_webhook())) as client:
        repair_services(client, glyms_dsn, settings)
    services = {s["id"]: s for s in emulator.services()}
    assert all(services[max(ids)]["xmlId"] == x and services[max(ids)]["active"] == "Y" for x, ids in groups.items())


def _cli(*args, env, timeout=120):
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_cli_exit_0_done_and_1_when_a_write_failed(glyms_dsn, emulator, cli_env):
    groups = legacy_duplicates(glyms_dsn, emulator)
    dry = _cli("repair", "services", "--dry-run", env=cli_env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("simulación (--dry-run), no se escribió nada:") and audit_rows(glyms_dsn) == []
    emulator.add_fault(Fault(kind="command_error", method="catalog.product.service.update", nth=1, count=1))
    partial = _cli("repair", "services", env=cli_env)
    assert partial.returncode == 1, partial.stdout + partial.stderr
    assert "HECHO CON PROBLEMAS" in partial.stdout and "falló: xmlId" in partial.stdout and "(falló)" in partial.stdout
    assert [r[4] for r in audit_rows(glyms_dsn)].count("failed") == 1
    done = _cli("repair", "services", env=cli_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("reparación repair-") and "1 servicios desactivados y apartados" in done.stdout
    assert sum(len(ids) - 1 for ids in groups.values()) == len(
        [s for s in emulator.services() if s["xmlId"].startswith("dup-")])


def test_cli_exit_2_on_configuration_and_3_while_another_writer_holds_the_portal(glyms_dsn, emulator, cli_env,
                                                                                 tmp_path):
    legacy = tmp_path / "bad.yaml"
    legacy.write_text("repair:\n  services_keep: cheapest\n", encoding="utf-8")
    bad = _cli("--config", str(legacy), "repair", "services", env=cli_env)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and len(bad.stderr.splitlines()) == 1
    assert "repair.services_keep" in bad.stderr
    no_db = _cli("repair", "services", env={k: v for k, v in cli_env.items() if k != "GLYMS_PG_DSN"})
    assert no_db.returncode == 2 and "GLYMS_PG_DSN" in no_db.stderr

    quick = tmp_path / "quick.yaml"
    quick.write_text("writer:\n  lock_wait_seconds: 0\n", encoding="utf-8")
    with PortalLock(glyms_dsn, emulator.portal_url, "run-of-a-sync"):
        busy = _cli("--config", str(quick), "repair", "services", env=cli_env)
    assert busy.returncode == 3, busy.stdout + busy.stderr
    assert "otra sincronización está escribiendo" in busy.stderr and "run-of-a-sync" in busy.stderr
    assert audit_rows(glyms_dsn) == []


def test_a_lost_answer_is_settled_by_reading_the_services_back(glyms_dsn, emulator):
    groups = legacy_duplicates(glyms_dsn, emulator)
    lost = Fault(kind="lost_response", method="catalog.product.service.update", nth=1)
    emulator.add_fault(lost)
    with Bitrix24Client(WebhookAuth(emulator.add_webhook())) as client:
        done = repair_services(client, glyms_dsn, Settings())
    assert lost.fired == 1
    assert done.exit_code == 0 and done.failed == []  # applied by the portal, proven by the read-back
    assert {r[4] for r in audit_rows(glyms_dsn, done.run_id)} == {"success"}
    aside = [s for s in emulator.services() if s["xmlId"].startswith("dup-")]
    assert len(aside) == sum(len(ids) - 1 for ids in groups.values()) and {s["active"] for s in aside} == {"N"}
