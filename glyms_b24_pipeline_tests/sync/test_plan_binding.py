"""A plan is applied once, by the run that computed it, under the lock it read the portal with."""

from types import SimpleNamespace

from glyms_b24_pipeline.settings.model import WriterSettings
from glyms_b24_pipeline.sync.writer import PortalWriter

PORTAL = "https://lab.bitrix24.es"


def test_only_a_fresh_plan_of_this_run_under_its_lock_may_be_applied_and_only_once(glyms_dsn):
    run = SimpleNamespace(run_id="run-1", log=SimpleNamespace(info=print, warning=print))
    writer = PortalWriter(dsn=glyms_dsn)
    writer.hold(run, PORTAL, WriterSettings())
    assert writer.plan_basis("services", run) is None  # nothing read yet: no basis
    writer.note_read("services", run)
    basis = writer.plan_basis("services", run)
    assert writer.stale_reason(basis, run) is None
    writer.mark_applied(basis)
    assert writer.stale_reason(basis, run) == "the plan was already applied once in this run (retried step)"
    assert writer.stale_reason(None, run) == "the stored plan was computed from a portal read of another run"
    other = SimpleNamespace(run_id="run-2", log=run.log)
    assert writer.stale_reason(basis, other) == "the stored plan was computed by run run-1"

    writer.teardown_after_execution(None)  # the run ended: its lock is gone
    writer.hold(run, PORTAL, WriterSettings())  # same run id, new lock
    assert writer.stale_reason(writer.plan_basis("services", run) or basis, run) == \
        "the portal lock was released after the plan was computed"
    writer.teardown_after_execution(None)
