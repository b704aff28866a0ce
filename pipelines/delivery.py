"""Deliver a batch of schools to one supplier: cut, compare, render, then publish or hold.

Plain functions, so they are tested without Prefect. Per school: apply the agreement,
compare with what the supplier holds (lineage state), render the full set or only the
changes, encrypt when the agreement asks, and then either hold it for approval when it
changes too much, skip it when nothing changed, or plan it for the drop. The planned
deliveries of the batch are then published together: their intents in one lineage
commit, each delivery atomically in the drop, their confirmations in one more commit,
and an archive copy of each for re-delivery. The outcome holds counts, field names,
hashes and locations, never a value.

This module renders one school's delivery and the batch; the outcome and targets are in
`delivery_outcome`, a delta's pupil rows in `delivery_delta`, the groups and teachers in
`delivery_staff`, and publishing the batch in `delivery_publish`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from connectors.drops.base import Delivery, build_manifest, manifest_bytes, sha256_hex
from connectors.errors import PolicyError, SluisError
from connectors.formats.base import CHANGE_KINDS, DataFile, FieldNeed, RenderContext
from connectors.formats.encryption import encrypt_files
from connectors.formats.registry import get_format
from connectors.i18n import _, ngettext
from contracts.agreements import Agreement, LoadedAgreement
from contracts.validation import ValidatedSchool
from lineage.state import RefCipher, SupplierState
from pipelines.delivery_delta import DeltaRows, delta_rows, state_refs
from pipelines.delivery_outcome import (
    DeliveryOutcome,
    DeliveryTargets,
    Ledger,
    delivery_id_for,
    identifier_columns,
)
from pipelines.delivery_publish import Planned, publish_planned
from pipelines.delivery_staff import (
    DeliveryStructure,
    StaffDelta,
    delivery_structure,
    staff_delta,
    teacher_refs,
)
from policy.apply import SupplierCut, apply_agreement_batch
from policy.batch import SchoolBatch
from policy.delta import diff, hold_decision
from policy.reasons import Reason

__all__ = [
    "DeliveryOutcome",
    "DeliveryTargets",
    "Ledger",
    "deliver_schools",
    "delivery_id_for",
    "identifier_columns",
]

# The column a delta adds to flat formats (CSV, Parquet): added, changed or removed.
CHANGE_COLUMN = "change"


def _needs_text(needs: Sequence[FieldNeed]) -> str:
    """The fields a format needs and why: "achternaam (users.familyName is verplicht)"."""
    either = " " + _("of") + " "
    return "; ".join(
        _("{fields} ({why})").format(fields=either.join(need.fields), why=_(need.why))
        for need in needs
    )


def _format_gap_notes(agreement: Agreement, cut: SupplierCut) -> list[str]:
    """What the administration must fill in for the pupils this format cannot carry."""
    count = cut.counts.withheld.get(Reason.INCOMPLETE_FOR_FORMAT.value, 0)
    if not count:
        return []
    needs = _needs_text(get_format(agreement.format.type).pupil_needs)
    return [
        ngettext(
            "{n} leerling tegengehouden als incomplete_for_format: {type} heeft {needs} "
            "nodig; het quarantainerapport noemt de leerling en wat er ingevuld moet worden",
            "{n} leerlingen tegengehouden als incomplete_for_format: {type} heeft {needs} "
            "nodig; het quarantainerapport noemt ze en wat er ingevuld moet worden",
            count,
        ).format(n=count, type=agreement.format.type, needs=needs)
    ]


def _format_options(agreement: Agreement, brincode: str) -> dict[str, str]:
    """What the agreement tells its format: a CSV separator, an aggregate's k and grid."""
    output = agreement.format
    if output.type == "csv":
        return {"separator": output.separator}
    if output.type == "aggregaat":
        grid = ",".join(agreement.scope.jaargroepen or ())
        return {"k": str(agreement.aggregate_k), "jaargroepen": grid, "school": brincode}
    return {}


