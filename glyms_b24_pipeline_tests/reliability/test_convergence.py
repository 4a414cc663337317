"""Convergence: after any mix of Glyms changes, portal faults and sync runs, one clean run of each sync
leaves Bitrix24 exactly as Glyms and the configuration say, with every log row truthfully marked
and nothing duplicated. Hypothesis draws the mix; every example runs against a real PostgreSQL and
the emulator over HTTP, with real Dagster runs."""

import contextlib
import datetime as dt
import tempfile
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

import dagster as dg
import psycopg2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from bitrix24_emulator import Bitrix24Emulator, EmulatorSettings, Fault
from glyms_b24_pipeline.bitrix24.auth import TokenSet, TokenStore
from glyms_b24_pipeline.bitrix24.resource import Bitrix24Resource
from glyms_b24_pipeline.defs.companies.assets import consumer_assets, reconcile_assets
from glyms_b24_pipeline.defs.companies.changelog import ChangeLog
from glyms_b24_pipeline.defs.companies.mapping import DELETION_NOTE_PREFIX, desired_company
from glyms_b24_pipeline.defs.services.assets import contract_parameters, services_assets
from glyms_b24_pipeline.defs.services.plan import desired_service, normalise_price
from glyms_b24_pipeline.glyms.resource import GlymsDatabase
from glyms_b24_pipeline.sandbox.glyms_seed import add_service_version, seed_glyms
from glyms_b24_pipeline.sandbox.portal import prepare_lab_portal
from glyms_b24_pipeline.sandbox.postgres import create_database, database_name, drop_database
from glyms_b24_pipeline.settings.limits import ClientLimits
from glyms_b24_pipeline.settings.model import Settings, load_settings
from glyms_b24_pipeline.settings.resource import SyncSettings
from glyms_b24_pipeline.sync.writer import PortalWriter

CLIENT_ID, CLIENT_SECRET = "local.convergence.app", "convergence-secret"
SETTINGS_YAML = """\
companies:
  retry_backoff_seconds: 0
  max_attempts: 3
writer:
  lock_wait_seconds: 5
  in_flight_grace_seconds: 0
"""
# Failing examples are kept beside the tests (committed), so a regression is replayed first.
EXAMPLES = DirectoryBasedExampleDatabase(str(Path(__file__).with_name("hypothesis-examples")))


# --- what can happen ------------------------------------------------------------------------------

TEXTS = st.sampled_from(["Laboratorio Sur", "  Clínica Norte  ", "", "Análisis $result[c1]", "Veterinaria 'Oeste'",
                         "Frigorífico \u202eEste", "Lab 🧪 Centro", "Bloqueado por deuda"])
MAILS = st.sampled_from([None, "info@lab.com.ar", "ventas@@lab.com", "Compras@Lab.com.AR", "a@b.com; c@d.com", ""])
PHONES = st.sampled_from([None, "0341 456-7890", "+54 9 11 4567-8901", "int. 23", "4567890"])
FAULTS = st.sampled_from([None, "storm_503", "operating_429", "http_500", "http_502", "http_504", "html_error",
                          "timeout", "connection_reset", "lost_response", "expired_token", "command_error"])


@dataclass(frozen=True)
class InsertCustomer:
    title: str
    mail: Optional[str]
    phone: Optional[str]


@dataclass(frozen=True)
class UpdateCustomer:
    which: int
    field: str
    value: Optional[str]


@dataclass(frozen=True)
class DeleteCustomer:
    which: int


@dataclass(frozen=True)
class EditService:
    which: int
    kind: str  # name | price | activa | type
    value: int


@dataclass(frozen=True)
class RunSync:
    sync: str  # services | companies | reconcile
    fault: Optional[str]
    probability: float


