"""The manual's migration (section 10), followed literally, ends right.

The commands are read from the manual itself, in its order, and run as an operator types them, on a
portal and a change log shaped as the legacy script leaves them: duplicate services and companies,
customers from before the triggers without a company, lost updates (stale titles) in PROCESSED
rows, ERROR and TARGET_MISSING rows, e-mails multiplied, a token file. The end state is judged by
the syncs' own planners: nothing left to write, every log row with a status that tells the truth.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import shlex
import subprocess
from pathlib import Path

import requests

from bitrix24_emulator.testing import TEST_CLIENT_ID, TEST_CLIENT_SECRET
from glyms_b24_pipeline.defs.companies.plan import CustomerChanges, company_sync_plan
from glyms_b24_pipeline.defs.services.plan import service_sync_plan
from glyms_b24_pipeline.settings.model import Settings
from glyms_b24_pipeline_tests.cli.conftest import CLI, clean_env
from glyms_b24_pipeline_tests.cli.test_explain import add_service
from glyms_b24_pipeline_tests.defs.companies.conftest import add_customer, sql

MANUAL = Path(__file__).resolve().parents[2] / "docs" / "es" / "manual_operador.md"
TOKEN_FILE_IN_MANUAL = "/ruta/del/script/bitrix24_tokens.json"


def migration_commands() -> list[str]:
    """The ``$ ...`` lines of section 10's steps (before 10.1), in order."""
    text = MANUAL.read_text(encoding="utf-8")
    section = text[text.index("## 10. Migrar"): text.index("### 10.1")]
    commands = []
    block = None  # the language of the open code block ("" for a shell session), None outside one
    for line in section.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            block = stripped[3:] if block is None else None
            continue
        if block == "" and stripped.startswith("$ "):
            commands.append(stripped[2:].split("  #")[0].strip())
    return commands


def legacy_portal(dsn, emulator, tmp_path) -> dict:
    """What a lab has after the legacy script ran for a while. Returns the customers by role."""
    # services: the catalog of a first run, and copies a 503 made the legacy create again
    for n, (code, name, price) in enumerate([("GLU", "Glucemia", "130.00"), ("URE", "Urea", "90.00"),
                                             ("COL", "Colesterol", "110.00")], start=1):
        add_service(dsn, n, code, name, price)
        original = emulator.seed_service(xmlId=str(n), name=name, code=code, iblockSectionId=48, active="Y")
        emulator.seed_price(original, float(price), price_type_id=2)
        if n <= 2:
            emulator.seed_service(xmlId=str(n), name=name, code=code, iblockSectionId=48, active="Y")

    who = {
        "stale": add_customer(dsn, codigo="C1", razon_social="Laboratorio Andes", mail="andes@lab.com.ar"),
        "multiplied": add_customer(dsn, codigo="C2", razon_social="Bioquímica Norte", mail="norte@lab.com.ar"),
        "error": add_customer(dsn, codigo="C3", razon_social="Clínica Oeste", mail="oeste@lab.com.ar"),
        "target_missing": add_customer(dsn, codigo="C4", razon_social="Veterinaria Sur", mail="sur@lab.com.ar"),
        "before_triggers": add_customer(dsn, codigo="C5", razon_social="Industrias Este", mail="este@lab.com.ar"),
        "deleted": add_customer(dsn, codigo="C6", razon_social="Cerrada S.A.", mail="cerrada@lab.com.ar"),
        "invalid": add_customer(dsn, codigo="C7", razon_social="  ", mail="sin@lab.com.ar"),
        "duplicated": add_customer(dsn, codigo="C8", razon_social="Agua Pura", mail="agua@lab.com.ar"),
        "pending": add_customer(dsn, codigo="C9", razon_social="Lácteos Centro", mail="centro@lab.com.ar"),
    }
    sql(dsn, "DELETE FROM public.cliente WHERE id_cliente = %s", [who["deleted"]])

    def company(role, title, emails=1):
        return emulator.seed_company(TITLE=title, ORIGIN_ID=str(who[role]),
                                     EMAIL=[{"VALUE": f"{title.split()[0].lower()}@viejo.com.ar", "VALUE_TYPE": "WORK"}]
                                     * emails)

    company("stale", "Laboratorio Andes (viejo)")
    company("multiplied", "Bioquímica Norte", emails=4)
    company("error", "Clínica Oeste (viejo)")
    company("duplicated", "Agua Pura")
    company("duplicated", "Agua Pura")
    company("pending", "Lácteos (viejo)")
    # the change log as the legacy leaves it: the triggers' rows replaced by what it made of them
    sql(dsn, "DELETE FROM f_cliente.sync_log_bitrix24")
    rows = [("stale", "UPDATE", "PROCESSED", None), ("multiplied", "INSERT", "PROCESSED", None),
            ("error", "UPDATE", "ERROR", "503 Service Unavailable"),
            ("target_missing", "UPDATE", "TARGET_MISSING", "company not found"),
            ("deleted", "DELETE", "TARGET_MISSING", "company not found"),
            ("invalid", "INSERT", "ERROR", "400 TITLE required"), ("duplicated", "UPDATE", "PROCESSED", None),
            ("pending", "UPDATE", "PENDING", None)]
    for role, operation, status, error in rows:
        sql(dsn, "INSERT INTO f_cliente.sync_log_bitrix24 (id_cliente, operation_type, change_timestamp, sync_status, "
                 "processed_timestamp, error_message) VALUES (%s, %s, now() - interval '30 days', %s, "
                 "CASE WHEN %s <> 'PENDING' THEN now() - interval '30 days' END, %s)",
            [who[role], operation, status, status, error])
    (tmp_path / "bitrix24_tokens.json").write_text(json.dumps(emulator.issue_tokens(TEST_CLIENT_ID)))
    return who


