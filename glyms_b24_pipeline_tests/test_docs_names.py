"""Every name the documentation sends a reader to exists: commands and their options (by the real parser),
Dagster jobs, schedules, sensors, assets and checks (by the definitions), the manual's and the README's
sections, and the UI's menus (by the installed Dagster UI's own navigation)."""

from __future__ import annotations

import argparse
import re
from functools import lru_cache
from pathlib import Path

import pytest

from glyms_b24_pipeline.cli.legacy import translate as translate_legacy
from glyms_b24_pipeline.cli.parser import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), ROOT / "deploy" / "glyms-b24.env.example"])
MANUAL = ROOT / "docs" / "es" / "manual_operador.md"
#: where a command line ends inside prose or a code block
#: a command starts a line of a code block, follows a prompt or opens a backticked span
COMMAND = re.compile(r"(?:^[ \t]*|(?<=`)|(?<=\$ ))glyms-b24(?![\w\-/.])((?: +[^\s`|;&#()<>\"]+)*)", re.M)
GLOBAL_WITH_VALUE = {"--config", "--lang"}


def doc_texts() -> dict[str, str]:
    return {str(path.relative_to(ROOT)): path.read_text(encoding="utf-8") for path in DOCS if path.is_file()}


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _placeholder(token: str) -> bool:
    """``ID``, ``ENTITY_ID``, ``N``, ``services|companies``, ``...``: how the docs write a value to fill in."""
    return token.isupper() or "|" in token or "..." in token or token.startswith(("<", "[", "{")) or "\\" in token


def command_problems(line: str) -> list[str]:
    """What is wrong with one ``glyms-b24 ...`` as the docs write it (nothing for a legacy spelling)."""
    tokens = [t.rstrip(".,:") for t in line.split()]
    tokens = [t for t in tokens if t]
    if not tokens:
        return []
    legacy = translate_legacy(tokens)
    if legacy.notice:  # a legacy spelling the docs show on purpose; it translates to a real command
        tokens = list(legacy.argv)
    position = 0
    while position < len(tokens) and tokens[position].startswith("-"):
        position += 2 if tokens[position] in GLOBAL_WITH_VALUE else 1
    if position >= len(tokens):
        return []  # `glyms-b24 --help`, `glyms-b24` alone
    name, rest = tokens[position], tokens[position + 1 :]
    commands = subparsers(build_parser())
    if name not in commands:
        return [f"no command {name!r}"]
    if name == "emulator":
        return []
    command = commands[name]
    problems = []
    options = set(command._option_string_actions)
    positionals = [a for a in command._actions if not a.option_strings and a.choices]
    for token in rest:
        if token.startswith("--"):
            option = token.split("=", 1)[0].strip("[]")
            if option not in options:
                problems.append(f"{name}: no option {option}")
    words = [t for t in rest if not t.startswith("-")]
    if positionals and words and not _placeholder(words[0]) and words[0] not in positionals[0].choices:
        problems.append(f"{name}: {words[0]!r} is not one of {sorted(positionals[0].choices)}")
    return problems


def test_every_command_the_docs_name_exists_with_its_options():
    problems = []
    seen = 0
    for where, text in doc_texts().items():
        for match in COMMAND.finditer(text):
            seen += 1
            problems += [f"{where}: `glyms-b24{match.group(1)}`: {p}" for p in command_problems(match.group(1))]
    assert seen > 100
    assert not problems, "\n".join(problems)


def test_the_command_check_catches_a_wrong_name():
    assert command_problems(" sync --type services --dry-run") == []
    assert command_problems(" --sync_type services") == []  # legacy, shown on purpose
    assert command_problems(" explain customer 79 --format json") == []
    assert command_problems(" requeue --all-error") == ["requeue: no option --all-error"]
    assert command_problems(" reconcile customers") == [
        "reconcile: 'customers' is not one of ['all', 'companies', 'services']"]
    assert command_problems(" resync") == ["no command 'resync'"]


@lru_cache(maxsize=1)
def dagster_names() -> dict[str, set[str]]:
    from glyms_b24_pipeline.definitions import defs

    repository = (defs() if callable(defs) else defs).get_repository_def()
    return {
        "job": {job.name for job in repository.get_all_jobs()},
        "schedule": {s.name for s in repository.schedule_defs},
        "sensor": {s.name for s in repository.sensor_defs},
        "asset": {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()},
        "check": {f"{key.asset_key.to_user_string()} {key.name}" for key in repository.asset_graph.asset_check_keys},
        "check_name": {key.name for key in repository.asset_graph.asset_check_keys},
    }


def dagster_kind(name: str) -> str | None:
    """What a backticked name in the docs claims to be, by the project's naming."""
    if re.fullmatch(r"(glyms|bitrix24|sync)/[a-z_]+", name):
        return "asset"
    if re.fullmatch(r"[a-z_]+_(daily|weekly|hourly)", name):
        return "schedule"
    if re.fullmatch(r"[a-z_]+_(sensor|alert|checks)", name):
        return "sensor"
    if re.fullmatch(r"(services|companies|full|maintenance)_(sync|reconcile|prune)", name):
        return "job"
    return None