ACTIONS = st.one_of(
    st.builds(InsertCustomer, TEXTS, MAILS, PHONES),
    st.builds(UpdateCustomer, st.integers(0, 50), st.sampled_from(["razon_social", "direccion", "mail", "telefono",
                                                                    "observaciones"]), st.one_of(TEXTS, MAILS)),
    st.builds(DeleteCustomer, st.integers(0, 50)),
    st.builds(EditService, st.integers(0, 50), st.sampled_from(["name", "price", "activa", "type"]), st.integers(0, 9)),
    st.builds(RunSync, st.sampled_from(["services", "companies", "reconcile"]), FAULTS,
              st.sampled_from([0.3, 0.6, 1.0])),
)


#: the world's client: quick back-off; its operating waits capped at 2 s, the world's operating window
#: being 1 s (inject), where a 429 that names no reset time would otherwise wait the real portal's 60 s
WORLD_LIMITS = ClientLimits.permissive(read_timeout_seconds=1.0, max_retries=3, operating_wait_max_seconds=2.0)


# --- one world per example ------------------------------------------------------------------------


@dataclass
class World:
    dsn: str
    emulator: Bitrix24Emulator
    config: Path

    def sql(self, statement: str, params: Any = None) -> list[tuple]:
        with psycopg2.connect(self.dsn) as conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def resources(self) -> dict[str, Any]:
        return {
            "glyms_db": GlymsDatabase(dsn=self.dsn),
            "bitrix24": Bitrix24Resource(portal_url=self.emulator.portal_url, client_id=CLIENT_ID,
                                         client_secret=CLIENT_SECRET, oauth_url=self.emulator.oauth_url,
                                         token_store_dsn=self.dsn,
                                         limits=WORLD_LIMITS),
            "portal_writer": PortalWriter(dsn=self.dsn),
            "change_log": ChangeLog(dsn=self.dsn),
            "sync_settings": SyncSettings(config_file=str(self.config)),
        }

    def run(self, sync: str, consent: bool = False) -> bool:
        """One run of ``sync``; ``consent``: the operator lets a reconciliation note many deletions."""
        assets = {"services": services_assets, "companies": consumer_assets, "reconcile": reconcile_assets}[sync]
        run_config = {}
        if consent and sync == "reconcile":
            run_config = {"ops": {"bitrix24__companies_reconcile_push": {"config": {"allow_mass_deletion": True}}}}
        result = dg.materialize(assets, resources=self.resources(), instance=dg.DagsterInstance.ephemeral(),
                                run_config=run_config, raise_on_error=False)
        return result.success


@contextlib.contextmanager
def world(pg_admin_dsn: str, template: str, seed: int):
    dsn = create_database(pg_admin_dsn, template=template)
    emulator = Bitrix24Emulator(EmulatorSettings(rate_limit_burst=100_000, rate_limit_drain_per_second=100_000.0,
                                                 random_seed=seed, timeout_delay_seconds=1.5)).start()
    folder = Path(tempfile.mkdtemp(prefix="convergence-"))
    config = folder / "glyms_b24.yaml"
    config.write_text(SETTINGS_YAML)
    try:
        emulator.register_app(CLIENT_ID, CLIENT_SECRET)
        prepare_lab_portal(emulator, Settings())
        TokenStore(dsn, emulator.portal_url, CLIENT_ID).save(TokenSet.from_response(emulator.issue_tokens(CLIENT_ID)))
        seed_glyms(dsn, services=12, customers=6, seed=seed, dirty_share=0.2)
        yield World(dsn, emulator, config)
    finally:
        emulator.stop()
        drop_database(pg_admin_dsn, database_name(dsn))


def inject(world: World, fault: Optional[str], probability: float) -> None:
    emulator = world.emulator
    if fault is None:
        return
    if fault == "storm_503":  # the portal's bucket is tiny while we send as fast as we can
        emulator.set_limits(burst=4, drain_per_second=40.0)
    elif fault == "operating_429":
        emulator.set_limits(operating_budget_seconds=0.5, operating_window_seconds=1.0,
                            operating_cost_seconds={"crm.company.add": 0.3, "catalog.product.service.add": 0.3})
    elif fault == "expired_token":
        emulator.expire_access_tokens()
    else:
        emulator.add_fault(Fault(kind=fault, probability=probability, count=3, delay_seconds=1.5))


