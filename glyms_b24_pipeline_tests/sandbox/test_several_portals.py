"""Two portals on one Dagster instance (`deploy/portals/`): two emulators, two Glyms databases, one
instance in PostgreSQL, a workspace with two code locations, the real daemon."""

import time

import pytest

from glyms_b24_pipeline.sandbox.deployment import LocalDeployment
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline.sandbox.portal import prepare_lab_portal
from glyms_b24_pipeline.sandbox.portals import location_runs, portal_environment, sync_together
from glyms_b24_pipeline.sandbox.postgres import create_database, database_name, drop_database
from glyms_b24_pipeline.settings.model import Settings
from glyms_b24_pipeline.sync.jobs import portal_identity
from glyms_b24_pipeline_tests.defs.companies.conftest import add_customer

pytestmark = pytest.mark.slow

PORTALS = ("portal_a", "portal_b")
#: a small burst: each services run is paced by its portal's 2 requests/s
BURST, DRAIN = 5, 2.0
LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on RepositoryLocation { repositories { assetNodes { assetKey { path } } } } } } } } }"""


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def two_glyms(pg_admin_dsn, glyms_template):
    dsns = [create_database(pg_admin_dsn, template=glyms_template) for _ in PORTALS]
    yield dsns
    for dsn in dsns:
        drop_database(pg_admin_dsn, database_name(dsn))


def test_two_portals_sync_in_parallel_each_through_its_own_location_sensor_and_writer_slot(
        two_glyms, make_emulator, dagster_pg_url, tmp_path):
    emulators = {name: make_emulator(rate_limit_burst=BURST, rate_limit_drain_per_second=DRAIN) for name in PORTALS}
    dsns = dict(zip(PORTALS, two_glyms, strict=True))
    locations = {}
    for n, name in enumerate(PORTALS):
        dsn, emulator = dsns[name], emulators[name]
        prepare_lab_portal(emulator, Settings())
        # the two labs' services never share an id, so a service in the wrong portal would show
        seed_glyms(dsn, services=300, customers=0, seed=41 + n, first_service_id=1 + 100_000 * n)
        locations[name] = portal_environment(tmp_path / "etc", name, dsn, emulator.add_webhook(user_id=1),
                                             burst=BURST, drain_per_second=DRAIN)
    deployment = LocalDeployment(tmp_path / "deployment", {"DAGSTER_PG_URL": dagster_pg_url}, locations=locations)
    with deployment:
        # one UI: both code locations loaded, each with its own asset keys
        entries = deployment.graphql(LOCATIONS)["workspaceOrError"]["locationEntries"]
        assert sorted(e["name"] for e in entries) == list(PORTALS)
        for entry in entries:
            keys = {"/".join(node["assetKey"]["path"])
                    for repo in entry["locationOrLoadError"]["repositories"] for node in repo["assetNodes"]}
            assert f"{entry['name']}/bitrix24/services_push" in keys and all(
                key.startswith(entry["name"] + "/") for key in keys), keys

        # a change in each Glyms reaches its own portal through its own location's sensor
        names = {name: [f"Laboratorio {name} {i}" for i in range(3)] for name in PORTALS}
        for name in PORTALS:
            for i, title in enumerate(names[name]):
                add_customer(dsns[name], codigo=f"{name}-{i}", razon_social=title)
        for name, emulator in emulators.items():
            _wait(lambda e=emulator: len(e.companies()) == 3, 180, f"{name}'s sensor run to create its companies")
            assert sorted(c["TITLE"] for c in emulator.companies()) == names[name]  # nothing of the other lab
        home, shared = deployment.home, deployment.environment()
        _wait(lambda: all(location_runs(home, shared, name, "companies_sync") for name in PORTALS), 60,
              "the companies runs to finish")
        for name in PORTALS:
            [run] = location_runs(home, shared, name, "companies_sync")
            assert run.status == "SUCCESS"

        # two syncs per portal started together: each portal has one writer at a time, the portals run side by side
        results = sync_together(deployment, {name: 2 for name in PORTALS})
        assert all(code in (0, 1) and "en cola del daemon" in out for _, code, out, _ in results), results
        spans = {name: location_runs(home, shared, name, "services_sync") for name in PORTALS}
        for name in PORTALS:
            first, second = spans[name]
            assert (first.status, second.status) == ("SUCCESS", "SUCCESS")
            assert first.end <= second.start, f"two writers of {name} at once: {first} / {second}"
        assert any(a.overlaps(b) for a in spans["portal_a"] for b in spans["portal_b"]), spans

        # each portal holds only its own lab's services, each once
        services = {name: emulator.services(iblock_id=24) for name, emulator in emulators.items()}
        xml_ids = {name: {s["xmlId"] for s in listed} for name, listed in services.items()}
        assert all(xml_ids.values()) and not xml_ids["portal_a"] & xml_ids["portal_b"]
        assert all(len(xml_ids[name]) == len(services[name]) for name in PORTALS)
        # one writer slot per portal: the runs' tags name their portal
        for name, emulator in emulators.items():
            assert {span.slot for span in spans[name]} == {portal_identity(emulator.portal_url)}
        assert len({portal_identity(emulator.portal_url) for emulator in emulators.values()}) == 2
    codes = deployment.stop()
    assert all(code is not None for code in codes.values()), codes
