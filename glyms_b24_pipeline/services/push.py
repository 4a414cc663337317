"""Apply a services plan to Bitrix24 in batches and report each service's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence

from glyms_b24_pipeline.audit import AuditRecord
from glyms_b24_pipeline.config import ServicesSettings
from glyms_b24_pipeline.services.plan import Action, PlannedChange

# Services per slice: audit rows are written after each slice, so a crash loses at most one
# slice's records (the next run's full comparison repairs the catalog either way).
SLICE_SIZE = 250


@dataclass(frozen=True)
class ServiceCommand:
    key: str
    method: str
    params: dict[str, Any]
    operation: str  # create | update | reactivate | deactivate | price_add | price_update


@dataclass
class ServiceOutcome:
    change: PlannedChange
    bitrix_id: Optional[int]
    ok: bool
    errors: list[str] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)


def service_commands(change: PlannedChange, settings: ServicesSettings) -> list[ServiceCommand]:
    """The Bitrix24 calls one planned change needs, in order (a create before its price)."""
    commands: list[ServiceCommand] = []
    service_key = f"s{change.xml_id}"
    product_id: Any = change.bitrix_id
    if change.action == Action.CREATE:
        commands.append(ServiceCommand(service_key, "catalog.product.service.add", {"fields": dict(change.fields)}, "create"))
        # resolved by the portal inside the same batch
        product_id = f"$result[{service_key}][service][id]"
    elif change.fields:
        commands.append(
            ServiceCommand(service_key, "catalog.product.service.update", {"id": change.bitrix_id, "fields": dict(change.fields)},
                           change.action.value)
        )
    if change.price is not None:
        price_fields = {"price": str(change.price), "currency": settings.currency}
        if change.price_id is not None:
            commands.append(ServiceCommand(f"p{change.xml_id}", "catalog.price.update",
                                           {"id": change.price_id, "fields": price_fields}, "price_update"))
        else:
            commands.append(ServiceCommand(
                f"p{change.xml_id}", "catalog.price.add",
                {"fields": {"productId": product_id, "catalogGroupId": settings.price_type_id, **price_fields}},
                "price_add",
            ))
    return commands


def _created_id(result: Any) -> Optional[int]:
    if isinstance(result, dict) and isinstance(result.get("service"), dict):
        try:
            return int(result["service"]["id"])
        except (KeyError, TypeError, ValueError):
            return None
    return None


def apply_service_plan(
    client: Any,
    changes: Sequence[PlannedChange],
    settings: ServicesSettings,
    on_slice_done: Callable[[list[ServiceOutcome]], None] = lambda outcomes: None,
) -> list[ServiceOutcome]:
    """Send every write of ``changes`` through ``client.batch``; one outcome per change.

    A failed command fails only its own service; a create whose price failed is reported
    failed with the service id kept, so the next run adds the missing price.
    """
    outcomes: list[ServiceOutcome] = []
    writing = [c for c in changes if c.writes]
    for start in range(0, len(writing), SLICE_SIZE):
        slice_changes = writing[start : start + SLICE_SIZE]
        planned = [(change, service_commands(change, settings)) for change in slice_changes]
        results = client.batch({cmd.key: (cmd.method, cmd.params) for _, cmds in planned for cmd in cmds})
        slice_outcomes = []
        for change, cmds in planned:
            outcome = ServiceOutcome(change=change, bitrix_id=change.bitrix_id, ok=True)
            for cmd in cmds:
                result = results[cmd.key]
                if cmd.operation == "create" and result.ok:
                    outcome.bitrix_id = _created_id(result.result)
                error = None if result.ok else str(result.error)
                if error:
                    outcome.ok = False
                    outcome.errors.append(f"{cmd.method}: {error}")
                outcome.audit.append(
                    AuditRecord(
                        entity="service_price" if cmd.operation.startswith("price") else "service",
                        glyms_key=change.xml_id,
                        operation=cmd.operation,
                        outcome="success" if result.ok else "failed",
                        bitrix_id=str(outcome.bitrix_id) if outcome.bitrix_id is not None else None,
                        error=error,
                        detail=_audit_detail(cmd, change),
                    )
                )
            slice_outcomes.append(outcome)
        on_slice_done(slice_outcomes)
        outcomes.extend(slice_outcomes)
    return outcomes


def _audit_detail(cmd: ServiceCommand, change: PlannedChange) -> dict[str, Any]:
    if cmd.operation.startswith("price"):
        return {"price": str(change.price), "old_price": str(change.old_price) if change.old_price is not None else None}
    return {"fields": dict(change.fields)}


def skipped_records(changes: Iterable[PlannedChange]) -> list[AuditRecord]:
    """Audit rows for services the plan could not write (invalid data, duplicate xmlIds)."""
    return [
        AuditRecord(entity="service", glyms_key=c.xml_id, operation=c.action.value, outcome="skipped",
                    bitrix_id=str(c.bitrix_id) if c.bitrix_id is not None else None, error=c.reason)
        for c in changes
        if c.action in (Action.INVALID, Action.DUPLICATE)
    ]