def clear(world: World) -> None:
    emulator = world.emulator
    emulator.clear_faults()
    emulator.set_limits(burst=100_000, drain_per_second=100_000.0, operating_budget_seconds=480.0,
                        operating_window_seconds=600.0, operating_cost_seconds=0.0)
    emulator.reset_limits()


def apply(world: World, action: Any, day: dt.datetime) -> None:
    customers = [row[0] for row in world.sql("SELECT id_cliente FROM public.cliente ORDER BY id_cliente")]
    services = world.sql("SELECT id_prestacion, codigo, id_tipo_ot FROM lims.v_prestacion_max_version "
                         "ORDER BY id_prestacion")
    if isinstance(action, InsertCustomer):
        world.sql("INSERT INTO public.cliente (codigo, razon_social, mail, telefono, id_tipo_ot, id_cliente_tipo) "
                  "VALUES ('H' || floor(random() * 1e6)::text, %s, %s, %s, 1, 7)",
                  (action.title, action.mail, action.phone))
    elif isinstance(action, UpdateCustomer) and customers:
        world.sql(f"UPDATE public.cliente SET {action.field} = %s WHERE id_cliente = %s",  # field: from a fixed list
                  (action.value, customers[action.which % len(customers)]))
    elif isinstance(action, DeleteCustomer) and customers:
        world.sql("DELETE FROM public.cliente WHERE id_cliente = %s", (customers[action.which % len(customers)],))
    elif isinstance(action, EditService) and services:
        service_id, codigo, tipo = services[action.which % len(services)]
        if action.kind == "price":
            contract = {1: 14, 2: 259, 3: 371}.get(tipo)
            if contract:
                world.sql("INSERT INTO public.contrato_presta (id_contrato, codigo_presta, valor_unico, fecha_version) "
                          "VALUES (%s, %s, %s, %s)", (contract, codigo, Decimal(100 + 37 * action.value), day))
        else:
            name = {"name": f"Servicio revisado {action.value}" if action.value else "  "}.get(action.kind)
            activa = (action.value % 2) if action.kind == "activa" else None
            new_type = (1 + action.value % 3) if action.kind == "type" else None
            add_service_version(world.dsn, service_id, descripcion=name, activa=activa, id_tipo_ot=new_type)
    elif isinstance(action, RunSync):
        inject(world, action.fault, action.probability)
        try:
            world.run(action.sync)
        finally:
            clear(world)


# --- what must hold after one clean run ----------------------------------------------------------


