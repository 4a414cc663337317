"""The registry of syncs: the CLI's ``--type`` choices, the jobs, the run summary and the asset paths.

Adding a sync means adding its sibling package (which exposes ``SPEC``) and one line here.
Nothing is imported until a sync is used, so ``glyms-b24 --help`` stays fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

#: the job that runs every registered sync (the legacy ``--sync_type all``)
FULL_SYNC_JOB = "full_sync"

#: sync name -> the package that defines it, in the order "all" runs them
SYNC_PACKAGES: dict[str, str] = {
    "services": "glyms_b24_pipeline.services",
    "companies": "glyms_b24_pipeline.companies",
}


@dataclass(frozen=True)
class SyncOptions:
    """What an operator can ask of a run, whatever the sync."""

    dry_run: bool = False
    allow_mass_deactivation: bool = False
    allow_mass_deletion: bool = False


@dataclass(frozen=True)
class SyncSpec:
    """One sync as the rest of the product sees it."""

    name: str
    job_name: str
    assets: Sequence[Any]
    plan_key: Any  # dg.AssetKey
    push_key: Any  # dg.AssetKey
    #: run config of the push step for these options
    push_config: Callable[[SyncOptions], Any]
    #: summary lines from the plan's and the push's materialisation metadata
    summary: Callable[[Mapping[str, Any], Mapping[str, Any]], list[str]]
    description: str = ""
    #: the full comparison, when it is a job of its own (the change-log consumer sees only changes)
    reconcile: Optional["SyncSpec"] = None

    @property
    def reconcile_spec(self) -> "SyncSpec":
        """What ``glyms-b24 reconcile <name>`` runs: the reconciliation, or the sync when it already compares all."""
        return self.reconcile or self

    @property
    def push_op(self) -> str:
        return "__".join(self.push_key.path)


def push_summary_lines(label: str, written: str, push: Mapping[str, Any]) -> list[str]:
    """The push's line of a run summary, the same for every sync (``written``: "services", "companies")."""
    if push.get("dry_run"):
        return [f"  {label} dry run: nothing written ({push.get('planned_writes', 0)} writes planned)"]
    if push:
        return [f"  {label} push: {push.get('succeeded', 0)} {written} written, {push.get('failed', 0)} failed, "
                f"{int(push.get('b24_requests', 0))} API requests, {push.get('duration_seconds', 0)} s"]
    return []


def sync_names() -> list[str]:
    return list(SYNC_PACKAGES)


def load_sync(name: str) -> SyncSpec:
    if name not in SYNC_PACKAGES:
        raise KeyError(f"unknown sync {name!r}; known: {', '.join(SYNC_PACKAGES)}")
    spec = importlib.import_module(SYNC_PACKAGES[name]).SPEC
    assert spec.name == name, f"{SYNC_PACKAGES[name]}.SPEC is named {spec.name!r}, registered as {name!r}"
    return spec


def all_syncs(names: Optional[Sequence[str]] = None) -> list[SyncSpec]:
    return [load_sync(name) for name in (names or sync_names())]
