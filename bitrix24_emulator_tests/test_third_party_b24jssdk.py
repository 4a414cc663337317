"""The official JS SDK (@bitrix24/b24jssdk, B24Hook under Node), unmodified, as a judge of the emulator.

``js/judge.mjs`` runs one scenario and prints what the SDK returned; the assertions live here. The
SDK accepts only ``https://`` webhooks, so the emulator runs with ``tls=True`` and Node trusts its
test CA through ``NODE_EXTRA_CA_CERTS``. ``npm ci`` installs the locked SDK into a temporary copy of
``js/`` once per session, so a clean checkout needs no extra step.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bitrix24_emulator import TLS_CA_FILE
from bitrix24_emulator.testing import PERMISSIVE_LIMITS

JS_DIR = Path(__file__).with_name("js")
NODE, NPM = shutil.which("node"), shutil.which("npm")

pytestmark = pytest.mark.skipif(NODE is None or NPM is None,
                                reason="node and npm are needed for the JS SDK judge and are not on PATH")


@pytest.fixture(scope="session")
def judge_dir(tmp_path_factory) -> Path:
    """A copy of js/ with the locked SDK installed by ``npm ci``."""
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 20:
        pytest.skip(f"@bitrix24/b24jssdk needs Node 20 or later; found {version}")
    target = tmp_path_factory.mktemp("b24jssdk")
    for name in ("package.json", "package-lock.json", "judge.mjs"):
        shutil.copy(JS_DIR / name, target / name)
    installed = subprocess.run([NPM, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
                               cwd=target, capture_output=True, text=True, timeout=240)
    assert installed.returncode == 0, f"npm ci failed:\n{installed.stderr[-3000:]}"
    return target


@pytest.fixture
def run_judge(make_emulator, judge_dir):
    emulator = make_emulator(tls=True, **PERMISSIVE_LIMITS)
    webhook = emulator.add_webhook(user_id=1)
    environment = dict(os.environ, NODE_EXTRA_CA_CERTS=TLS_CA_FILE)

    def run(scenario: str) -> dict:
        done = subprocess.run([NODE, "judge.mjs", webhook, scenario], cwd=judge_dir, env=environment,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"judge.mjs {scenario} failed:\n{done.stderr[-3000:]}"
        return json.loads(done.stdout)

    run.emulator = emulator
    return run


def test_company_round_trip(run_judge):
    emulator = run_judge.emulator
    out = run_judge("roundtrip")
    company_id = out["id"]
    assert isinstance(company_id, int)
    assert out["got"]["TITLE"] == "Química Rioplatense SA" and out["got"]["ORIGIN_ID"] == "glyms-js-1"
    assert out["got"]["EMAIL"][0]["VALUE"] == "lab@quimrio.example" and out["got"]["HAS_PHONE"] == "Y"
    assert out["updated"] is True and out["deleted"] is True
    assert [(row["ID"], row["TITLE"]) for row in out["listed"]] == [(str(company_id), "Química Rioplatense SRL")]
    assert out["listed"][0]["EMAIL"][0]["VALUE"] == "lab@quimrio.example"
    assert out["badField"]["code"] == "ERROR_CORE" and out["badField"]["status"] == 400
    assert emulator.companies() == []
    methods = [entry.method for entry in emulator.request_log]
    assert methods == ["crm.company.add", "crm.company.get", "crm.company.update", "crm.company.list",
                       "crm.company.delete", "crm.company.add"]


def test_batch_with_a_reference_and_a_failing_command(run_judge):
    emulator = run_judge.emulator
    out = run_judge("batch")
    data = out["data"]
    assert data["read"]["ID"] == str(data["created"]) and data["read"]["TITLE"] == "Alta JS"
    assert data["renamed"] is True
    assert "broken" not in data and out["isSuccess"] is False
    assert out["errors"]["broken"]["code"] == "ERROR_CORE"
    assert [(c["ID"], c["TITLE"]) for c in emulator.companies()] == [(str(data["created"]), "Alta JS (renombrada)")]
    assert [(entry.method, entry.batch_commands) for entry in emulator.request_log] == [("batch", 4)]


def test_paged_lists_deliver_every_row_exactly_once(run_judge):
    emulator = run_judge.emulator
    seeded = [str(emulator.seed_company(TITLE=f"Firma {n:03d}")) for n in range(120)]
    out = run_judge("paging")
    assert out["callList"] == seeded
    assert [len(chunk) for chunk in out["fetchList"]] == [50, 50, 20]
    assert [row for chunk in out["fetchList"] for row in chunk] == seeded