def merge_by_hand(emulator, hook):
    """What the manual asks of a person after `repair companies`: merge each group into the suggested one."""
    by_origin: dict = {}
    for company in emulator.companies():
        by_origin.setdefault(company.get("ORIGIN_ID"), []).append(int(company["ID"]))
    for ids in by_origin.values():
        for copy in sorted(ids)[1:]:
            requests.post(f"{hook}crm.company.delete", json={"id": copy}, timeout=10).raise_for_status()


def test_the_migration_section_followed_literally_leaves_the_portal_right(glyms_dsn, portal, dagster_home, tmp_path):
    who = legacy_portal(glyms_dsn, portal, tmp_path)
    token_file = tmp_path / "bitrix24_tokens.json"
    env = clean_env(GLYMS_PG_DSN=glyms_dsn, DAGSTER_HOME=str(dagster_home), B24_PORTAL_URL=portal.portal_url,
                    B24_CLIENT_ID=TEST_CLIENT_ID, B24_CLIENT_SECRET=TEST_CLIENT_SECRET, B24_OAUTH_URL=portal.oauth_url)
    commands = migration_commands()
    names = [" ".join(c.split()[:2]) for c in commands]
    # the order that works: tokens before anything that reads the portal, reconcile before requeue, the
    # companies sync by hand once
    assert names.index("glyms-b24 auth") < names.index("glyms-b24 check-mappings")
    assert names.index("glyms-b24 reconcile") < names.index("glyms-b24 requeue") < commands.index(
        "glyms-b24 sync --type companies")
    for command in commands:
        argv = shlex.split(command.replace(TOKEN_FILE_IN_MANUAL, str(token_file)))
        if argv[0] == "glyms-b24":
            argv = [*CLI, *argv[1:]]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=240)
        # 1: done with problems (the invalid customer, the companies to merge), never a refusal
        assert done.returncode in (0, 1), f"{command}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        if command.startswith(("glyms-b24 install-sql", "glyms-b24 auth", "glyms-b24 check-mappings",
                               "glyms-b24 repair services")):
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        if command == "glyms-b24 repair companies":
            assert done.returncode == 1 and str(who["duplicated"]) in done.stdout
            merge_by_hand(portal, portal.add_webhook())

    assert not token_file.exists()
    assert sql(glyms_dsn, "SELECT count(*) FROM glyms_b24.oauth_token")[0][0] == 1
    settings = Settings()

    # the companies: one per live customer, as Glyms says; the reconciliation's own planner finds nothing to write
    customers = {row[0]: row for row in sql(glyms_dsn, "SELECT id_cliente FROM public.cliente")}
    columns = ["id_cliente", "codigo", "razon_social", "nombre_fantasia", "direccion", "telefono", "mail",
               "observaciones", "id_tipo_ot", "id_cliente_tipo"]
    rows = [dict(zip(columns, r, strict=True)) for r in sql(glyms_dsn, f"SELECT {', '.join(columns)} FROM public.cliente")]
    companies = portal.companies()
    plan = company_sync_plan([CustomerChanges(str(r["id_cliente"]), r) for r in rows], companies, settings.companies,
                             today=_dt.date.today(), reconcile=True)
    assert not plan.writes, [(c.origin_id, c.action, dict(c.fields)) for c in plan.writes]
    by_origin: dict = {}
    for company in companies:
        by_origin.setdefault(company["ORIGIN_ID"], []).append(company)
    for role, id_cliente in who.items():
        held = by_origin.get(str(id_cliente), [])
        if role in ("deleted", "invalid"):
            assert held == [], role
            continue
        assert len(held) == 1 and id_cliente in customers, role
        assert [e["VALUE"] for e in held[0]["EMAIL"] if e["VALUE_TYPE"] == "WORK"] == [
            next(r["mail"] for r in rows if r["id_cliente"] == id_cliente)], role

    # every log row tells the truth: written, a deleted customer without company, or the invalid one's reason
    statuses = {(row[0], row[1]) for row in sql(glyms_dsn, "SELECT id_cliente, sync_status FROM f_cliente.sync_log_bitrix24")}
    wanted = {(who[r], "PROCESSED") for r in ("stale", "multiplied", "error", "target_missing", "duplicated", "pending")}
    wanted |= {(who["deleted"], "TARGET_MISSING"), (who["invalid"], "ERROR")}
    assert statuses == wanted
    reason = sql(glyms_dsn, "SELECT error_message FROM f_cliente.sync_log_bitrix24 WHERE id_cliente = %s", [who["invalid"]])
    assert re.search(r"razon_social", reason[0][0] or "")

    # the services: one active catalog service per Glyms service, nothing left to write, the copies set aside
    hook = portal.add_webhook()
    services = requests.post(f"{hook}catalog.product.service.list", json={
        "select": ["id", "iblockId", "xmlId", "name", "active", "code", "detailText", "iblockSectionId"],
        "filter": {"iblockId": 24}}, timeout=10).json()["result"]["services"]
    prices = requests.post(f"{hook}catalog.price.list", json={
        "select": ["id", "productId", "catalogGroupId", "price", "currency"], "filter": {"catalogGroupId": 2}},
        timeout=10).json()["result"]["prices"]
    glyms_services = [dict(zip(["id_prestacion", "codigo", "descripcion", "comentario", "activa", "id_tipo_ot"], r,
                               strict=True)) | {"precio": p}
                      for *r, p in sql(glyms_dsn, "SELECT s.id_prestacion, s.codigo, s.descripcion, s.comentario, s.activa, "
                                                  "s.id_tipo_ot, c.valor_unico FROM lims.v_prestacion_max_version s "
                                                  "JOIN public.contrato_presta c ON c.codigo_presta = s.codigo")]
    services_plan = service_sync_plan(glyms_services, services, prices, settings.services)
    assert not services_plan.writes and services_plan.counts()["duplicate"] == 0
    active = [s["xmlId"] for s in services if s["active"] == "Y"]
    assert sorted(active) == ["1", "2", "3"]
    assert sum(1 for s in services if s["xmlId"].startswith("dup-")) == 2
