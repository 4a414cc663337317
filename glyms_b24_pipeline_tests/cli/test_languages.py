"""One language per run: every command, its --help and its error paths print Spanish or English, never both.

A word list of each language's common words is enough to find a line of the other one. Values from
Glyms and Bitrix24 are not language: the data rows of a table (below its rule) are not judged.
"""

from __future__ import annotations

import argparse
import re

import psycopg2
import psycopg2.extensions
import pytest

from glyms_b24_pipeline.cli import main
from glyms_b24_pipeline.cli.i18n import choose_language, lang_from_argv
from glyms_b24_pipeline.cli.parser import build_parser
from glyms_b24_pipeline.sandbox.glyms_seed import add_service_version
from glyms_b24_pipeline.sync.lock import PortalLock
from glyms_b24_pipeline_tests.cli.test_explain import add_service
from glyms_b24_pipeline_tests.defs.companies.conftest import add_customer

SPANISH = {"el", "la", "los", "las", "del", "está", "están", "para", "con", "una", "filas", "sin", "hay", "que",
           "fallaron", "escritos", "también", "ninguno", "ninguna", "desde", "según", "cada", "vuelva", "corrija",
           "revise", "aviso", "muestra", "ejecución", "sincronización", "empresas", "servicios", "clientes"}
ENGLISH = {"the", "is", "are", "not", "with", "and", "of", "to", "was", "were", "would", "has", "have", "this",
           "that", "from", "for", "rows", "written", "failed", "missing", "nothing", "found", "every", "only",
           "cannot", "show", "message", "customers", "warning", "waiting", "requests"}
#: words that are not language: identifiers, options, values, paths
NOT_WORDS = re.compile(r"`[^`]*`|'[^']*'|\"[^\"]*\"|\S*[/_.=:{}<>@\\\[\]-]\S*|\b[A-Z][A-Z0-9_]+\b")


def other_language_words(line: str, language: str) -> set[str]:
    words = {w.lower() for w in re.findall(r"[A-Za-záéíóúñü]+", NOT_WORDS.sub(" ", line))}
    return words & (ENGLISH if language == "es" else SPANISH)


def judged_lines(text: str) -> list[str]:
    """The lines of an output a person reads as prose: a table's header, not its data rows."""
    lines, in_table = [], False
    for line in text.splitlines():
        if re.fullmatch(r"[\s-]*-{2,}[\s-]*", line):
            in_table = True
            continue
        if in_table and line.strip() and not line.startswith(("  ", " ")) and "  " in line.strip():
            continue  # a data row of the table above
        in_table = in_table and bool(line.strip()) and "  " in line.strip()
        if not in_table:
            lines.append(line)
    return lines


