"""bench/run_all.py: every benchmark has a script and a section, and sections survive a partial run."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _run_all():
    spec = importlib.util.spec_from_file_location("bench_run_all", REPO_ROOT / "bench" / "run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_has_its_script_and_a_section_in_results():
    run_all = _run_all()
    sections = run_all.previous_sections((REPO_ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8"))
    for bench in run_all.BENCHMARKS:
        assert (REPO_ROOT / "bench" / bench.script).is_file(), bench.script
        assert bench.name in sections, f"bench/RESULTS.md has no section for {bench.name}"
        assert "\n|" in sections[bench.name], f"the {bench.name} section holds no table"
    assert set(sections) == {b.name for b in run_all.BENCHMARKS}


def test_tables_are_taken_with_their_caption_and_nothing_else():
    run_all = _run_all()
    output = "seeding...\n\nServices sync, N = 10\n| a | b |\n|---|---|\n| 1 | 2 |\nprogress line\n| c |\n|---|\n"
    assert run_all.markdown_tables(output) == "Services sync, N = 10\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n" \
        "progress line\n\n| c |\n|---|"


def test_a_partial_run_keeps_the_other_sections_verbatim():
    run_all = _run_all()
    text = ("# Benchmark results\n\nintro\n\n<!-- bench:pacing -->\n## Pacing\n\n| x |\n|---|\n\n"
            "<!-- bench:services -->\n## Services\n\n| y |\n|---|\n")
    sections = run_all.previous_sections(text)
    assert sections == {"pacing": "<!-- bench:pacing -->\n## Pacing\n\n| x |\n|---|\n",
                        "services": "<!-- bench:services -->\n## Services\n\n| y |\n|---|\n"}


# Each benchmark at a size that takes seconds, so a change that breaks a script is seen here, not at the next
# measurement. The latency benchmark starts the real daemon: one edit is enough.
SMALL_RUNS = {
    "pacing": ["--batches", "3", "--commands", "2"],
    "services": ["--services", "60"],
    "companies": ["--rows", "40", "--customers", "40", "--db-rows", "100"],
    "emulator": ["--sizes", "50", "100", "--seconds", "0.05", "--rounds", "2"],
    "latency": ["--edits", "1", "--timeout", "120"],
    "portals": ["--services", "60"],
    "scale": ["--sizes", "100"],
    "scale_limits": ["--sizes", "100", "--limits", "standard", "--runs", "services"],
}


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", sorted(SMALL_RUNS))
def test_every_benchmark_runs_at_a_small_size_and_prints_its_table(name, pg_admin_dsn):
    run_all = _run_all()
    bench = next(b for b in run_all.BENCHMARKS if b.name == name)
    env = {**os.environ, "GLYMS_B24_TEST_PG_DSN": pg_admin_dsn}
    done = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / bench.script), *SMALL_RUNS[name]],
                          capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=540)
    assert done.returncode == 0, done.stderr[-3000:]
    assert run_all.markdown_tables(done.stdout).count("\n|---") >= 1, done.stdout[-3000:]


def test_every_benchmark_has_a_small_run():
    assert set(SMALL_RUNS) == {b.name for b in _run_all().BENCHMARKS}


def test_record_writes_one_section_from_a_saved_output_and_keeps_the_rest(tmp_path, monkeypatch):
    run_all = _run_all()
    results = tmp_path / "RESULTS.md"
    results.write_text(run_all.HEADER + "\n<!-- bench:pacing -->\n## Pacing\n\n| x |\n|---|\n", encoding="utf-8")
    monkeypatch.setattr(run_all, "RESULTS", results)
    output = tmp_path / "out.txt"
    output.write_text("seeding...\nScale, unthrottled\n| N | run |\n|---:|---|\n| 100 | services no-op |\n")
    assert run_all.main(["--record", "scale", str(output)]) == 0
    sections = run_all.previous_sections(results.read_text(encoding="utf-8"))
    assert sections["pacing"] == "<!-- bench:pacing -->\n## Pacing\n\n| x |\n|---|\n"
    assert "Scale, unthrottled\n\n| N | run |\n|---:|---|\n| 100 | services no-op |" in sections["scale"]
    assert "`python bench/bench_scale.py`" in sections["scale"]