def _render(
    agreement: Agreement,
    school: ValidatedSchool,
    frame: pd.DataFrame,
    delta: DeltaRows | None,
    created_at: datetime,
    structure: DeliveryStructure | None,
    staff: StaffDelta | None,
) -> list[DataFile]:
    kinds = None if delta is None else delta.kinds
    writer = get_format(agreement.format.type)
    options = _format_options(agreement, school.brincode)
    basename = f"{agreement.id}-{school.brincode.lower()}"
    if structure is None:
        # Flat formats carry the change kind as one more column.
        out = frame if kinds is None else frame.assign(**{CHANGE_COLUMN: kinds.to_numpy()})
        files = writer.render(out, basename=basename, options=options)
    else:
        teachers = None if structure.teachers is None else structure.teachers.frame
        context = RenderContext(
            school={k: v for k, v in school.school.items()},
            created_at=created_at.isoformat(),
            mode=agreement.mode,
            changes=kinds,
            previous_groups=None if delta is None else delta.previous_groups,
            left_groups=None if delta is None else delta.left_groups,
            groups=structure.groups,
            teachers=teachers if staff is None else staff.frame,
            teacher_changes=None if staff is None else staff.kinds,
            teacher_left_groups=None if staff is None else staff.left,
            identifier=agreement.identifier.value,
            profile=agreement.format.profile,
        )
        files = writer.render(frame, basename=basename, options=options, context=context)
    if agreement.encryption is not None:
        files = encrypt_files(files, agreement.encryption.age_recipient)
    return files


def deliver_schools(
    schools: list[ValidatedSchool] | SchoolBatch,
    loaded: LoadedAgreement,
    *,
    run_id: str,
    created_at: datetime,
    secret: bytes | None,
    targets: DeliveryTargets,
    erased: frozenset[str] = frozenset(),
    membership_secret: bytes | None = None,
    states: Mapping[str, SupplierState] | None = None,
) -> list[DeliveryOutcome]:
    """Apply one agreement to a batch of schools and publish, hold or skip each delivery.

    Args:
        schools: validated schools of one batch, or a SchoolBatch of them that the
            batch's other suppliers share.
        loaded: the supplier's agreement with its file hash.
        run_id: the run, written into every manifest.
        created_at: the run's start; names the delivery folders.
        secret: the supplier's pseudonym secret, if it receives pseudonyms.
        targets: the supplier's drop, and Sluis' own folders for held and archived
            deliveries.
        erased: membership ids of pupils that must no longer be shared.
        membership_secret: secret of the membership ids lineage records per delivery;
            also seals the identifiers a delta keeps in the state.
        states: what the supplier holds per school (brincode); none means nothing yet.
    """
    batch = schools if isinstance(schools, SchoolBatch) else SchoolBatch(schools)
    schools = batch.schools
    agreement = loaded.agreement
    today = created_at.date()
    base: dict[str, Any] = {
        "supplier": agreement.id,
        "mode": agreement.mode,
        "fields": tuple(agreement.field_names),
        "agreement_sha256": loaded.sha256,
        "agreement_reference": agreement.agreement.reference,
        "created_at": created_at.isoformat(),
    }
    if not agreement.is_valid_on(today):
        note = _("overeenkomst {reference} geldt niet op {today}").format(
            reference=agreement.agreement.reference, today=today
        )
        return [
            DeliveryOutcome(
                school=school.brincode,
                status="agreement_expired",
                delivery_id=None,
                counts={},
                notes=(note,),
                **base,
            )
            for school in schools
        ]
    if membership_secret is None and (agreement.mode == "delta" or states):
        # Changes are counted by pupil hash: without the secret no pupil can be matched.
        raise ValueError(f"{agreement.id}: delta and state need the membership secret")
    cuts = apply_agreement_batch(
        batch,
        agreement,
        today=today,
        secret=secret,
        erased=erased,
        membership_secret=membership_secret,
    )
    cipher = RefCipher(membership_secret) if membership_secret is not None else None
    # Render every delivery of the batch first, then publish them together: the ledger
    # then records the batch in two commits (intents, confirmations), not per delivery.
    outcomes: list[DeliveryOutcome | Planned] = []
    for school, cut in zip(schools, cuts, strict=True):
        try:
            outcome = _prepare_one(
                school,
                cut,
                loaded,
                (states or {}).get(school.brincode),
                cipher,
                membership_secret,
                run_id=run_id,
                created_at=created_at,
                targets=targets,
                base=base,
            )
        except SluisError as exc:
            # One school's failure must not lose what the others already published:
            # their outcomes still reach lineage, this one is recorded as failed.
            outcome = DeliveryOutcome(
                school=school.brincode,
                status="failed",
                delivery_id=None,
                counts=cut.counts.as_dict(),
                notes=(str(exc),),
                **base,
            )
        outcomes.append(outcome)
    planned = [o for o in outcomes if isinstance(o, Planned)]
    # Only a real run plans a delivery for the drop (a dry run ends in `dry_run`).
    drop = targets.drop
    published = iter(
        publish_planned(planned, drop, targets) if planned and drop is not None else []
    )
    return [next(published) if isinstance(o, Planned) else o for o in outcomes]