def assert_converged(world: World) -> None:
    settings_ = load_settings(world.config)
    # services: every valid active Glyms service once, as Glyms says; the rest inactive
    catalog = world.emulator.services(iblock_id=settings_.services.iblock_id)
    by_xml = Counter(s["xmlId"] for s in catalog)
    assert all(n == 1 for n in by_xml.values()), f"duplicate xmlIds: {[k for k, n in by_xml.items() if n > 1]}"
    services = {s["xmlId"]: s for s in catalog}
    prices = {p["productId"]: p for p in world.emulator.prices() if p["catalogGroupId"] == settings_.services.price_type_id}
    active = GlymsDatabase(dsn=world.dsn).rows("active_services", contract_parameters(settings_.services))
    wanted = {}
    for row in active:
        service, _, _ = desired_service(row, settings_.services)
        if service is not None:
            wanted[service.xml_id] = service
    for xml_id, service in wanted.items():
        have = services.get(xml_id)
        assert have is not None and have["active"] == "Y" and (have["name"] or "") == service.name, (xml_id, have)
        if service.price is not None:
            price = prices.get(have["id"])
            assert price is not None and normalise_price(price["price"], 2) == service.price, (xml_id, price)
    active_ids = {str(row["id_prestacion"]) for row in active}
    for xml_id, have in services.items():
        if xml_id not in active_ids:
            assert have["active"] == "N", (xml_id, "should be deactivated")

    # companies: every valid customer once, as Glyms says; deleted ones noted once
    companies = world.emulator.companies()
    by_origin = Counter(c.get("ORIGIN_ID") for c in companies)
    assert all(n == 1 for n in by_origin.values()), f"duplicate ORIGIN_IDs: {[k for k, n in by_origin.items() if n > 1]}"
    company_of = {c.get("ORIGIN_ID"): c for c in companies}
    customers = GlymsDatabase(dsn=world.dsn).rows("all_customers")
    present = set()
    for customer in customers:
        want, _, _ = desired_company(customer, settings_.companies)
        if want is None:
            continue
        present.add(want.origin_id)
        have = company_of.get(want.origin_id)
        assert have is not None, f"customer {want.origin_id} has no company"
        for key, value in want.fields.items():
            assert (have.get(key) or "") == value, (want.origin_id, key, have.get(key), value)
        if want.email:
            assert [e["VALUE"] for e in have.get("EMAIL", []) if e["VALUE_TYPE"] == "WORK"] == [want.email]
        if want.phone:
            assert [e["VALUE"] for e in have.get("PHONE", []) if e["VALUE_TYPE"] == "WORK"] == [want.phone]
    existing = {str(c["id_cliente"]) for c in customers}
    for origin, company in company_of.items():
        if origin not in existing:
            assert (company.get("COMMENTS") or "").count(DELETION_NOTE_PREFIX) == 1, (origin, "deletion noted once")

    # every log row in a terminal status that tells the truth; every audit row settled
    rows = world.sql("SELECT log_id, sync_status, error_message FROM f_cliente.sync_log_bitrix24")
    assert {status for _, status, _ in rows} <= {"PROCESSED", "TARGET_MISSING", "ERROR"}, rows
    assert all(error for _, status, error in rows if status in ("ERROR", "TARGET_MISSING")), rows
    assert world.sql("SELECT count(*) FROM glyms_b24.sync_audit WHERE outcome = 'sent'")[0][0] == 0


def converges(pg_admin_dsn: str, template: str, seed: int, actions: list) -> None:
    with world(pg_admin_dsn, template, seed) as w:
        day = dt.datetime(2031, 1, 1)
        for n, action in enumerate(actions):
            apply(w, action, day + dt.timedelta(days=n))
        clear(w)
        # the faults have stopped: one clean run of each (a small world may lose most of its customers:
        # the operator consents to the deletions the reconciliation's guard would stop)
        for sync in ("services", "companies", "reconcile"):
            assert w.run(sync, consent=True), f"the clean {sync} run failed"
        assert_converged(w)


COMMON = dict(deadline=None, database=EXAMPLES, derandomize=False,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])


@settings(max_examples=3, **COMMON)
@given(seed=st.integers(0, 10_000), actions=st.lists(ACTIONS, min_size=4, max_size=10))
@example(seed=1, actions=[RunSync("companies", "lost_response", 1.0), InsertCustomer("Análisis $result[c1]", None, None),
                          RunSync("services", "http_502", 0.6), DeleteCustomer(0), RunSync("companies", None, 1.0)])
def test_any_mix_of_changes_faults_and_runs_converges(pg_admin_dsn, glyms_template, seed, actions):
    converges(pg_admin_dsn, glyms_template, seed, actions)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@settings(max_examples=30, **COMMON)
@given(seed=st.integers(0, 10_000), actions=st.lists(ACTIONS, min_size=6, max_size=25))
def test_any_mix_of_changes_faults_and_runs_converges_at_length(pg_admin_dsn, glyms_template, seed, actions):
    converges(pg_admin_dsn, glyms_template, seed, actions)
