"""Retention on the drops: remove deliveries older than their agreement allows."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from pathlib import Path

from connectors.drops.folder import FolderDrop
from connectors.drops.registry import RemovableDrop
from connectors.errors import ConfigurationError, SluisError
from connectors.i18n import _
from contracts.agreements import Agreement, FolderDropSettings, LoadedAgreement
from lineage.audit import AuditLog
from lineage.state import forget_suppliers, mark_removed, removed_deliveries
from lineage.store import DeliverySnapshot, LineageStore
from pipelines.drops import archive_drop, drop_for
from pipelines.keys import audit_log
from pipelines.recording import end_hold, folder_of, latest_by_school
from pipelines.settings import Settings

__all__ = [
    "remove_expired_deliveries",
]


def remove_expired_deliveries(
    store: LineageStore,
    settings: Settings,
    agreements: list[LoadedAgreement],
    *,
    now: datetime,
    actor: str,
    problems: list[str] | None = None,
    keep_state_of: Collection[str] = (),
    audit: AuditLog | None = None,
) -> int:
    """Remove deliveries older than each agreement's retention from its drop and archive.

    The newest delivery per school stays whatever its age: it is what the supplier holds
    now (a full supplier reads it as the current state). Held deliveries past the
    retention are ended too. Each removal is recorded, and one audit entry per supplier.

    Args:
        store: the lineage store.
        settings: the run's settings.
        agreements: every agreement, also of suppliers this run does not deliver to.
        now: the time retention is counted from.
        actor: who the audit entries name.
        problems: where to add a line per delivery that could not be removed (it is tried
            again next time and not recorded as removed).
        keep_state_of: suppliers whose agreement file exists but cannot be used now: their
            agreement has not ended, so what they hold is kept.
        audit: the run's audit log; else the settings' audit key is checked for one.

    Returns:
        How many deliveries were removed.
    """
    problems = problems if problems is not None else []
    log = audit if audit is not None else audit_log(settings, store.engine)
    ended = forget_suppliers(
        store.engine, {a.agreement.id for a in agreements} | set(keep_state_of)
    )
    if ended:
        log.append(
            actor, "retention_purge", "sluis", {"supplier_state_rows_of_ended_agreements": ended}
        )
    gone = removed_deliveries(store.engine)
    total = 0
    for loaded in agreements:
        agreement = loaded.agreement
        cutoff = now - timedelta(days=agreement.retention_days)
        delivered = store.deliveries_of(agreement.id)
        newest = latest_by_school(delivered)
        expired = [
            record
            for record in delivered
            if record.created_at < cutoff
            and record.delivery_id not in gone
            and newest[record.school].delivery_id != record.delivery_id
        ]
        stale_holds = [
            record
            for record in store.deliveries_of(agreement.id, statuses=("held",))
            if record.created_at < cutoff
        ]
        if not expired and not stale_holds:
            continue
        removed = 0
        for record in expired:
            try:
                _drop_of(record, agreement, settings).remove(agreement.id, folder_of(record))
                archive_drop(settings).remove(agreement.id, folder_of(record))
            except SluisError as exc:
                # Tried again by the next run; a delivery that stays is not recorded gone.
                problems.append(
                    _("{delivery}: niet verwijderd: {problem}").format(
                        delivery=record.delivery_id, problem=exc
                    )
                )
                continue
            mark_removed(store.engine, record.delivery_id, now)
            removed += 1
        for record in stale_holds:
            end_hold(store, settings, agreement.id, record.delivery_id)
        if removed or stale_holds:
            log.append(
                actor,
                "retention_purge",
                agreement.id,
                {
                    "deliveries_removed": removed,
                    "holds_ended": len(stale_holds),
                    "retention_days": agreement.retention_days,
                },
            )
        total += removed
    return total


def _drop_of(record: DeliverySnapshot, agreement: Agreement, settings: Settings) -> RemovableDrop:
    """The drop a delivery went to: for a folder drop the folder it was published in."""
    location = record.location or ""
    if isinstance(agreement.drop, FolderDropSettings) and location.startswith("/"):
        return FolderDrop(Path(location).parent.parent)
    drop = drop_for(agreement, settings, settings.drop_dir)
    if not isinstance(drop, RemovableDrop):  # pragma: no cover - every shipped drop removes
        raise ConfigurationError(
            _("de levermap van {supplier} kan geen leveringen verwijderen").format(
                supplier=agreement.id
            )
        )
    return drop
