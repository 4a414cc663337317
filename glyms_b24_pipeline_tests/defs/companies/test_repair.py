"""`glyms-b24 repair companies`: companies sharing an ORIGIN_ID are reported with a survivor, never merged."""

from __future__ import annotations

import json
import subprocess
import sys

import requests

from glyms_b24_pipeline.defs.companies.repair import report_rows, shared_origin_ids

CLI = [sys.executable, "-m", "glyms_b24_pipeline.cli"]


def test_the_oldest_company_is_the_suggested_survivor():
    companies = [{"ID": "120", "ORIGIN_ID": "7", "TITLE": "Copia"}, {"ID": "101", "ORIGIN_ID": " 7 ", "TITLE": "Lab"},
                 {"ID": "130", "ORIGIN_ID": "8", "TITLE": "Única"}, {"ID": "140", "ORIGIN_ID": "", "TITLE": "A mano"}]
    groups = shared_origin_ids(companies)
    assert [(g.origin_id, g.survivor_id, [c["ID"] for c in g.companies]) for g in groups] == [("7", 101, ["101", "120"])]
    assert [row[-1] for row in report_rows(groups)] == ["keep", "merge into 101"]


def test_cli_reports_shared_origin_ids_and_changes_nothing(emulator, cli_env):
    first = emulator.seed_company(TITLE="Laboratorio Sur", ORIGIN_ID="41",
                                  EMAIL=[{"VALUE": "info@labsur.com.ar", "VALUE_TYPE": "WORK"}])
    copy = emulator.seed_company(TITLE="Laboratorio Sur", ORIGIN_ID="41")
    emulator.seed_company(TITLE="Clínica Norte", ORIGIN_ID="42")
    before = emulator.companies()
    done = subprocess.run([*CLI, "repair", "companies", "--format", "json"], env=cli_env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr  # something to review
    rows = json.loads(done.stdout)
    assert [(r["ORIGIN_ID"], r["ID"], r["SUGERENCIA"]) for r in rows] == [
        ("41", first, "conservar"), ("41", copy, f"fusionar en {first}")]  # in the run's language (Spanish)
    assert rows[0]["EMAIL"] == "info@labsur.com.ar"
    assert "1 ORIGIN_ID compartidos por 2 empresas; no se fusionó nada" in done.stderr  # the note, off the JSON
    assert emulator.companies() == before

    hook = cli_env["B24_WEBHOOK_URL"]
    assert "result" in requests.post(hook + "crm.company.delete", json={"id": copy}, timeout=10).json()
    clean = subprocess.run([*CLI, "repair", "companies"], env=cli_env, capture_output=True, text=True, timeout=120)
    assert (clean.returncode, clean.stdout.strip()) == (
        0, "ninguna empresa comparte ORIGIN_ID: nada que revisar")
