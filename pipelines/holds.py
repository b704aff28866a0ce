"""After delivery: record each outcome, and the commands that act on deliveries later.

- `record_outcome`: lineage of one delivery, the supplier's new state, and the end of any
  older hold it replaces; `record_outcomes` the same for a batch, in one transaction.
- `approve`: publish a held delivery unchanged, as a person decided, and record who.
- `redeliver`: publish an earlier delivery again, unchanged, as a new delivery.
- `remove_expired_deliveries`: the retention policy on the drops.

Held deliveries wait in <state>/held and every published delivery is also kept in
<state>/archive, both as folder drops, so approval and re-delivery send exactly the bytes
that were checked, and verify them against the hashes in lineage first.

Approval and re-delivery live here; recording outcomes is in `recording` and the
retention on the drops in `delivery_retention`, both importable from here as before.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from connectors.drops.base import MANIFEST_NAME, Delivery, Drop, sha256_hex
from connectors.drops.folder import FolderDrop
from connectors.errors import ConfigurationError, DeliveryError, PolicyError, SluisError, UsageError
from connectors.formats.base import DataFile
from connectors.i18n import _, ngettext
from connectors.identifiers import canonical_id
from contracts.agreements import LegalBasisType, LoadedAgreement, load_agreements
from lineage.audit import AuditLog
from lineage.rights import DeliveryMemberRecord, erased_hashes, record_members
from lineage.state import PUPIL, commit_state, discard_pending, pending_state, state_from_delivery
from lineage.store import DeliverySnapshot, LineageStore
from pipelines.delivery_outcome import delivery_id_for
from pipelines.delivery_retention import remove_expired_deliveries
from pipelines.drops import archive_drop, drop_for, held_drop
from pipelines.keys import check_run_keys
from pipelines.recording import (
    folder_of,
    latest_by_school,
    lineage_id,
    record_outcome,
    record_outcomes,
    supersede_all,
    supersede_holds,
)
from pipelines.settings import Settings

__all__ = [
    "Released",
    "approve",
    "lineage_id",
    "record_outcome",
    "record_outcomes",
    "redeliver",
    "remove_expired_deliveries",
    "supersede_all",
    "supersede_holds",
]


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
    folder = root.root / record.supplier / folder_of(record)
    try:
        manifest_raw = (folder / MANIFEST_NAME).read_bytes()
    except OSError:
        raise ConfigurationError(
            _(
                "levering {delivery} staat niet meer in {where} ({folder}); mogelijk is de "
                "bewaartermijn verstreken"
            ).format(delivery=record.delivery_id, where=where, folder=folder)
        ) from None
    if record.manifest_sha256 and sha256_hex(manifest_raw) != record.manifest_sha256:
        raise PolicyError(
            _(
                "levering {delivery} in {where} klopt niet met haar lineage-record (de hash "
                "van het manifest verschilt); ze wordt niet verstuurd"
            ).format(delivery=record.delivery_id, where=where)
        )
    manifest: dict[str, Any] = json.loads(manifest_raw)
    files = []
    for entry in manifest["files"]:
        try:
            content = (folder / entry["name"]).read_bytes()
        except OSError:
            raise ConfigurationError(
                _(
                    "levering {delivery}: bestand {name} ontbreekt in {where} ({folder}); ze "
                    "wordt niet verstuurd"
                ).format(
                    delivery=record.delivery_id, name=entry["name"], where=where, folder=folder
                )
            ) from None
        if sha256_hex(content) != entry["sha256"]:
            raise PolicyError(
                _(
                    "levering {delivery}: bestand {name} in {where} klopt niet met de hash in "
                    "het manifest; ze wordt niet verstuurd"
                ).format(delivery=record.delivery_id, name=entry["name"], where=where)
            )
        files.append(DataFile(name=entry["name"], content=content, rows=int(entry["rows"])))
    return Delivery(
        supplier=record.supplier,
        delivery_id=folder_of(record),
        files=tuple(files),
        manifest=manifest,
    )


def approve(settings: Settings, run_id: str, supplier: str, actor: str) -> list[Released]:
    """Publish the deliveries of `supplier` that run `run_id` held, and record the approval.

    Raises:
        UsageError: the run held nothing for this supplier (the message says what it did).
        ConfigurationError: the held files are gone, the agreement changed since, or the
            membership or audit key is missing or not the one lineage recorded (erasures
            could not be checked).
        PolicyError: the held files do not match their lineage record.
    """
    # As typed or copied: run ids and supplier ids are lower case, spaces do not count.
    run_id, supplier = canonical_id(run_id), canonical_id(supplier)
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    try:
        # Erasures are keyed hashes: only the recorded key can check them.
        keys = check_run_keys(settings, store.engine, (), may_generate=False)
        audit = AuditLog(store.engine, keys.audit)
        if store.get_run(run_id) is None:
            raise UsageError(
                _("run {run_id} staat niet in de lineage-database").format(run_id=run_id)
            )
        run = store.deliveries_for_run(run_id)
        mine = [d for d in run if d.supplier == supplier]
        held = [d for d in mine if d.status == "held"]
        if not held:
            statuses = ", ".join(sorted({d.status for d in mine})) or _("geen leveringen")
            raise UsageError(
                _(
                    "run {run_id} houdt niets tegen voor leverancier {supplier} (haar "
                    "leveringen: {statuses}); een tegengehouden levering die een latere run "
                    "verving heeft status 'superseded'"
                ).format(run_id=run_id, supplier=repr(supplier), statuses=statuses)
            )
        loaded = _agreement(settings, supplier)
        today = datetime.now(UTC).date()
        if not loaded.agreement.is_valid_on(today):
            raise UsageError(
                _(
                    "de overeenkomst van {supplier} ({reference}) geldt niet op {today}; een "
                    "tegengehouden levering eronder kan niet vrijgegeven worden"
                ).format(
                    supplier=supplier,
                    reference=loaded.agreement.agreement.reference,
                    today=today,
                )
            )
        erased = erased_hashes(store.engine)
        released = []
        drop: Drop | None = None  # every held delivery of the run goes to the same drop
        for record in held:
            if record.agreement_sha256 != loaded.sha256:
                raise ConfigurationError(
                    _(
                        "de overeenkomst van {supplier} is gewijzigd sinds levering {delivery} "
                        "werd tegengehouden; draai Sluis opnieuw zodat de levering de "
                        "overeenkomst volgt zoals die nu is"
                    ).format(supplier=supplier, delivery=record.delivery_id)
                )
            members = pending_state(store.engine, record.delivery_id)
            if set(members["pupil_hash"]) & erased:
                raise UsageError(
                    _(
                        "levering {delivery} bevat een leerling die na het tegenhouden vergeten "
                        "is; ze kan niet vrijgegeven worden: draai Sluis opnieuw"
                    ).format(delivery=record.delivery_id)
                )
            delivery = _read_delivery(held_drop(settings), record, _("de tegengehouden leveringen"))
            if drop is None:
                drop = drop_for(loaded.agreement, settings, _drop_root(store, run_id, settings))
            # Publishing the same delivery again is a no-op, so an approval that stopped
            # half-way (a crash, a lost connection) can simply be given again.
            receipt = drop.publish(delivery)
            # The delivery reached the supplier; losing the copy loses only re-delivery.
            with contextlib.suppress(DeliveryError):
                archive_drop(settings).publish(delivery)
            # State and members first, the audit entry, then the status: each step can be
            # repeated, and a delivery shown as delivered always has its approval recorded.
            commit_state(store.engine, supplier, record.school, record.delivery_id, members)
            pupils = members.loc[members["kind"].eq(PUPIL)]  # members are pupils, not teachers
            if not pupils.empty and not _member_hashes(store, record.delivery_id):
                record_members(
                    store.engine, record.delivery_id, pupils["pupil_hash"], pupils["row_hash"]
                )
            audit.append(
                actor,
                "delivery_approved",
                record.delivery_id,
                {"run_id": run_id, "supplier": supplier, "school": record.school},
            )
            store.settle_held(
                record.delivery_id,
                status="delivered",
                location=receipt.location,
                manifest_sha256=receipt.manifest_sha256,
            )
            discard_pending(store.engine, record.delivery_id)
            held_drop(settings).remove(supplier, folder_of(record))
            released.append(Released(supplier, record.school, record.delivery_id, receipt.location))
        return released
    finally:
        store.dispose()


def _pick(
    delivered: list[DeliverySnapshot], supplier: str, delivery: str | None
) -> list[DeliverySnapshot]:
    """The deliveries to send again: the named one, else each school's latest."""
    if not delivered:
        raise UsageError(
            _("leverancier {supplier} heeft nog geen levering gekregen").format(
                supplier=repr(supplier)
            )
        )
    if delivery is None:
        return list(latest_by_school(delivered).values())
    wanted = delivery if ":" in delivery else lineage_id(supplier, delivery)
    for record in delivered:
        if record.delivery_id == wanted:
            return [record]
    raise UsageError(
        _("{supplier} kreeg geen levering {delivery}; de laatste: {latest}").format(
            supplier=repr(supplier),
            delivery=repr(delivery),
            latest=", ".join(folder_of(d) for d in delivered[-5:]),
        )
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


def _refuse_unsafe_redelivery(
    store: LineageStore,
    loaded: LoadedAgreement,
    record: DeliverySnapshot,
    latest: bool,
    erasures: frozenset[str],
) -> None:
    """Refuse what would share what may no longer be shared."""
    agreement = loaded.agreement
    name = folder_of(record)
    today = datetime.now(UTC).date()
    if not agreement.is_valid_on(today):
        raise UsageError(
            _(
                "de overeenkomst van {supplier} geldt niet op {today}; er wordt niets verstuurd"
            ).format(supplier=agreement.id, today=today)
        )
    extra = sorted(set(record.fields) - set(agreement.field_names))
    if extra:
        raise UsageError(
            _(
                "levering {name} bevat velden die de overeenkomst niet meer noemt ({fields}); "
                "draai Sluis voor een nieuwe levering"
            ).format(name=name, fields=", ".join(extra))
        )
    members = _member_hashes(store, record.delivery_id)
    if record.counts.delivered and not members:
        raise UsageError(
            _(
                "levering {name} kan niet meer tegen vergeet-opdrachten gecontroleerd worden "
                "(de bewaartermijn van haar leden is voorbij); draai Sluis voor een nieuwe "
                "levering"
            ).format(name=name)
        )
    erased = members & erasures
    if erased:
        raise UsageError(
            ngettext(
                "levering {name} bevat {n} leerling wier gegevens niet meer gedeeld mogen "
                "worden (vergeet-opdracht vastgelegd); draai Sluis voor een nieuwe levering",
                "levering {name} bevat {n} leerlingen wier gegevens niet meer gedeeld mogen "
                "worden (vergeet-opdracht vastgelegd); draai Sluis voor een nieuwe levering",
                len(erased),
            ).format(name=name, n=len(erased))
        )
    if latest:
        return
    if agreement.mode == "delta" or record.mode == "delta":
        raise UsageError(
            _(
                "levering {name} is een delta en niet de laatste: opnieuw versturen zou latere "
                "wijzigingen ongedaan maken; alleen de laatste delta per school kan opnieuw"
            ).format(name=name)
        )
    if agreement.legal_basis.type is LegalBasisType.TOESTEMMING:
        raise UsageError(
            _(
                "{supplier} ontvangt op toestemming: alleen de laatste levering per school mag "
                "opnieuw, want de toestemming kan inmiddels ingetrokken zijn"
            ).format(supplier=agreement.id)
        )


def redeliver(
    settings: Settings, supplier: str, delivery: str | None, actor: str, *, version: str
) -> list[Released]:
    """Publish each school's last (or the named) delivery to `supplier` again, as new ones.

    The files are sent unchanged, with a new manifest that names the delivery it repeats.
    Refused when that would share what may no longer be shared: an expired agreement, a
    field the agreement no longer lists, a pupil erased since (or a delivery that can no
    longer be checked for that), and, unless it is the school's latest, a delta or a
    delivery to a consent-based supplier.

    Raises:
        UsageError: no such delivery, or one of the refusals above.
        ConfigurationError: the archived copy is gone (older than the retention period),
            or the membership or audit key is missing or not the one lineage recorded.
        PolicyError: the archived copy does not match its lineage record.
    """
    # Delivery folder names are lower case (delivery_id_for), whatever the user types.
    supplier = canonical_id(supplier)
    delivery = canonical_id(delivery) if delivery is not None else None
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    try:
        # Erasures are keyed hashes: only the recorded key can check them.
        keys = check_run_keys(settings, store.engine, (), may_generate=False)
        audit = AuditLog(store.engine, keys.audit)
        delivered = store.deliveries_of(supplier)
        records = _pick(delivered, supplier, delivery)
        loaded = _agreement(settings, supplier)
        newest = latest_by_school(delivered)
        erasures = erased_hashes(store.engine)
        for record in records:
            latest = newest[record.school] == record
            _refuse_unsafe_redelivery(store, loaded, record, latest, erasures)
        return [
            _send_again(store, settings, loaded, record, actor, version, audit)
            for record in records
        ]
    finally:
        store.dispose()


def _send_again(
    store: LineageStore,
    settings: Settings,
    loaded: LoadedAgreement,
    record: DeliverySnapshot,
    actor: str,
    version: str,
    audit: AuditLog,
) -> Released:
    supplier = loaded.agreement.id
    old = _read_delivery(archive_drop(settings), record, _("het archief"))
    now = datetime.now(UTC).replace(microsecond=0)
    run_id = str(uuid.uuid4())
    folder = delivery_id_for(now, record.school, run_id)
    manifest = {
        **old.manifest,
        "run_id": run_id,
        "created_at": now.isoformat(),
        "delivery_id": folder,
        "redelivery_of": folder_of(record),
    }
    again = Delivery(supplier=supplier, delivery_id=folder, files=old.files, manifest=manifest)
    root = _drop_root(store, record.run_id, settings)
    store.start_run(
        run_id,
        started_at=now,
        trigger="redeliver",
        dry_run=False,
        parameters={"supplier": supplier, "delivery": folder_of(record), "drop": str(root)},
        sluis_version=version,
    )
    try:
        receipt = drop_for(loaded.agreement, settings, root).publish(again)
        with contextlib.suppress(DeliveryError):
            archive_drop(settings).publish(again)
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
            manifest_sha256=receipt.manifest_sha256,
            location=receipt.location,
            status="delivered",
            created_at=now,
        )
        members = state_from_delivery(store.engine, record.delivery_id)
        if not members.empty:
            record_members(store.engine, key, members["pupil_hash"], members["row_hash"])
        if record.mode == "full":
            # The supplier now holds exactly that delivery again: the next run's changes
            # and hold are counted from it, and an older hold no longer applies.
            commit_state(store.engine, supplier, record.school, key, members)
            supersede_holds(store, settings, supplier, record.school, keep=key)
        audit.append(
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
    except SluisError as exc:
        store.finish_run(run_id, status="failed", finished_at=datetime.now(UTC), message=str(exc))
        raise
    store.finish_run(run_id, status="completed", finished_at=datetime.now(UTC))
    return Released(supplier, record.school, key, receipt.location)
