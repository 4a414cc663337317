"""A companies run killed with SIGKILL at each stage: the next normal run reaches the same end state,
and no row stays claimed. Processes are real (`glyms-b24 sync` subprocesses), so is the kill."""

import signal
import subprocess
import sys
import threading
import time

import psycopg2
import pytest

from bitrix24_emulator import Fault
from glyms_b24_pipeline_tests.defs.companies.conftest import (
    add_customer,
    by_origin,
    consume,
    log_rows,
    make_resources,
    sql,
)

pytestmark = pytest.mark.slow

GRACE = 4  # writer.in_flight_grace_seconds for these runs: longer than any slow fault below lasts


def _wait_for(predicate, timeout=90.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    raise AssertionError("the run never reached the stage to kill it at")


def _claimed(dsn):
    return sql(dsn, "SELECT count(*) FROM f_cliente.sync_log_bitrix24 WHERE sync_status = 'CLAIMED'")[0][0]


def _sent(dsn):
    return sql(dsn, "SELECT count(*) FROM glyms_b24.sync_audit WHERE outcome = 'sent'")[0][0]


def _hold_sent_audit_rows(dsn, ready, release):
    """Lock the audit rows recorded as sent, so the settlement (audit and log statuses, one
    transaction) blocks after the writes went out."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT audit_id FROM glyms_b24.sync_audit WHERE outcome = 'sent' FOR UPDATE")
            ready.set()
            release.wait(120)
        conn.rollback()
    finally:
        conn.close()


STAGES = ["after_claim", "after_read", "mid_push", "after_push_before_statuses"]


@pytest.mark.parametrize("stage", STAGES)
def test_a_run_killed_at_each_stage_leaves_the_next_run_the_same_end_state(stage, glyms_dsn, portal, cli_env, tmp_path):
    ids = [add_customer(glyms_dsn, codigo=f"K{n}", razon_social=f"Empresa {n}") for n in range(120)]
    gone = ids[0]
    sql(glyms_dsn, "DELETE FROM public.cliente WHERE id_cliente = %s", (gone,))
    config = tmp_path / "glyms_b24.yaml"
    config.write_text(f"writer:\n  in_flight_grace_seconds: {GRACE}\n")
    release = threading.Event()
    holder = None
    if stage == "after_claim":  # killed while it looks the companies up
        portal.add_fault(Fault(kind="slow", method="crm.company.list", nth=1, delay_seconds=3))
    elif stage == "after_read":  # killed while it checks the mappings, just before writing
        portal.add_fault(Fault(kind="slow", method="crm.status.list", nth=1, delay_seconds=3))
    elif stage == "mid_push":  # the second write batch is on the wire
        portal.add_fault(Fault(kind="slow", method="crm.company.add", nth=2, delay_seconds=2))
    else:  # time to lock the sent audit rows before the first batch is answered
        portal.add_fault(Fault(kind="slow", method="crm.company.add", nth=1, delay_seconds=2))
    victim = subprocess.Popen([sys.executable, "-m", "glyms_b24_pipeline.cli", "--config", str(config), "sync",
                               "--type", "companies"], env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if stage in ("after_claim", "after_read"):
            _wait_for(lambda: _claimed(glyms_dsn) > 0)
            time.sleep(1.0)  # inside the slow call of that stage
        elif stage == "mid_push":
            _wait_for(lambda: _sent(glyms_dsn) > 0)
            time.sleep(0.8)
        else:
            _wait_for(lambda: _sent(glyms_dsn) > 0)
            ready = threading.Event()
            holder = threading.Thread(target=_hold_sent_audit_rows, args=(glyms_dsn, ready, release))
            holder.start()
            ready.wait(30)
            # every write is out and applied, the settlement waits on the rows we hold
            _wait_for(lambda: len(by_origin(portal)) >= len(ids) - 1, timeout=60)
            time.sleep(0.5)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        release.set()
        if holder is not None:
            holder.join(timeout=30)
        victim.kill()
    portal.clear_faults()
    assert _claimed(glyms_dsn) > 0  # the dead run left its claims
    if stage in ("after_claim", "after_read"):
        assert portal.companies() == []  # it died before writing anything

    result = consume(make_resources(glyms_dsn, portal, config))
    assert result.success
    rows = log_rows(glyms_dsn)
    assert {row[2] for row in rows.values()} <= {"PROCESSED", "TARGET_MISSING"}
    assert _claimed(glyms_dsn) == 0
    companies = by_origin(portal)
    alive = [i for i in ids if i != gone]
    assert sorted(companies) == sorted(map(str, alive)) and {len(v) for v in companies.values()} == {1}
    # a second normal run finds nothing left to do
    again = consume(make_resources(glyms_dsn, portal, config))
    plan = [e.event_specific_data.materialization.metadata for e in again.get_asset_materialization_events()
            if e.event_specific_data.materialization.asset_key.path == ["sync", "companies_plan"]][0]
    assert plan["log_rows"].value == 0 and plan["writes"].value == 0