def test_every_dagster_name_the_docs_name_is_defined():
    names = dagster_names()
    problems, seen = [], set()
    for where, text in doc_texts().items():
        for name in set(re.findall(r"`([a-z0-9_/]+)`", text)):
            kind = dagster_kind(name)
            if kind is None:
                continue
            seen.add(kind)
            if name not in names[kind]:
                problems.append(f"{where}: no {kind} named {name}")
        # "check failed: glyms/services price_validity", as the summary prints a check
        for asset, check in re.findall(r"((?:glyms|bitrix24|sync)/[a-z_]+) ([a-z_]+)`", text):
            if check in names["check_name"] and f"{asset} {check}" not in names["check"]:
                problems.append(f"{where}: {asset} has no check {check}")
    assert seen == {"asset", "schedule", "sensor", "job"}
    assert not problems, "\n".join(problems)


def test_the_dagster_name_check_catches_a_wrong_name():
    assert dagster_kind("services_sync_daily") == "schedule" and "services_sync_daily" not in dagster_names()["schedule"]
    assert dagster_kind("full_sync_daily") == "schedule" and "full_sync_daily" in dagster_names()["schedule"]


def manual_sections() -> set[str]:
    return set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", MANUAL.read_text(encoding="utf-8"), re.M))


def test_every_section_the_manual_refers_to_exists():
    text = MANUAL.read_text(encoding="utf-8")
    sections = manual_sections()
    referred = set()
    for first, _joiner, second in re.findall(r"secci(?:ó|o)n(?:es)? (\d+(?:\.\d+)?)(?: (y|a) (\d+(?:\.\d+)?))?", text):
        referred |= {n for n in (first, second) if n and float(n.split(".")[0]) <= 20}
    assert len(referred) > 10
    assert not referred - sections, f"the manual refers to sections it does not have: {sorted(referred - sections)}"


def test_every_readme_section_the_docs_name_exists():
    headings = set(re.findall(r"^#{2,3} (.+)$", (ROOT / "README.md").read_text(encoding="utf-8"), re.M))
    problems = []
    for where, text in doc_texts().items():
        for title in re.findall(r"README(?:'s|, sección| section|,)? \"([^\"]+)\"", text):
            if title not in headings:
                problems.append(f"{where}: README has no section {title!r}")
    assert not problems, "\n".join(problems)


@lru_cache(maxsize=1)
def ui_menus() -> set[str]:
    """The top-level menus of the installed Dagster UI (its navigation's labels, read from its bundle)."""
    import dagster_webserver

    build = Path(dagster_webserver.__file__).parent / "webapp" / "build"
    labels: set[str] = set()
    for path in build.rglob("*.js"):
        labels |= set(re.findall(r'label:"([A-Z][a-z]+)"', path.read_text(encoding="utf-8", errors="ignore")))
    return labels


def test_the_ui_menus_the_docs_name_are_the_installed_ui_s():
    menus = ui_menus()
    if "Automation" not in menus:
        pytest.skip("this Dagster UI bundle has no readable navigation labels")
    problems = []
    for where, text in doc_texts().items():
        for menu, tab in re.findall(r"\*\*([A-Z][a-z]+) (?:→|->) ([A-Z][a-z]+)\*\*", text):
            if menu not in menus:
                problems.append(f"{where}: the UI has no menu {menu}")
            if tab in ("Schedules", "Sensors") and menu != "Automation":
                problems.append(f"{where}: schedules and sensors are under Automation, not {menu}")
    assert not problems, "\n".join(problems)


def test_every_database_owner_the_docs_create_is_a_role_they_created_first():
    for where, text in doc_texts().items():
        for match in re.finditer(r"createdb\b[^\n]*?-O (\w+)", text):
            before = text[: match.start()]
            assert re.search(rf"createuser\b[^\n]*\b{match.group(1)}\b", before), (
                f"{where}: createdb -O {match.group(1)} before the role {match.group(1)} is created")


def glossary() -> str:
    text = MANUAL.read_text(encoding="utf-8")
    start = text.index("### 11.2 Glosario")
    return text[start : text.index("\n## ", start)]


def glossary_names() -> set[str]:
    return {name for cell in re.findall(r"^\| ([^|]+) \|", glossary(), re.M) for name in re.findall(r"`([^`]+)`", cell)}


def test_the_glossary_names_every_asset_and_check():
    names = dagster_names()
    listed = glossary_names()
    assert names["asset"] <= listed, sorted(names["asset"] - listed)
    assert names["check_name"] <= listed, sorted(names["check_name"] - listed)


def _action_outcome(key: str) -> bool:
    return bool(re.fullmatch(r"[a-z_]+_(success|failed)", key)) and key not in ("failed",)


def test_the_glossary_names_every_metadata_key_of_real_runs(glyms_dsn, portal):
    """Every metadata key a services run, a change-log run and a reconciliation record, on the sandbox's data
    (with its invalid rows, so the not-synced keys appear too), a dry run's included."""
    from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
    from glyms_b24_pipeline_tests.defs.companies.conftest import consume, make_resources, reconcile
    from glyms_b24_pipeline_tests.sandbox.test_hostile_corpus import _run_services

    seed_glyms(glyms_dsn, services=30, customers=20, seed=3)
    resources = make_resources(glyms_dsn, portal)
    results = [consume(resources, dry_run=True), _run_services(glyms_dsn, portal), consume(resources),
               reconcile(resources)]
    keys: set[str] = set()
    for result in results:
        for event in result.get_asset_materialization_events():
            keys |= set(event.event_specific_data.materialization.metadata)
        for evaluation in result.get_asset_check_evaluations():
            keys |= set(evaluation.metadata)
    assert {"explain_not_synced", "first_not_synced", "b24_requests"} <= keys
    listed = glossary_names()
    missing = sorted(k for k in keys if k not in listed and not _action_outcome(k))
    assert not missing, f"add these metadata keys to the manual's glossary (11.2): {missing}"