def _prepare_one(
    school: ValidatedSchool,
    cut: SupplierCut,
    loaded: LoadedAgreement,
    state: SupplierState | None,
    cipher: RefCipher | None,
    membership_secret: bytes | None,
    *,
    run_id: str,
    created_at: datetime,
    targets: DeliveryTargets,
    base: dict[str, Any],
) -> DeliveryOutcome | Planned:
    """Cut, compare and render one school: an outcome, or a delivery ready to publish.

    A held delivery is published to the held folder here; one for the drop is returned
    as `Planned`, for `publish_planned` to publish with the rest of the batch.
    """
    agreement = loaded.agreement
    state = state if state is not None else SupplierState.nothing()
    changes = diff(cut.delivered_ids, cut.delivered_row_hashes, state.frame)
    structure = delivery_structure(agreement, school, cut, membership_secret)
    staff_changes = diff(
        structure.ids if structure is not None else pd.Series([], dtype="str"),
        structure.rows if structure is not None else pd.Series([], dtype="str"),
        state.teachers,
    )
    decision = hold_decision(
        changes,
        max_removed_pct=agreement.hold.max_removed_pct,
        max_changed_pct=agreement.hold.max_changed_pct,
    )
    delivery_id = delivery_id_for(created_at, school.brincode, run_id)
    notes: list[str] = _format_gap_notes(agreement, cut)
    result: dict[str, Any] = {
        **base,
        "school": school.brincode,
        "counts": cut.counts.as_dict(),
        "member_ids": tuple(cut.delivered_ids.tolist()),
        "member_row_hashes": tuple(cut.delivered_row_hashes.tolist()),
        "member_refs": state_refs(agreement, cut, changes, state, cipher),
        "changes": changes.counts(),
        "baseline": state.delivery_id,
        "teacher_ids": tuple(structure.ids.tolist()) if structure is not None else (),
        "teacher_row_hashes": tuple(structure.rows.tolist()) if structure is not None else (),
        "teacher_refs": teacher_refs(agreement, structure, staff_changes, state, cipher),
    }
    if structure is not None and structure.teachers is not None and structure.teachers.left_out:
        needs = _needs_text(get_format(agreement.format.type).teacher_needs)
        notes.append(
            ngettext(
                "{left_out} leerkracht van de geleverde groepen weggelaten: "
                "{type} heeft {needs} nodig",
                "{left_out} leerkrachten van de geleverde groepen weggelaten: "
                "{type} heeft {needs} nodig",
                structure.teachers.left_out,
            ).format(
                left_out=structure.teachers.left_out,
                type=agreement.format.type,
                needs=needs,
            )
        )
    same_terms = state.agreement_sha256 == loaded.sha256 or agreement.mode == "delta"
    nothing_new = changes.nothing_new and staff_changes.nothing_new
    if not state.empty and nothing_new and same_terms:
        notes.append(
            _("niets gewijzigd sinds levering {delivery_id}; er is niets verstuurd").format(
                delivery_id=state.delivery_id,
            )
        )
        return DeliveryOutcome(
            status="nothing_to_deliver", delivery_id=None, notes=tuple(notes), **result
        )
    writer = get_format(agreement.format.type)
    if (
        cut.frame.empty
        and agreement.mode == "full"
        and agreement.format.profile in writer.needs_a_pupil
    ):
        # No pupil, and the format cannot write a full file without one (EDEXML requires
        # a leerling; a OneRoster bulk without users says nothing about them): the
        # supplier keeps its last file (and the state stays what it holds).
        kind = agreement.format.type.upper()
        if len(state.frame):
            # The supplier would keep a file with pupils it may no longer have: an error
            # for a person to look at, not a quiet success.
            raise PolicyError(
                ngettext(
                    "{supplier} {school}: er is geen leerling meer om te leveren, en een "
                    "{kind}-bestand kan niet leeg zijn, dus de leverancier zou zijn laatste "
                    "bestand met {n} leerling houden; controleer de export, of beëindig "
                    "het gebruik door de leverancier",
                    "{supplier} {school}: er is geen leerling meer om te leveren, en een "
                    "{kind}-bestand kan niet leeg zijn, dus de leverancier zou zijn laatste "
                    "bestand met {n} leerlingen houden; controleer de export, of beëindig "
                    "het gebruik door de leverancier",
                    len(state.frame),
                ).format(
                    supplier=agreement.id, school=school.brincode, kind=kind, n=len(state.frame)
                )
            )
        notes.append(
            _(
                "geen leerling om te leveren, en een {kind}-bestand kan niet leeg zijn; "
                "er is niets verstuurd"
            ).format(kind=kind)
        )
        return DeliveryOutcome(
            status="nothing_to_deliver", delivery_id=None, notes=tuple(notes), **result
        )
    staff = None
    if agreement.mode == "delta":
        delta = delta_rows(agreement, cut, changes, state, cipher)
        frame, unnamed = delta.frame, delta.unnamed
        if structure is not None:
            staff = staff_delta(agreement, structure, staff_changes, state, cipher)
        if staff is not None and staff.unnamed:
            notes.append(
                ngettext(
                    "{unnamed} verwijderde leerkracht kon niet genoemd worden: "
                    "de status bevat geen identificaties voor die leerkracht; vraag de "
                    "leverancier één keer volledig te synchroniseren",
                    "{unnamed} verwijderde leerkrachten konden niet genoemd worden: "
                    "de status bevat geen identificaties voor hen; vraag de "
                    "leverancier één keer volledig te synchroniseren",
                    staff.unnamed,
                ).format(
                    unnamed=staff.unnamed,
                )
            )
        if staff is not None:
            counted_staff = staff.kinds.value_counts()
            if len(staff.kinds):
                added, changed, removed = (int(counted_staff.get(k, 0)) for k in CHANGE_KINDS)
                notes.append(
                    _("leerkrachten: {added} nieuw, {changed} gewijzigd, {removed} weg").format(
                        added=added, changed=changed, removed=removed
                    )
                )
        counted = delta.kinds.value_counts()
        result["changes"] = {
            **changes.counts(),
            **{kind: int(counted.get(kind, 0)) for kind in CHANGE_KINDS},
        }
        if unnamed:
            notes.append(
                ngettext(
                    "{unnamed} verwijderde leerling kon niet genoemd worden: de "
                    "status van voor de deltamodus bevat geen identificaties; vraag de "
                    "leverancier één keer volledig te synchroniseren",
                    "{unnamed} verwijderde leerlingen konden niet genoemd worden: de "
                    "status van voor de deltamodus bevat geen identificaties; vraag de "
                    "leverancier één keer volledig te synchroniseren",
                    unnamed,
                ).format(
                    unnamed=unnamed,
                )
            )
    else:
        frame, delta = cut.frame, None
    files = _render(agreement, school, frame, delta, created_at, structure, staff)
    file_rows = tuple({"name": f.name, "sha256": f.sha256, "rows": f.rows} for f in files)
    result.update(delivery_id=delivery_id, files=file_rows)
    if targets.drop is None:
        if decision.held:
            notes.append(
                _("een echte run zou deze levering tegenhouden: {reason}").format(
                    reason=decision.reason,
                )
            )
        return DeliveryOutcome(status="dry_run", notes=tuple(notes), **result)
    extra: dict[str, Any] = {
        "delivery_id": delivery_id,
        "schooljaar": school.schooljaar,
        "agreement": {"reference": agreement.agreement.reference, "sha256": loaded.sha256},
        "legal_basis": agreement.legal_basis.type.value,
        "format": agreement.format.type,
        "changes": result["changes"],
    }
    if agreement.encryption is not None:
        extra["encryption"] = {"type": "age", "recipient": agreement.encryption.age_recipient}
    delivery = Delivery(
        supplier=agreement.id,
        delivery_id=delivery_id,
        files=tuple(files),
        manifest=build_manifest(
            supplier=agreement.id,
            run_id=run_id,
            school=school.brincode,
            created_at=created_at.isoformat(),
            mode=agreement.mode,
            files=files,
            fields=agreement.field_names,
            counts=cut.counts.as_dict(),
            extra=extra,
        ),
    )
    if decision.held:
        if targets.held is None:
            raise ValueError("a held delivery needs a place to wait (targets.held)")
        receipt = targets.held.publish(delivery)
        notes.append(
            _("tegengehouden: {reason}").format(
                reason=decision.reason,
            )
        )
        return DeliveryOutcome(
            status="held",
            location=receipt.location,
            manifest_sha256=receipt.manifest_sha256,
            hold_reason=decision.reason,
            notes=tuple(notes),
            **result,
        )
    planned = DeliveryOutcome(
        status="delivered",
        manifest_sha256=sha256_hex(manifest_bytes(delivery.manifest)),
        notes=tuple(notes),
        **result,
    )
    return Planned(planned, delivery)
