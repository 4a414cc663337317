"""One sync as the rest of the product sees it: its job, assets, push options and summary lines.

Each domain under ``defs/`` declares its ``SYNC``; ``definitions.py`` lists them, in the order
``--type all`` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Optional, Sequence

from glyms_b24_pipeline.sync.mappings import MappingCheck


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
    #: what its mappings are checked against (``glyms-b24 check-mappings``, and before its push)
    mappings: Optional[MappingCheck] = None
    description: str = ""
    #: the full comparison, when it is a job of its own (the change-log consumer sees only changes)
    reconcile: Optional["SyncSpec"] = None
    #: what the asset keys start with in this code location (``location.name``; none for one portal)
    key_prefix: tuple[str, ...] = ()

    def located(self, key_prefix: Sequence[str], assets_by_key: Mapping[Any, Any]) -> "SyncSpec":
        """This sync with every asset key prefixed: its assets taken from ``assets_by_key`` (the prefixed copies)."""
        prefix = tuple(key_prefix)
        if not prefix:
            return self

        def key(asset_key: Any) -> Any:
            return type(asset_key)([*prefix, *asset_key.path])

        return replace(self, assets=[assets_by_key[key(asset.key)] for asset in self.assets],
                       plan_key=key(self.plan_key), push_key=key(self.push_key), key_prefix=prefix,
                       reconcile=self.reconcile.located(prefix, assets_by_key) if self.reconcile else None)

    @property
    def reconcile_spec(self) -> "SyncSpec":
        """What ``glyms-b24 reconcile <name>`` runs: the reconciliation, or the sync when it already compares all."""
        return self.reconcile or self

    @property
    def push_op(self) -> str:
        """The push step's op name: a prefix renames its asset, not its op."""
        return "__".join(self.push_key.path[len(self.key_prefix):])


def push_summary_lines(label: str, written: str, push: Mapping[str, Any]) -> list[str]:
    """The push's line of a run summary, the same for every sync (``written``: "services", "companies")."""
    if push.get("dry_run"):
        return [f"  {label} dry run: nothing written ({push.get('planned_writes', 0)} writes planned)"]
    if push:
        return [f"  {label} push: {push.get('succeeded', 0)} {written} written, {push.get('failed', 0)} failed, "
                f"{int(push.get('b24_requests', 0))} API requests, {push.get('duration_seconds', 0)} s"]
    return []

