"""After delivery: record each outcome, and the commands that act on deliveries later.

- `record_outcome`: lineage of one delivery, the supplier's new state, and the end of any
  older hold it replaces.
- `approve`: publish a held delivery unchanged, as a person decided, and record who.
- `redeliver`: publish an earlier delivery again, unchanged, as a new delivery.
- `remove_expired_deliveries`: the retention policy on the drops.

Held deliveries wait in <state>/held and every published delivery is also kept in
<state>/archive, both as folder drops, so approval and re-delivery send exactly the bytes
that were checked, and verify them against the hashes in lineage first.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from connectors.drops.base import MANIFEST_NAME, Delivery, manifest_bytes, sha256_hex
from connectors.drops.folder import FolderDrop
from connectors.errors import ConfigurationError, PolicyError, UsageError
from connectors.formats.base import DataFile
from contracts.agreements import LegalBasisType, LoadedAgreement, load_agreements
from lineage.audit import AuditLog
from lineage.rights import DeliveryMemberRecord, erased_hashes, record_members
from lineage.state import (
    commit_state,
    discard_pending,
    mark_removed,
    pending_state,
    promote,
    removed_deliveries,
    stage_pending,
    state_from_delivery,
)
from lineage.store import DeliverySnapshot, LineageStore
from pipelines.delivery import DeliveryOutcome, delivery_id_for
from pipelines.drops import archive_drop, drop_for, held_drop
from pipelines.settings import Settings

__all__ = [
    "Released",
    "approve",
    "lineage_id",
    "record_outcome",
    "redeliver",
    "remove_expired_deliveries",
]

_EMPTY_COUNTS = {"input": 0, "delivered": 0, "withheld": {}, "quarantined": 0}


def lineage_id(supplier: str, folder: str) -> str:
    """Lineage key of a delivery: folder names are unique per supplier only."""
    return f"{supplier}:{folder}"


def _folder(delivery: DeliverySnapshot) -> str:
    return delivery.delivery_id.split(":", 1)[1]


def record_outcome(
    store: LineageStore, settings: Settings, run_id: str, o: DeliveryOutcome, at: datetime
) -> None:
    """Record one outcome: the delivery, who was in it, and what the supplier now holds."""
    key = lineage_id(
        o.supplier, o.delivery_id or f"{o.status}-{o.school.lower()}-{run_id[:8]}".lower()
    )
    store.record_delivery(
        run_id,
        delivery_id=key,
        supplier=o.supplier,
        school=o.school,
        agreement_sha256=o.agreement_sha256,
        agreement_reference=o.agreement_reference,
        fields=list(o.fields),
        mode=o.mode,
        counts=o.counts or _EMPTY_COUNTS,
        files=[dict(f) for f in o.files] if o.status in ("delivered", "held", "dry_run") else [],
        manifest_sha256=o.manifest_sha256,
        location=o.location,
        status=o.status,
        created_at=at,
    )
    if o.status not in ("delivered", "held") or not o.member_ids:
        return
    state = pd.DataFrame(
        {
            "pupil_hash": list(o.member_ids),
            "row_hash": list(o.member_row_hashes),
            "ref": list(o.member_refs) or [None] * len(o.member_ids),
        }
    )
    if o.status == "delivered":
        record_members(store.engine, key, o.member_ids, o.member_row_hashes)
        commit_state(store.engine, o.supplier, o.school, key, state)
    else:
        stage_pending(store.engine, key, state)
    _supersede_holds(store, settings, o.supplier, o.school, keep=key)


def _supersede_holds(
    store: LineageStore, settings: Settings, supplier: str, school: str, *, keep: str
) -> None:
    """A newer delivery or hold for the same school ends any older hold."""
    for held in store.deliveries_of(supplier, statuses=("held",)):
        if held.school != school or held.delivery_id == keep:
            continue
        store.settle_held(held.delivery_id, status="superseded")
        discard_pending(store.engine, held.delivery_id)
        held_drop(settings).remove(supplier, _folder(held))


@dataclass(frozen=True)
class Released:
    """A delivery published by approve or redeliver."""

    supplier: str
    school: str
    delivery_id: str
    location: str


def _agreement(settings: Settings, supplier: str) -> LoadedAgreement:
    return load_agreements(settings.agreements_dir, [supplier])[0]


def _drop_root(store: LineageStore, run_id: str, settings: Settings) -> Path:
    """The drop folder the run that made a delivery used (it may differ from the default)."""
    run = store.get_run(run_id)
    recorded = run.parameters.get("drop") if run is not None else None
    return Path(recorded) if isinstance(recorded, str) and recorded else settings.drop_dir


def _read_delivery(root: FolderDrop, record: DeliverySnapshot, where: str) -> Delivery:
    """Read a stored delivery back and check it byte for byte against lineage."""
    folder = root.root / record.supplier / _folder(record)
    try:
        manifest_raw = (folder / MANIFEST_NAME).read_bytes()
    except OSError:
        raise ConfigurationError(
            f"delivery {record.delivery_id} is no longer in {where} ({folder}); it may have "
            "passed the retention period"
        ) from None
    if record.manifest_sha256 and sha256_hex(manifest_raw) != record.manifest_sha256:
        raise PolicyError(
            f"delivery {record.delivery_id} in {where} does not match its lineage record "
            "(manifest hash differs); it is not sent"
        )
    manifest: dict[str, Any] = json.loads(manifest_raw)
    files = []
    for entry in manifest["files"]:
        content = (folder / entry["name"]).read_bytes()
        if sha256_hex(content) != entry["sha256"]:
            raise PolicyError(
                f"delivery {record.delivery_id}: file {entry['name']} in {where} does not "
                "match its manifest hash; it is not sent"
            )
        files.append(DataFile(name=entry["name"], content=content, rows=int(entry["rows"])))
    return Delivery(
        supplier=record.supplier,
        delivery_id=_folder(record),
        files=tuple(files),
        manifest=manifest,
    )


def approve(settings: Settings, run_id: str, supplier: str, actor: str) -> list[Released]:
    """Publish the deliveries of `supplier` that run `run_id` held, and record the approval.

    Raises:
        UsageError: the run held nothing for this supplier (the message says what it did).
        ConfigurationError: the held files are gone, or the agreement changed since.
        PolicyError: the held files do not match their lineage record.
    """
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    try:
        if store.get_run(run_id) is None:
            raise UsageError(f"run {run_id} is not in the lineage database")
        run = store.deliveries_for_run(run_id)
        mine = [d for d in run if d.supplier == supplier]
        held = [d for d in mine if d.status == "held"]
        if not held:
            statuses = ", ".join(sorted({d.status for d in mine})) or "no deliveries"
            raise UsageError(
                f"run {run_id} holds nothing for supplier {supplier!r} (its deliveries: "
                f"{statuses}); a held delivery that a later run replaced is 'superseded'"
            )
        loaded = _agreement(settings, supplier)
        released = []
        for record in held:
            if record.agreement_sha256 != loaded.sha256:
                raise ConfigurationError(
                    f"the agreement of {supplier} changed since delivery {record.delivery_id} "
                    "was held; run Sluis again so the delivery follows the agreement as it is"
                )
            delivery = _read_delivery(held_drop(settings), record, "the held deliveries")
            drop = drop_for(loaded.agreement, settings, _drop_root(store, run_id, settings))
            archive_drop(settings).publish(delivery)
            receipt = drop.publish(delivery)
            members = pending_state(store.engine, record.delivery_id)
            store.settle_held(
                record.delivery_id,
                status="delivered",
                location=receipt.location,
                manifest_sha256=receipt.manifest_sha256,
            )
            if not members.empty:
                record_members(
                    store.engine, record.delivery_id, members["pupil_hash"], members["row_hash"]
                )
            promote(store.engine, supplier, record.school, record.delivery_id)
            held_drop(settings).remove(supplier, _folder(record))
            AuditLog(store.engine).append(
                actor,
                "delivery_approved",
                record.delivery_id,
                {"run_id": run_id, "supplier": supplier, "school": record.school},
            )
            released.append(Released(supplier, record.school, record.delivery_id, receipt.location))
        return released
    finally:
        store.dispose()


def _pick(
    store: LineageStore, supplier: str, delivery: str | None
) -> tuple[DeliverySnapshot, list[DeliverySnapshot]]:
    delivered = store.deliveries_of(supplier)
    if not delivered:
        raise UsageError(f"supplier {supplier!r} has received no delivery yet")
    if delivery is None:
        return delivered[-1], delivered
    wanted = delivery if ":" in delivery else lineage_id(supplier, delivery)
    for record in delivered:
        if record.delivery_id == wanted:
            return record, delivered
    raise UsageError(
        f"{supplier!r} received no delivery {delivery!r}; the latest ones: "
        + ", ".join(_folder(d) for d in delivered[-5:])
    )


def _member_hashes(store: LineageStore, delivery_id: str) -> set[str]:
    with store.engine.connect() as connection:
        return set(
            connection.scalars(
                select(DeliveryMemberRecord.pupil_hash).where(
                    DeliveryMemberRecord.delivery_id == delivery_id
                )
            )
        )


def redeliver(
    settings: Settings, supplier: str, delivery: str | None, actor: str, *, version: str
) -> Released:
    """Publish the last (or the named) delivery to `supplier` again, unchanged, as new.

    Refused when it would share what may no longer be shared: a pupil erased since, or,
    for a consent-based supplier, an older delivery than the school's latest (consent may
    have been withdrawn since).

    Raises:
        UsageError: no such delivery, or the refusal above.
        ConfigurationError: the archived copy is gone (older than the retention period).
        PolicyError: the archived copy does not match its lineage record.
    """
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    try:
        record, delivered = _pick(store, supplier, delivery)
        loaded = _agreement(settings, supplier)
        agreement = loaded.agreement
        erased = _member_hashes(store, record.delivery_id) & erased_hashes(store.engine)
        if erased:
            raise UsageError(
                f"delivery {_folder(record)} holds {len(erased)} pupil(s) whose data may no "
                "longer be shared (erasure recorded); run Sluis for a fresh delivery instead"
            )
        latest = [d for d in delivered if d.school == record.school][-1]
        if agreement.legal_basis.type is LegalBasisType.TOESTEMMING and latest != record:
            raise UsageError(
                f"{supplier} receives on consent: only its latest delivery for {record.school} "
                f"({_folder(latest)}) may be sent again, as consent may have been withdrawn since"
            )
        old = _read_delivery(archive_drop(settings), record, "the archive")
        now = datetime.now(UTC).replace(microsecond=0)
        run_id = str(uuid.uuid4())
        folder = delivery_id_for(now, record.school, run_id)
        manifest = {
            **old.manifest,
            "run_id": run_id,
            "created_at": now.isoformat(),
            "delivery_id": folder,
            "redelivery_of": _folder(record),
        }
        again = Delivery(supplier=supplier, delivery_id=folder, files=old.files, manifest=manifest)
        root = _drop_root(store, record.run_id, settings)
        store.start_run(
            run_id,
            started_at=now,
            trigger="redeliver",
            dry_run=False,
            parameters={"supplier": supplier, "delivery": _folder(record), "drop": str(root)},
            sluis_version=version,
        )
        archive_drop(settings).publish(again)
        receipt = drop_for(agreement, settings, root).publish(again)
        key = lineage_id(supplier, folder)
        store.record_delivery(
            run_id,
            delivery_id=key,
            supplier=supplier,
            school=record.school,
            agreement_sha256=record.agreement_sha256,
            agreement_reference=record.agreement_reference,
            fields=list(record.fields),
            mode=record.mode,
            counts={
                "input": record.counts.input,
                "delivered": record.counts.delivered,
                "withheld": dict(record.counts.withheld),
                "quarantined": record.counts.quarantined,
            },
            files=[{"name": f.name, "sha256": f.sha256, "rows": f.rows} for f in record.files],
            manifest_sha256=sha256_hex(manifest_bytes(manifest)),
            location=receipt.location,
            status="delivered",
            created_at=now,
        )
        members = state_from_delivery(store.engine, record.delivery_id)
        if not members.empty:
            record_members(store.engine, key, members["pupil_hash"], members["row_hash"])
            if record.mode == "full":
                # The supplier now holds exactly that delivery again: the next run's
                # changes and hold are counted from it.
                commit_state(store.engine, supplier, record.school, key, members)
        AuditLog(store.engine).append(
            actor,
            "redelivery",
            key,
            {
                "run_id": run_id,
                "supplier": supplier,
                "school": record.school,
                "of": record.delivery_id,
            },
        )
        store.finish_run(run_id, status="completed", finished_at=datetime.now(UTC))
        return Released(supplier, record.school, key, receipt.location)
    finally:
        store.dispose()


def remove_expired_deliveries(
    store: LineageStore,
    settings: Settings,
    agreements: list[LoadedAgreement],
    *,
    now: datetime,
    actor: str,
) -> int:
    """Remove deliveries older than each agreement's retention from its drop and archive.

    The newest delivery per school stays whatever its age: it is what the supplier holds
    now (a full supplier reads it as the current state). Held deliveries past the
    retention are ended too. Each removal is recorded, and one audit entry per supplier.

    Returns:
        How many deliveries were removed.
    """
    gone = removed_deliveries(store.engine)
    total = 0
    for loaded in agreements:
        agreement = loaded.agreement
        cutoff = now - timedelta(days=agreement.retention_days)
        delivered = store.deliveries_of(agreement.id)
        newest: dict[str, str] = {}
        for record in delivered:
            newest[record.school] = record.delivery_id
        expired = [
            record
            for record in delivered
            if record.created_at < cutoff
            and record.delivery_id not in gone
            and newest[record.school] != record.delivery_id
        ]
        stale_holds = [
            record
            for record in store.deliveries_of(agreement.id, statuses=("held",))
            if record.created_at < cutoff
        ]
        if not expired and not stale_holds:
            continue
        drop = drop_for(agreement, settings, settings.drop_dir)
        for record in expired:
            remover = getattr(drop, "remove", None)
            if remover is not None:
                remover(agreement.id, _folder(record))
            archive_drop(settings).remove(agreement.id, _folder(record))
            mark_removed(store.engine, record.delivery_id, now)
        for record in stale_holds:
            store.settle_held(record.delivery_id, status="superseded")
            discard_pending(store.engine, record.delivery_id)
            held_drop(settings).remove(agreement.id, _folder(record))
        AuditLog(store.engine).append(
            actor,
            "retention_purge",
            agreement.id,
            {
                "deliveries_removed": len(expired),
                "holds_ended": len(stale_holds),
                "retention_days": agreement.retention_days,
            },
        )
        total += len(expired)
    return total
