"""Revert each safety mechanism in a scratch copy of the repository and check that a test catches it.

For every mechanism the docs promise (docs/reliability.md), this script applies the smallest
change that removes it, runs the tests that guard it, and expects at least one to FAIL. It prints
a table; exit 1 when some mutation survives (no test failed), which would mean the mechanism is
not really tested.

    python scripts/check_safety_mutations.py [--only portal_lock,claim_lock]

It works on `git worktree add --detach` copies of HEAD, so the checkout is never touched.
Tests run with the current virtualenv's pytest and $GLYMS_B24_TEST_PG_DSN.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str
    changes: tuple[tuple[str, str, str], ...]  # (path, old text, new text)
    tests: tuple[str, ...]


MUTATIONS = [
    Mutation(
        "claim_lock", "claim pending rows without FOR UPDATE SKIP LOCKED",
        (("sql/queries/change_log_claim.sql", "    FOR UPDATE SKIP LOCKED\n", ""),),
        ("glyms_b24_pipeline_tests/defs/companies/test_claims.py::test_overlapping_claims_never_take_the_same_row",),
    ),
    Mutation(
        "origin_id_lookup", "create companies without looking them up by ORIGIN_ID first",
        (("glyms_b24_pipeline/defs/companies/bitrix.py",
          "    for first in range(0, len(commands), per_request):\n",
          "    for first in range(0):  # mutation: no look-up\n"),),
        ("glyms_b24_pipeline_tests/defs/companies/test_consumer.py::test_a_lost_answer_and_a_rerun_leave_exactly_one_company",
         "glyms_b24_pipeline_tests/defs/companies/test_consumer.py::test_insert_update_delete_sequences_end_in_the_right_companies"),
    ),
    Mutation(
        "token_row_lock", "refresh OAuth tokens without locking their row",
        (("sql/queries/oauth_token_select_for_update.sql", "FOR UPDATE\n", "\n"),),
        ("glyms_b24_pipeline_tests/bitrix24/test_auth.py::"
         "test_four_processes_hitting_an_expired_token_at_once_keep_the_chain_valid",),
    ),
    Mutation(
        "portal_lock", "take no portal lock (every writer goes ahead at once)",
        (("glyms_b24_pipeline/sync/lock.py", 'if self._query("portal_lock_try")[0]["acquired"]:', "if True:"),
         ("glyms_b24_pipeline/sync/lock.py", 'alive = self.held and bool(self._query("portal_lock_alive")[0]["held"])',
          "alive = self.held")),
        ("glyms_b24_pipeline_tests/sync/test_portal_lock.py",
         "glyms_b24_pipeline_tests/sync/test_one_writer.py::test_two_cli_syncs_started_together_write_each_service_once"),
    ),
    Mutation(
        "plan_run_binding", "apply whatever plan the push is given",
        (("glyms_b24_pipeline/sync/writer.py",
          '        """Why a plan may not be applied by this step, or None when it may."""\n',
          '        """Why a plan may not be applied by this step, or None when it may."""\n        return None\n'),),
        ("glyms_b24_pipeline_tests/sync/test_one_writer.py::test_the_push_materialised_alone_replans_and_writes_no_duplicate",
         "glyms_b24_pipeline_tests/sync/test_plan_binding.py"),
    ),
    Mutation(
        "mass_deactivation_guard", "never stop a push that deactivates most of the catalog",
        (("glyms_b24_pipeline/defs/services/plan.py",
          "        deactivations = len(self.by_action(Action.DEACTIVATE))\n        if not deactivations:\n            return None",
          "        deactivations = len(self.by_action(Action.DEACTIVATE))\n        return None"),),
        ("glyms_b24_pipeline_tests/defs/services/test_services_sync.py::test_empty_glyms_answer_trips_the_mass_deactivation_guard",),
    ),
    Mutation(
        "placeholder_handling", "send data that looks like a batch placeholder inside batches",
        (("glyms_b24_pipeline/bitrix24/client.py",
          "    solo = {c.key for c in commands if carries_placeholder_text(c.params)}",
          "    solo: set[str] = set()"),),
        ("glyms_b24_pipeline_tests/bitrix24/test_client.py::"
         "test_data_that_looks_like_a_placeholder_is_sent_alone_and_stored_exactly",
         "glyms_b24_pipeline_tests/defs/companies/test_consumer.py::test_placeholder_text_in_customer_data_is_stored_exactly"),
    ),
    Mutation(
        "writer_fence", "read the portal right after a killed writer, its last request still in flight",
        (("glyms_b24_pipeline/sync/lock.py",
          '        """Wait out the last request of a writer that died without releasing the portal."""\n',
          '        """Wait out the last request of a writer that died without releasing the portal."""\n        return\n'),),
        ("glyms_b24_pipeline_tests/defs/companies/test_claims.py::"
         "test_a_run_killed_mid_push_leaves_no_row_claimed_and_the_next_run_finishes",),
    ),
    Mutation(
        "glyms_contract_preflight", "read Glyms without comparing the schema contract with its catalog first",
        (("glyms_b24_pipeline/glyms/contract.py",
          '    """Raise :class:`GlymsContractError` (one line, exit code 2) unless the database meets the contract."""\n',
          '    """Raise :class:`GlymsContractError` (one line, exit code 2) unless the database meets the contract."""\n'
          '    return\n'),),
        ("glyms_b24_pipeline_tests/cli/test_glyms_contract.py::"
         "test_a_contract_violation_is_one_line_exit_2_and_nothing_written",),
    ),
    Mutation(
        "price_tie_rule", "take the lower of two price versions of one date, not the documented higher",
        (("sql/queries/active_services.sql", "max(v.valor_unico) AS valor_unico", "min(v.valor_unico) AS valor_unico"),),
        ("glyms_b24_pipeline_tests/sandbox/test_hostile_corpus.py",),
    ),
]


def run(mutation: Mutation, python: Path) -> tuple[str, float, str]:
    scratch = Path(tempfile.mkdtemp(prefix=f"mutation-{mutation.name}-")) / "repo"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(scratch), "HEAD"], check=True,
                   capture_output=True)
    try:
        for path, old, new in mutation.changes:
            target = scratch / path
            text = target.read_text(encoding="utf-8")
            if old not in text:
                return f"NOT APPLIED ({path} changed: update the mutation)", 0.0, ""
            target.write_text(text.replace(old, new, 1), encoding="utf-8")
        started = time.monotonic()
        env = {**os.environ, "PYTHONPATH": str(scratch)}
        result = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "-m", "slow or not slow",
                                 "-x", *mutation.tests], cwd=scratch, env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        tail = "\n".join(result.stdout.strip().splitlines()[-3:])
        if result.returncode == 1:
            return "caught", elapsed, tail
        return f"SURVIVED (pytest exit {result.returncode})", elapsed, tail
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(scratch)], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated mutation names")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only.split(",")]
    python = Path(sys.executable)
    rows = []
    for mutation in chosen:
        verdict, seconds, tail = run(mutation, python)
        print(f"{mutation.name}: {verdict} ({seconds:.0f} s)\n{tail}\n", flush=True)
        rows.append((mutation, verdict))
    print("| mechanism reverted | how | tests run | verdict |")
    print("|---|---|---|---|")
    for mutation, verdict in rows:
        tests = ", ".join(t.split("::")[-1] if "::" in t else t.rsplit("/", 1)[-1] for t in mutation.tests)
        print(f"| {mutation.name} | {mutation.what} | {tests} | {verdict} |")
    return 0 if all(verdict == "caught" for _, verdict in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
