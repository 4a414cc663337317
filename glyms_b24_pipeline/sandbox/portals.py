"""Several portals on one Dagster instance, on this machine: one code location per portal (`deploy/portals/`).

Each portal is an emulator and a Glyms database of its own, with a settings file naming its code
location; :class:`~glyms_b24_pipeline.sandbox.deployment.LocalDeployment` serves them from one
instance, one daemon and one UI. The two-portal end-to-end test and ``bench/bench_portals.py`` share
this.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import dagster as dg
import yaml

from glyms_b24_pipeline.runs.instance import open_instance
from glyms_b24_pipeline.sync.jobs import REPOSITORY_LABEL_TAG, WRITER_TAG_KEY
from glyms_b24_pipeline.sync.outcome import RunOutcome

#: a writer slot shared by every portal (the instance before this version, or a misconfigured one):
#: runs of several portals one after the other
SHARED_WRITER_SLOT = {"key": "glyms_b24/bitrix24", "limit": 1}


def portal_settings(name: str, *, burst: int, drain_per_second: float) -> dict[str, Any]:
    """The settings file of portal ``name``: its code location, the portal's limits."""
    return {"location": {"name": name},
            "bitrix24": {"rate_limit": {"burst": burst, "drain_per_second": drain_per_second}}}


def portal_environment(folder: Path, name: str, glyms_dsn: str, webhook_url: str, *, burst: int,
                       drain_per_second: float) -> dict[str, str]:
    """What `deploy/portals/portal.env.example` holds for portal ``name`` (the settings file written here)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(portal_settings(name, burst=burst, drain_per_second=drain_per_second)),
                    encoding="utf-8")
    return {"GLYMS_PG_DSN": glyms_dsn, "B24_WEBHOOK_URL": webhook_url, "GLYMS_B24_CONFIG": str(path)}


def instance_yaml(repository_dagster_yaml: Path, *, shared_slot: bool = False) -> str:
    """The repository's dagster.yaml; with ``shared_slot``, one writer slot for every portal instead."""
    config = yaml.safe_load(repository_dagster_yaml.read_text(encoding="utf-8"))
    if shared_slot:
        config["concurrency"]["runs"]["tag_concurrency_limits"] = [dict(SHARED_WRITER_SLOT)]
    return yaml.safe_dump(config, sort_keys=False)


@dataclass(frozen=True)
class RunSpan:
    """One finished run: its location, when it ran, what it asked of its portal."""

    location: str
    run_id: str
    job: str
    status: str
    start: float
    end: float
    requests: int
    #: its writer tag's value: the queue slot it took
    slot: str

    def overlaps(self, other: "RunSpan") -> bool:
        return self.start < other.end and other.start < self.end


def location_runs(home: Path, env: Mapping[str, str], location: str, job: Optional[str] = None) -> list[RunSpan]:
    """The finished runs of ``location`` (of ``job`` when given), oldest first."""
    previous = os.environ.copy()
    os.environ.update(env)
    try:
        with open_instance(home) as instance:
            records = instance.get_run_records(dg.RunsFilter(
                job_name=job, tags={REPOSITORY_LABEL_TAG: f"__repository__@{location}"}))
            spans = []
            for record in records:
                if not record.dagster_run.is_finished or record.start_time is None or record.end_time is None:
                    continue
                outcome = RunOutcome.from_storage(instance, record.dagster_run.run_id)
                requests = sum(int(m.get("b24_requests") or 0) for m in outcome.materializations.values())
                spans.append(RunSpan(location, record.dagster_run.run_id, record.dagster_run.job_name,
                                     record.dagster_run.status.value, record.start_time, record.end_time, requests,
                                     record.dagster_run.tags.get(WRITER_TAG_KEY, "")))
    finally:
        os.environ.clear()
        os.environ.update(previous)
    return sorted(spans, key=lambda span: span.start)


def sync_together(deployment: Any, runs: Mapping[str, int], *, sync_type: str = "services",
                  timeout: float = 600.0) -> list[tuple[str, int, str, str]]:
    """``glyms-b24 sync --type sync_type`` started at once, ``runs[location]`` times for each location,
    through the daemon's queue; returns (location, exit code, stdout, stderr) of each."""
    started = []
    for location, count in runs.items():
        for _ in range(count):
            command = [sys.executable, "-m", "glyms_b24_pipeline.cli", "sync", "--type", sync_type]
            started.append((location, subprocess.Popen(command, env=deployment.environment(location),
                                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    results = []
    for location, process in started:
        out, err = process.communicate(timeout=timeout)
        results.append((location, process.returncode, out, err))
    return results


def wall_seconds(spans: Sequence[RunSpan]) -> float:
    """From the first run's start to the last run's end."""
    return max(span.end for span in spans) - min(span.start for span in spans)