def commands(parser: argparse.ArgumentParser) -> list[str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(action.choices)


@pytest.fixture
def lab(glyms_dsn, portal, dagster_home, tmp_path, monkeypatch):
    """A Glyms database with a service and a customer, the lab's portal, an instance: the env for main()."""
    add_service(glyms_dsn, 1, "GLU", "Glucemia", "130.00")
    customer = add_customer(glyms_dsn)
    for name in ("B24_WEBHOOK_URL", "B24_PORTAL_URL", "B24_CLIENT_ID", "B24_CLIENT_SECRET", "GLYMS_B24_CONFIG",
                 "GLYMS_B24_LANG", "DAGSTER_PG_URL", "LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("GLYMS_PG_DSN", glyms_dsn)
    monkeypatch.setenv("B24_WEBHOOK_URL", portal.add_webhook(user_id=1))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    quick_config = tmp_path / "quick.yaml"
    quick_config.write_text("writer:\n  lock_wait_seconds: 0\nbitrix24:\n  unreachable_timeout_seconds: 1\n",
                            encoding="utf-8")
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("services:\n  iblok_id: 24\n", encoding="utf-8")
    return {"customer": customer, "bad_config": str(bad_config), "portal": portal, "glyms_dsn": glyms_dsn,
            "quick_config": str(quick_config), "tmp_path": tmp_path}


def run_all(lab, language, capsys, monkeypatch) -> dict[str, str]:
    """Every command in ``language`` (Spanish by default, English by --lang), and the error paths."""
    lang = [] if language == "es" else ["--lang", "en"]
    runs = [[name, "--help"] for name in commands(build_parser()) if name != "emulator"] + [
        ["--help"],
        ["install-sql", "--check"], ["install-sql"], ["auth"], ["price-types"], ["directory-items", "INDUSTRY"],
        ["directory-items", "INDUSTRX"], ["check-mappings"], ["sync", "--type", "services", "--dry-run"],
        ["sync", "--type", "services"], ["reconcile", "companies", "--dry-run"], ["requeue"],
        ["repair", "services", "--dry-run"], ["repair", "companies"], ["explain", "service", "1"],
        ["explain", "customer", str(lab["customer"])], ["explain", "service", "999"], ["history"], ["audit"],
        ["prune", "--dry-run"], ["init-instance"],
        # error paths
        ["requeue", "--bogus"], ["sync", "--type", "nope"], ["explain", "customer", "uno"],
        ["--config", lab["bad_config"], "check-mappings"], ["--price_types"], ["history", "--since", "ayer"],
    ]
    outputs = {}
    for args in runs:
        try:
            main([*lang, *args])
        except SystemExit:  # --help and argparse's errors
            pass
        captured = capsys.readouterr()
        outputs[" ".join(args)] = captured.out + captured.err
    # the environment's errors: a variable missing, a portal that refuses the webhook, no DAGSTER_HOME
    dsn = lab["glyms_dsn"]
    with monkeypatch.context() as m:
        m.delenv("GLYMS_PG_DSN")
        main([*lang, "audit"])
        m.setenv("GLYMS_PG_DSN", dsn)
        m.setenv("B24_WEBHOOK_URL", lab["portal"].portal_url + "/rest/1/wrongcode/")
        main([*lang, "price-types"])
        m.delenv("DAGSTER_HOME")
        main([*lang, "sync", "--dry-run"])
    captured = capsys.readouterr()
    outputs["environment errors"] = captured.out + captured.err
    assert outputs["environment errors"].count("error: ") == 3 and "DAGSTER_HOME" in outputs["environment errors"]
    outputs.update(failure_paths(lab, lang, capsys, monkeypatch))
    return outputs


def failure_paths(lab, lang, capsys, monkeypatch) -> dict[str, str]:
    """The runs that stop: Glyms unreachable or not as the contract says, the portal busy or unreachable,
    a push the mass-deactivation guard stops, credentials missing or malformed."""
    dsn, quick = lab["glyms_dsn"], lab["quick_config"]
    outputs = {}

    def run(name, *args, **env):
        with monkeypatch.context() as m:
            for key, value in env.items():
                if value is None:
                    m.delenv(key)
                else:
                    m.setenv(key, value)
            main([*lang, "--config", quick, *args])
        captured = capsys.readouterr()
        outputs[name] = captured.out + captured.err

    run("glyms refused", "sync", "--type", "services", "--dry-run", GLYMS_PG_DSN="postgresql://postgres@127.0.0.1:1/glyms")
    run("glyms no database", "audit", GLYMS_PG_DSN=psycopg2.extensions.make_dsn(dsn, dbname="no_such_glyms"))
    run("glyms malformed", "check-mappings", GLYMS_PG_DSN="host=127.0.0.1 port=cinco")
    run("glyms unknown host", "check-mappings", GLYMS_PG_DSN="postgresql://postgres@glyms.invalid/glyms")
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE public.contrato_presta RENAME COLUMN valor_unico TO valor")
    conn.close()
    run("glyms contract", "sync", "--type", "services", "--dry-run")
    run("glyms contract, the check", "install-sql", "--check")
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE public.contrato_presta RENAME COLUMN valor TO valor_unico")
    conn.close()
    add_service_version(dsn, 1, activa=0)  # the only service gone: a mass deactivation
    run("mass deactivation", "sync", "--type", "services")
    with PortalLock(dsn, lab["portal"].portal_url, "run-of-a-sync"):
        run("portal busy", "sync", "--type", "services")
    run("portal unreachable", "sync", "--type", "companies", B24_WEBHOOK_URL="http://127.0.0.1:1/rest/1/abc/")
    run("portal unreachable, a listing", "price-types", B24_WEBHOOK_URL="http://127.0.0.1:1/rest/1/abc/")
    run("oauth without tokens", "price-types", B24_WEBHOOK_URL=None, B24_PORTAL_URL=lab["portal"].portal_url,
        B24_CLIENT_ID="app.1", B24_CLIENT_SECRET="s3cr3t")
    run("webhook malformed", "price-types", B24_WEBHOOK_URL="https://lab.bitrix24.es/hook")
    worse = lab["tmp_path"] / "worse.yaml"
    worse.write_text("services:\n  iblock_id: veinte\n  max_deactivation_share: 2\n  excluded_tipo_ot: [1]\n"
                     "companies:\n  on_delete: borrar\nschedules:\n  timezone: Marte/Olympus\n", encoding="utf-8")
    main([*lang, "--config", str(worse), "check-mappings"])
    captured = capsys.readouterr()
    outputs["configuration problems"] = captured.out + captured.err
    # the failed runs above, as the history tells them afterwards
    run("history of failed runs", "history")
    failed_run = re.search(r"[0-9a-f]{8}-[0-9a-f-]{27}", outputs["portal busy"]).group(0)
    run("history of one failed run", "history", "--run", failed_run)
    # the runs' verdicts are words of the run's language in the table too (a data row, so not judged above)
    assert ("FALLÓ" if not lang else "FAILED") in outputs["history of failed runs"]
    # each path really failed as meant: its error line names what it is about
    markers = {"glyms refused": "127.0.0.1:1/glyms", "glyms no database": "no_such_glyms", "glyms malformed": "port",
               "glyms unknown host": "glyms.invalid", "glyms contract": "valor_unico",
               "glyms contract, the check": "valor_unico", "mass deactivation": "--allow-mass-deactivation",
               "portal busy": "run-of-a-sync", "portal unreachable": "bitrix24.unreachable_timeout_seconds",
               "portal unreachable, a listing": "bitrix24.unreachable_timeout_seconds",
               "oauth without tokens": "glyms-b24 auth", "webhook malformed": "B24_WEBHOOK_URL",
               "configuration problems": "schedules.timezone", "history of one failed run": "run-of-a-sync"}
    for name, marker in markers.items():
        errors = [line for line in outputs[name].splitlines() if line.strip().startswith("error: ")]
        assert len(errors) == 1 and marker in errors[0], f"{name}: {outputs[name]}"
    return outputs


@pytest.mark.parametrize("language", ["es", "en"])
def test_every_command_speaks_one_language(lab, language, capsys, monkeypatch):
    outputs = run_all(lab, language, capsys, monkeypatch)
    problems = []
    for command, text in outputs.items():
        assert text.strip(), f"{command}: printed nothing"
        for line in judged_lines(text):
            words = other_language_words(line, language)
            if words:
                problems.append(f"{command}: {sorted(words)}: {line}")
    assert not problems, "\n".join(problems)
    # and it is the language asked for, not a third one
    everything = "\n".join(outputs.values())
    own = SPANISH if language == "es" else ENGLISH
    assert len({w.lower() for w in re.findall(r"[A-Za-záéíóúñü]+", everything)} & own) > 10


def test_the_word_check_finds_a_mixed_line():
    line = "la variable de entorno DAGSTER_PG_URL no está definida (DAGSTER_PG_URL is not set)"
    assert other_language_words(line, "es") == {"is", "not"}
    assert other_language_words("  services: 0/383 cambios escritos, 0 peticiones", "es") == set()
    assert other_language_words("  services push: 3 services written, 0 failed", "es") == {"written", "failed"}


def test_the_language_comes_from_the_option_then_the_variable_then_the_locale():
    assert choose_language(None, {}) == "es"
    assert choose_language(None, {"LANG": "C.UTF-8"}) == "es"
    assert choose_language(None, {"LANG": "en_US.UTF-8"}) == "en"
    assert choose_language(None, {"LANG": "de_DE.UTF-8"}) == "es"  # neither language: the product's
    assert choose_language(None, {"LC_ALL": "es_AR.UTF-8", "LANG": "en_US.UTF-8"}) == "es"
    assert choose_language(None, {"GLYMS_B24_LANG": "en", "LANG": "es_AR.UTF-8"}) == "en"
    assert choose_language("es", {"GLYMS_B24_LANG": "en", "LANG": "en_US.UTF-8"}) == "es"
    assert lang_from_argv(["sync", "--lang", "en"]) == "en" and lang_from_argv(["--lang=es", "sync"]) == "es"
