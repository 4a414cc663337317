"""One writer per portal: the advisory lock against a real PostgreSQL, across threads and processes."""

import subprocess
import sys
import textwrap
import threading
import time

import psycopg2
import pytest

from glyms_b24_pipeline.bitrix24.pacing import bucket_for_portal, forget_buckets
from glyms_b24_pipeline.sync.lock import PortalBusy, PortalLock, PortalLockLost

PORTAL = "https://lab.bitrix24.es"


def test_a_second_writer_is_refused_at_once_naming_the_holder(glyms_dsn):
    with PortalLock(glyms_dsn, PORTAL + "/", "run 1111-aaaa"):
        with pytest.raises(PortalBusy) as busy:
            PortalLock(glyms_dsn, PORTAL, "run 2222-bbbb").acquire()
    message = str(busy.value)
    assert message.startswith("another sync is writing to https://lab.bitrix24.es (run 1111-aaaa, started ")
    assert message.endswith("; nothing was written") and "\n" not in message
    assert busy.value.exit_code == 3


def test_a_second_writer_waits_its_bounded_time_and_then_writes(glyms_dsn):
    first = PortalLock(glyms_dsn, PORTAL, "run first").acquire()
    threading.Timer(1.0, first.release).start()
    second = PortalLock(glyms_dsn, PORTAL, "run second", wait_seconds=20, poll_seconds=0.1).acquire()
    try:
        assert second.held and 0.8 <= second.waited_seconds < 10
    finally:
        second.release()
    with pytest.raises(PortalBusy, match=r"waited \d+ s \(writer.lock_wait_seconds\)"):
        with PortalLock(glyms_dsn, PORTAL, "run third"):
            PortalLock(glyms_dsn, PORTAL, "run fourth", wait_seconds=0.6, poll_seconds=0.1).acquire()


def test_portals_are_locked_separately(glyms_dsn):
    with PortalLock(glyms_dsn, "https://one.bitrix24.es", "run a"), PortalLock(glyms_dsn, "https://two.bitrix24.es", "run b"):
        pass


def test_a_writer_killed_with_sigkill_releases_the_lock(glyms_dsn):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from glyms_b24_pipeline.sync.lock import PortalLock
        lock = PortalLock({glyms_dsn!r}, {PORTAL!r}, "run doomed").acquire()
        print("held", flush=True)
        time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(PortalBusy, match="run doomed"):
            PortalLock(glyms_dsn, PORTAL, "run next").acquire()
        holder.kill()
        holder.wait(timeout=10)
        lock = PortalLock(glyms_dsn, PORTAL, "run next", wait_seconds=10, poll_seconds=0.1).acquire()
        assert lock.held and lock.waited_seconds < 5
        lock.release()
    finally:
        holder.kill()


def test_a_lock_whose_session_ends_stops_the_writer_before_its_next_write(glyms_dsn):
    lock = PortalLock(glyms_dsn, PORTAL, "run cut").acquire()
    lock.ensure_held()
    with psycopg2.connect(glyms_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s "
                    "AND datname = current_database()",
                    ("glyms-b24 writer run cut",))
    deadline = time.monotonic() + 5
    with pytest.raises(PortalLockLost, match="stopped before the next write"):
        while time.monotonic() < deadline:
            lock.ensure_held()
            time.sleep(0.05)
    assert not lock.held


def test_the_next_writer_starts_from_the_request_counter_the_last_one_left(glyms_dsn):
    """The portal counts requests per portal: a new process must not open with a burst it no longer has."""
    portal = "https://counted.bitrix24.es"
    forget_buckets()
    first = bucket_for_portal(portal, 50, 2.0)
    for _ in range(40):
        first.reserve()
    with PortalLock(glyms_dsn, portal, "run busy"):
        pass  # released: the level is left beside the lock
    forget_buckets()  # the next run is another process, with a bucket of its own
    fresh = bucket_for_portal(portal, 50, 2.0)
    assert fresh.level == 0
    started = time.monotonic()
    with PortalLock(glyms_dsn, portal, "run next"):
        carried = fresh.level
    assert 40 - 2.0 * (time.monotonic() - started) - 2.0 <= carried <= 40
    forget_buckets()
