"""`price-types`, `directory-items`: tables for people, JSON/CSV for scripts, typos, closed pipes."""

import csv
import io
import json
import subprocess

from glyms_b24_pipeline_tests.cli.conftest import CLI, clean_env


def test_price_types_as_json_and_csv_carry_only_data_on_stdout(emulator, glyms_cli):
    env = {"B24_WEBHOOK_URL": emulator.add_webhook(user_id=1)}
    emulator.add_price_type("Precio, con coma", price_type_id=7)

    as_json = glyms_cli("price-types", "--format", "json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    rows = json.loads(as_json.stdout)
    assert {"ID": 7, "NAME": "Precio, con coma", "XML_ID": "Precio, con coma", "BASE": "no", "SORT": 100} in rows
    assert "tipos de precio" in as_json.stderr  # the remark for people goes to stderr, not into the JSON

    as_csv = glyms_cli("price-types", "--format", "csv", env=env)
    parsed = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert parsed[0] == ["ID", "NAME", "XML_ID", "BASE", "SORT"]
    assert ["7", "Precio, con coma", "Precio, con coma", "no", "100"] in parsed[1:]


def test_directory_items_as_json(emulator, glyms_cli):
    emulator.add_status("INDUSTRY", "UC_LAB", "Laboratorios clínicos")
    done = glyms_cli("directory-items", "industry", "--format", "json",
                     env={"B24_WEBHOOK_URL": emulator.add_webhook(user_id=1)})
    assert done.returncode == 0, done.stderr
    items = {item["STATUS_ID"]: item["NAME"] for item in json.loads(done.stdout)}
    assert items["UC_LAB"] == "Laboratorios clínicos"


def test_a_misspelt_entity_id_exits_2_naming_the_closest(emulator, glyms_cli):
    env = {"B24_WEBHOOK_URL": emulator.add_webhook(user_id=1)}
    typo = glyms_cli("directory-items", "INDUSTRI", env=env)
    assert typo.returncode == 2 and typo.stdout == ""
    assert typo.stderr.strip().splitlines() == [
        "error: el portal no tiene ítems de ENTITY_ID INDUSTRI; ¿quiso decir INDUSTRY? (glyms-b24 directory-items INDUSTRY)"]

    unknown = glyms_cli("directory-items", "FOO", env=env)
    assert unknown.returncode == 2
    assert "ENTITY_ID conocidos: COMPANY_TYPE, EMPLOYEES, INDUSTRY" in unknown.stderr


def test_a_reader_that_closes_the_pipe_ends_the_listing_quietly(emulator):
    # more than a pipe buffer (64 KiB) of rows, so the writer is still writing when the reader leaves
    for n in range(1500):
        emulator.add_status("INDUSTRY", f"UC_{n:05d}", f"Sector de prueba número {n} " + "x" * 60)
    process = subprocess.Popen([*CLI, "directory-items", "INDUSTRY"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=clean_env(B24_WEBHOOK_URL=emulator.add_webhook(user_id=1)))
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # what `| head -1` does
    assert process.wait(timeout=60) == 0
    err = process.stderr.read().decode()
    assert first.split() == [b"ID", b"STATUS_ID", b"NAME", b"SORT", b"SYSTEM"]
    assert "Traceback" not in err and "BrokenPipe" not in err and err == ""
