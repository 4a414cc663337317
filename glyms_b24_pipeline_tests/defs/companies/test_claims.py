"""Claim, never lose: overlapping claims, leases, two syncs at once, and a run killed with SIGKILL."""

import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from bitrix24_emulator import Fault
from glyms_b24_pipeline.defs.companies.changelog import ChangeLog
from glyms_b24_pipeline.settings.model import CompaniesSettings

from .conftest import add_customer, by_origin, consume, log_rows, make_resources, sql


def _seed_log(dsn, customers=40, updates=3):
    ids = [add_customer(dsn, codigo=f"K{n}", razon_social=f"Empresa {n}") for n in range(customers)]
    for round_ in range(updates):
        sql(dsn, "UPDATE public.cliente SET direccion = %s", (f"Calle {round_}",))
    return ids


def test_overlapping_claims_never_take_the_same_row(glyms_dsn):
    _seed_log(glyms_dsn, customers=30, updates=5)  # 180 rows
    settings = CompaniesSettings(claim_limit=40)
    claims: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def claim(run_id):
        barrier.wait()
        taken = []
        while True:
            claim = ChangeLog(dsn=glyms_dsn).claim(run_id, settings, holds_portal_lock=False)
            new = [r.log_id for g in claim.groups for r in g.log_rows if r.log_id not in taken]
            if not new:
                break
            taken += new
        claims[run_id] = taken

    threads = [threading.Thread(target=claim, args=(f"run-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    taken = [log_id for ids in claims.values() for log_id in ids]
    assert len(taken) == len(set(taken)) == 180
    assert sum(1 for ids in claims.values() if ids) >= 2  # they really overlapped
    owners = Counter(row[0] for row in sql(glyms_dsn, "SELECT claimed_by FROM f_cliente.sync_log_bitrix24"))
    assert {owner: n for owner, n in owners.items()} == {run: len(ids) for run, ids in claims.items() if ids}


def test_a_claim_past_its_lease_returns_to_pending_and_a_live_one_is_renewed(glyms_dsn):
    _seed_log(glyms_dsn, customers=3, updates=0)
    settings = CompaniesSettings(lease_seconds=60)
    change_log = ChangeLog(dsn=glyms_dsn)
    assert change_log.claim("dead-run", settings, holds_portal_lock=False).rows == 3
    assert change_log.claim("other-run", settings, holds_portal_lock=False).rows == 0  # still leased
    sql(glyms_dsn, "UPDATE f_cliente.sync_log_bitrix24 SET claimed_at = now() - interval '2 minutes'")
    change_log.renew("live-run")  # renews nothing of the dead run's
    later = change_log.claim("other-run", settings, holds_portal_lock=False)
    assert (later.rows, later.reclaimed) == (3, 3)
    assert change_log.release("other-run") == 3
    assert {row[2] for row in log_rows(glyms_dsn).values()} == {"PENDING"}


def _start_sync(env):
    return subprocess.Popen([sys.executable, "-m", "glyms_b24_pipeline.cli", "sync", "--type", "companies"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_companies_syncs_started_together_process_each_row_once(glyms_dsn, portal, cli_env):
    ids = _seed_log(glyms_dsn, customers=40, updates=2)
    portal.add_fault(Fault(kind="slow", method="crm.company.add", nth=1, delay_seconds=4))
    runs = [_start_sync(cli_env), _start_sync(cli_env)]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert all("Traceback" not in out + err for out, err in outputs), outputs
    companies = by_origin(portal)
    assert sorted(companies) == sorted(map(str, ids)) and {len(v) for v in companies.values()} == {1}
    rows = log_rows(glyms_dsn)
    assert len(rows) == 120 and {row[2] for row in rows.values()} == {"PROCESSED"}
    creates = sql(glyms_dsn, "SELECT glyms_key, count(*) FROM glyms_b24.sync_audit WHERE operation = 'create' "
                             "GROUP BY glyms_key")
    assert {count for _, count in creates} == {1} and len(creates) == 40
    processed_by = sql(glyms_dsn, "SELECT count(DISTINCT dagster_run_id) FROM f_cliente.sync_log_bitrix24")[0][0]
    assert processed_by == 1  # the second run found nothing left to claim
    assert sum("esperó" in out for out, _ in outputs) == 1  # "waited ... for another sync", in Spanish


@pytest.mark.slow
def test_a_run_killed_mid_push_leaves_no_row_claimed_and_the_next_run_finishes(glyms_dsn, portal, cli_env, tmp_path):
    ids = _seed_log(glyms_dsn, customers=300, updates=0)  # two write slices of 250
    config = tmp_path / "glyms_b24.yaml"
    config.write_text("writer:\n  in_flight_grace_seconds: 10\n")
    # the second write batch is still being carried out by the portal 6 s after the run died
    portal.add_fault(Fault(kind="slow", method="crm.company.add", nth=2, delay_seconds=6))
    victim = subprocess.Popen([sys.executable, "-m", "glyms_b24_pipeline.cli", "--config", str(config), "sync",
                               "--type", "companies"], env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(portal.companies()) < 50:
        time.sleep(0.05)  # the first write batch is applied; the second leaves right after
    time.sleep(0.5)
    assert len(portal.companies()) == 50  # the second batch is in flight, held 6 s by the portal
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    claimed = sql(glyms_dsn, "SELECT count(*) FROM f_cliente.sync_log_bitrix24 WHERE sync_status = 'CLAIMED'")[0][0]
    assert claimed > 0  # the dead run left its claims behind

    killed = time.monotonic()
    portal.clear_faults()
    result = consume(make_resources(glyms_dsn, portal, config))
    # look only once the dead run's last batch can no longer land (6 s after it left)
    time.sleep(max(0.0, 7.0 - (time.monotonic() - killed)))
    assert result.success
    rows = log_rows(glyms_dsn)
    assert {row[2] for row in rows.values()} == {"PROCESSED"}
    companies = by_origin(portal)
    # the dead run's last batch landed after it died: the next run waited for it instead of creating copies
    assert sorted(companies) == sorted(map(str, ids)) and {len(v) for v in companies.values()} == {1}
    claim = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()
             if e.event_specific_data.materialization.asset_key.path == ["glyms", "pending_customer_changes"]][0]
    assert claim.metadata["reclaimed_from_dead_runs"].value == claimed
