"""Deliver a batch of schools to one supplier: cut, compare, render, then publish or hold.

Plain functions, so they are tested without Prefect. Per school: apply the agreement,
compare with what the supplier holds (lineage state), render the full set or only the
changes, encrypt when the agreement asks, and then either hold it for approval when it
changes too much, skip it when nothing changed, or plan it for the drop. The planned
deliveries of the batch are then published together: their intents in one lineage
commit, each delivery atomically in the drop, their confirmations in one more commit,
and an archive copy of each for re-delivery. The outcome holds counts, field names,
hashes and locations, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import pandas as pd

from connectors.drops.base import Delivery, Drop, build_manifest, manifest_bytes, sha256_hex
from connectors.drops.registry import ReconcilableDrop
from connectors.errors import DeliveryError, PolicyError, SluisError
from connectors.formats.base import (
    CHANGE_KINDS,
    CHANGE_REMOVED,
    DataFile,
    FieldNeed,
    RenderContext,
)
from connectors.formats.encryption import encrypt_files
from connectors.formats.registry import get_format
from connectors.i18n import _, ngettext
from connectors.sources.base import GROUP_KEY_SEPARATOR
from contracts.agreements import Agreement, IdentifierPolicy, LoadedAgreement
from contracts.validation import ValidatedSchool
from lineage.state import PUPIL, TEACHER, RefCipher, SupplierState
from pipelines import stopping
from policy.apply import SupplierCut, apply_agreement_batch, row_hashes
from policy.delta import ChangeSet, diff, hold_decision
from policy.reasons import Reason
from policy.structure import (
    TEACHER_IDENTIFIERS,
    DeliveredTeachers,
    delivered_groups,
    delivered_teachers,
    teacher_hashes,
)

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


class Ledger(Protocol):
    """Records a batch's deliveries as they are published (pipelines.publishing.RunLedger)."""

    def intend(self, outcomes: Sequence[DeliveryOutcome]) -> None:
        """Commit the intents, in one transaction, before the drop makes any visible."""

    def confirm(
        self,
        published: Sequence[DeliveryOutcome],
        *,
        unpublished: Sequence[DeliveryOutcome] = (),
    ) -> None:
        """The drop has `published`, not `unpublished`: record both in one transaction."""


@dataclass(frozen=True)
class DeliveryTargets:
    """Where a supplier's deliveries go.

    Attributes:
        drop: the supplier's drop; None for a dry run (everything but publishing).
        held: where a delivery waits for approval (a folder in Sluis' state).
        archive: where a copy of every published delivery is kept for re-delivery.
        ledger: records each published delivery in lineage as it goes out; without
            one the caller records the outcomes afterwards.
    """

    drop: Drop | None
    held: Drop | None = None
    archive: Drop | None = None
    ledger: Ledger | None = None


@dataclass(frozen=True)
class DeliveryOutcome:
    """What happened for one supplier and one school: counts and hashes, no pupil values.

    `status` is delivered, held, nothing_to_deliver, dry_run or agreement_expired.
    """

    supplier: str
    school: str
    status: str
    delivery_id: str | None
    mode: str
    fields: tuple[str, ...]
    counts: dict[str, object]
    files: tuple[dict[str, object], ...] = ()
    location: str | None = None
    manifest_sha256: str | None = None
    agreement_sha256: str = ""
    agreement_reference: str = ""
    created_at: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    # Keyed hashes of the delivered pupils (lineage membership); never keys or names.
    member_ids: tuple[str, ...] = ()
    member_row_hashes: tuple[str, ...] = ()
    # Per member, the supplier-facing identifiers sealed for the state (delta mode only).
    member_refs: tuple[bytes | None, ...] = ()
    changes: dict[str, int] = field(default_factory=dict)
    hold_reason: str = ""
    baseline: str | None = None  # lineage id of the delivery the changes are counted from
    # The same for the teachers of the delivered groups (keyed hashes, sealed refs).
    teacher_ids: tuple[str, ...] = ()
    teacher_row_hashes: tuple[str, ...] = ()
    teacher_refs: tuple[bytes | None, ...] = ()

    def state_frame(self) -> pd.DataFrame:
        """What the supplier holds after this delivery, for lineage.state: pupils, teachers."""

        def part(
            ids: tuple[str, ...], rows: tuple[str, ...], refs: tuple[bytes | None, ...], kind: str
        ) -> pd.DataFrame:
            return pd.DataFrame(
                {
                    "pupil_hash": pd.Series(list(ids), dtype="str"),
                    "row_hash": pd.Series(list(rows), dtype="str"),
                    "ref": pd.Series(list(refs) or [None] * len(ids), dtype="object"),
                    "kind": pd.Series([kind] * len(ids), dtype="str"),
                }
            )

        return pd.concat(
            [
                part(self.member_ids, self.member_row_hashes, self.member_refs, PUPIL),
                part(self.teacher_ids, self.teacher_row_hashes, self.teacher_refs, TEACHER),
            ],
            ignore_index=True,
        )


def delivery_id_for(created_at: datetime, school: str, run_id: str) -> str:
    """Delivery folder name: sortable by time, unique per run and school."""
    return f"{created_at:%Y%m%dT%H%M%SZ}-{school}-{run_id[:8]}".lower()


def identifier_columns(agreement: Agreement) -> list[str]:
    """The delivered columns by which a supplier knows a pupil (and its group).

    A removal names the pupil by these, so they are what the state keeps (sealed).
    """
    by_policy = {
        IdentifierPolicy.ECKID: ["eckid"],
        IdentifierPolicy.ECKID_OR_KEY: ["eckid", "leerlingkey"],
        IdentifierPolicy.KEY: ["leerlingkey"],
        IdentifierPolicy.PSEUDONIEM: ["pseudoniem"],
    }[agreement.identifier]
    wanted = [*by_policy, "groepskey"]
    return [name for name in wanted if name in agreement.field_names]


def _sealed_columns(agreement: Agreement) -> list[str]:
    """What the state keeps, sealed, of a delta supplier's pupil.

    The identifiers name a removed pupil; the samengestelde groepen (when delivered) let
    the next delta end a membership the pupil no longer has, which the current row alone
    cannot say.
    """
    extra = ["samengestelde_groepen"] if "samengestelde_groepen" in agreement.field_names else []
    return [*identifier_columns(agreement), *extra]


def _group_keys(value: object) -> set[str]:
    """The keys of a GROUP_KEY_SEPARATOR-joined cell; none for a missing one."""
    if not isinstance(value, str):
        return set()
    return {key.strip() for key in value.split(GROUP_KEY_SEPARATOR) if key.strip()}


def _left(before: Mapping[str, str | None] | None, now: object) -> str | None:
    """The samengestelde groepen in `before` that `now` no longer has, joined; or None."""
    if before is None:
        return None
    gone = _group_keys(before.get("samengestelde_groepen")) - _group_keys(now)
    return GROUP_KEY_SEPARATOR.join(sorted(gone)) if gone else None


def _state_refs(
    agreement: Agreement,
    cut: SupplierCut,
    changes: ChangeSet,
    state: SupplierState,
    cipher: RefCipher | None,
) -> tuple[bytes | None, ...]:
    """Sealed identifiers per delivered pupil: kept for unchanged pupils, new otherwise."""
    if agreement.mode != "delta" or cipher is None:
        return (None,) * len(cut.delivered_ids)
    previous = dict(zip(state.frame["pupil_hash"], state.frame["ref"], strict=True))
    columns = _sealed_columns(agreement)
    records = (
        cut.frame.loc[:, columns].astype("object").where(cut.frame[columns].notna(), None)
    ).to_dict("records")
    refs: list[bytes | None] = []
    # One seal per added or changed pupil; unchanged ones keep theirs (same row, same ids).
    for values, pupil, kind in zip(records, cut.delivered_ids, changes.kinds, strict=True):
        old = previous.get(pupil)
        if kind == "" and isinstance(old, bytes):
            refs.append(old)
        else:
            refs.append(cipher.seal(agreement.id, pupil, values))
    return tuple(refs)


@dataclass(frozen=True)
class DeltaRows:
    """What a delta carries, row-aligned: see `_delta_rows`."""

    frame: pd.DataFrame
    kinds: pd.Series
    previous_groups: pd.Series
    left_groups: pd.Series | None
    unnamed: int


def _delta_rows(
    agreement: Agreement,
    cut: SupplierCut,
    changes: ChangeSet,
    state: SupplierState,
    cipher: RefCipher | None,
) -> DeltaRows:
    """The rows a delta carries: removals first, then added and changed pupils.

    Pupils are matched on the school's own key, but a supplier knows them by the
    identifiers it was given, so those are compared too: a changed ECK iD (or pseudonym)
    is a removal of the old identifier plus the pupil under the new one, and a pupil who
    reappears under a new LAS key with the identifiers the supplier already has is a
    change, not a removal and an addition. Removals go first, so a supplier applying the
    rows in order never deletes a pupil it was just given.

    Returns:
        The frame (agreement columns), the change kind per row, the previous groepskey
        per row where a changed pupil moved group, the samengestelde groepen a row's pupil
        left (None when the agreement does not deliver them), and how many removed pupils
        could not be named (no sealed identifiers in the state).
    """
    named = identifier_columns(agreement)
    ids = [c for c in named if c != "groepskey"]
    moved = changes.kinds.ne("").to_numpy()
    current = cut.frame.loc[moved].reset_index(drop=True).astype("str")
    kinds = changes.kinds.loc[moved].reset_index(drop=True).astype("str")
    members = cut.delivered_ids.loc[moved].reset_index(drop=True)
    refs = dict(zip(state.frame["pupil_hash"], state.frame["ref"], strict=True))

    def opened(pupil: str) -> dict[str, str | None] | None:
        sealed = refs.get(pupil)
        if cipher is None or not isinstance(sealed, bytes):
            return None
        return cipher.open(agreement.id, pupil, sealed)

    def key(values: dict[str, Any]) -> tuple[Any, ...] | None:
        found = tuple(values.get(c) for c in ids)
        return None if any(v is None or v is pd.NA for v in found) else found

    removals: list[dict[str, str | None]] = []
    unnamed = 0
    for pupil in changes.removed:
        values = opened(pupil)
        if values is None:
            unnamed += 1
        else:
            removals.append(values)
    previous_groups = pd.Series(pd.NA, index=current.index, dtype="str")
    composite = "samengestelde_groepen" in current.columns
    left_groups = pd.Series(pd.NA, index=current.index, dtype="str")
    for position in kinds.index[kinds.eq("changed")]:
        before = opened(members.iloc[position])
        if before is None:
            continue
        now = {c: current.at[position, c] for c in named}
        if key(before) != key({c: now.get(c) for c in ids}):
            removals.append(before)  # known under another identifier until now
            continue
        if "groepskey" in now and before.get("groepskey") not in (None, now["groepskey"]):
            previous_groups.iloc[position] = before.get("groepskey")
        if composite:
            left_groups.iloc[position] = _left(
                before, current.at[position, "samengestelde_groepen"]
            )
    by_key = {k: n for n, values in enumerate(removals) if (k := key(values)) is not None}
    merged: set[int] = set()
    added = kinds.index[kinds.eq("added")] if by_key else kinds.index[:0]
    added_ids = (
        current.loc[added, ids].astype("object").where(current.loc[added, ids].notna(), None)
    )
    for position, values in zip(added, added_ids.itertuples(index=False, name=None), strict=True):
        row_key = key(dict(zip(ids, values, strict=True)))
        if row_key is not None and row_key in by_key:
            merged.add(by_key[row_key])
            kinds.iloc[position] = "changed"
            if composite:
                left_groups.iloc[position] = _left(
                    removals[by_key[row_key]], current.at[position, "samengestelde_groepen"]
                )
    kept = [values for n, values in enumerate(removals) if n not in merged]
    removed = pd.DataFrame(
        kept,
        columns=named,
        dtype="str",
    ).reindex(columns=agreement.field_names)
    frame = pd.concat([removed.astype("str"), current], ignore_index=True)
    kind = pd.concat(
        [pd.Series(CHANGE_REMOVED, index=range(len(removed)), dtype="str"), kinds],
        ignore_index=True,
    )
    before_groups = pd.concat(
        [pd.Series(pd.NA, index=range(len(removed)), dtype="str"), previous_groups],
        ignore_index=True,
    )
    # A removed pupil leaves every samengestelde groep the supplier had it in.
    removed_left = pd.Series([_left(values, None) for values in kept], dtype="str")
    left = pd.concat([removed_left, left_groups], ignore_index=True)
    return DeltaRows(frame, kind, before_groups, left if composite else None, unnamed)


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


@dataclass(frozen=True)
class _Structure:
    """The groups and teachers that go with a structured format's delivery.

    Attributes:
        groups: the groups of every delivered pupil (policy.structure.delivered_groups).
        teachers: the teachers of those groups, or None when the agreement lists none.
        ids, rows: keyed hash and row hash of each teacher the state tracks (one with a
            key), lined up with `tracked`; empty without the membership secret.
        tracked: per teacher row, whether it has a key and so a place in the state.
    """

    groups: pd.DataFrame
    teachers: DeliveredTeachers | None
    ids: pd.Series
    rows: pd.Series
    tracked: pd.Series


def _structure(
    agreement: Agreement, school: ValidatedSchool, cut: SupplierCut, secret: bytes | None
) -> _Structure | None:
    if get_format(agreement.format.type).flat:
        return None
    groups = delivered_groups(school, cut.delivered_keys, agreement)
    teachers = delivered_teachers(school, groups, agreement)
    empty = pd.Series([], dtype="str")
    if teachers is None or secret is None:
        tracked = pd.Series(False, index=range(0 if teachers is None else len(teachers.frame)))
        return _Structure(groups, teachers, empty, empty, tracked)
    tracked = teachers.keys.notna().reset_index(drop=True)
    ids = teacher_hashes(school.brincode, teachers.keys.loc[tracked.to_numpy()], secret)
    rows = row_hashes(teachers.frame.loc[tracked.to_numpy()], secret)
    return _Structure(groups, teachers, ids, rows, tracked)


@dataclass(frozen=True)
class _StaffDelta:
    """The teacher rows of a delta and what they mean, lined up (see RenderContext)."""

    frame: pd.DataFrame
    kinds: pd.Series
    left: pd.Series
    unnamed: int


def _teacher_columns(agreement: Agreement) -> list[str]:
    """What the state seals of a delta supplier's teacher: its identifiers and groepen."""
    listed = agreement.teacher_field_names
    return [c for c in (*TEACHER_IDENTIFIERS, "groepen") if c in listed]


def _teacher_refs(
    agreement: Agreement,
    structure: _Structure | None,
    changes: ChangeSet,
    state: SupplierState,
    cipher: RefCipher | None,
) -> tuple[bytes | None, ...]:
    """Sealed identifiers and groepen per tracked teacher (delta only), as for pupils."""
    if structure is None or structure.teachers is None or not len(structure.ids):
        return ()
    if agreement.mode != "delta" or cipher is None:
        return (None,) * len(structure.ids)
    previous = dict(zip(state.teachers["pupil_hash"], state.teachers["ref"], strict=True))
    frame = structure.teachers.frame.loc[structure.tracked.to_numpy()]
    columns = _teacher_columns(agreement)
    records = frame.loc[:, columns].astype("object").where(frame[columns].notna(), None)
    refs: list[bytes | None] = []
    for values, teacher, kind in zip(
        records.to_dict("records"), structure.ids, changes.kinds, strict=True
    ):
        old = previous.get(teacher)
        if kind == "" and isinstance(old, bytes):
            refs.append(old)
        else:
            refs.append(cipher.seal(agreement.id, teacher, values))
    return tuple(refs)


def _staff_delta(
    agreement: Agreement,
    structure: _Structure,
    changes: ChangeSet,
    state: SupplierState,
    cipher: RefCipher | None,
) -> _StaffDelta | None:
    """The teachers a delta carries: removed ones first, then the added and changed ones.

    Unchanged teachers are not sent again; a removed one is named by its sealed refs,
    also when it is no longer in the export. A teacher whose identifiers changed is
    removed under the old ones; a changed one ends the groepen it no longer has.
    """
    if structure.teachers is None:
        return None
    listed = agreement.teacher_field_names
    ids = [c for c in TEACHER_IDENTIFIERS if c in listed]
    frame = structure.teachers.frame.loc[structure.tracked.to_numpy()].reset_index(drop=True)
    moved = changes.kinds.ne("").to_numpy()
    current = frame.loc[moved].reset_index(drop=True)
    kinds = changes.kinds.loc[moved].reset_index(drop=True).astype("str")
    teachers = structure.ids.loc[moved].reset_index(drop=True)
    refs = dict(zip(state.teachers["pupil_hash"], state.teachers["ref"], strict=True))

    def opened(teacher: str) -> dict[str, str | None] | None:
        sealed = refs.get(teacher)
        if cipher is None or not isinstance(sealed, bytes):
            return None
        return cipher.open(agreement.id, teacher, sealed)

    removals: list[dict[str, str | None]] = []
    unnamed = 0
    for teacher in changes.removed:
        values = opened(teacher)
        if values is None:
            unnamed += 1
        else:
            removals.append(values)
    left = pd.Series(pd.NA, index=current.index, dtype="str")
    for position in kinds.index[kinds.eq("changed")]:
        before = opened(teachers.iloc[position])
        if before is None:
            continue
        now = current.iloc[position]
        if any(before.get(c) != (None if pd.isna(now[c]) else now[c]) for c in ids):
            removals.append(before)  # known under other identifiers until now
            continue
        gone = _group_keys(before.get("groepen")) - _group_keys(now.get("groepen"))
        if gone:
            left.iloc[position] = GROUP_KEY_SEPARATOR.join(sorted(gone))
    removed = pd.DataFrame(removals, columns=_teacher_columns(agreement), dtype="str")
    removed = removed.reindex(columns=listed).astype("str")
    return _StaffDelta(
        frame=pd.concat([removed, current.astype("str")], ignore_index=True),
        kinds=pd.concat(
            [pd.Series(CHANGE_REMOVED, index=range(len(removed)), dtype="str"), kinds],
            ignore_index=True,
        ),
        left=pd.concat(
            [pd.Series(pd.NA, index=range(len(removed)), dtype="str"), left], ignore_index=True
        ),
        unnamed=unnamed,
    )


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
    structure: _Structure | None,
    staff: _StaffDelta | None,
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
    schools: list[ValidatedSchool],
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
        schools: validated schools of one batch.
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
        schools,
        agreement,
        today=today,
        secret=secret,
        erased=erased,
        membership_secret=membership_secret,
    )
    cipher = RefCipher(membership_secret) if membership_secret is not None else None
    # Render every delivery of the batch first, then publish them together: the ledger
    # then records the batch in two commits (intents, confirmations), not per delivery.
    outcomes: list[DeliveryOutcome | _Planned] = []
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
    planned = [o for o in outcomes if isinstance(o, _Planned)]
    # Only a real run plans a delivery for the drop (a dry run ends in `dry_run`).
    drop = targets.drop
    published = iter(_publish(planned, drop, targets) if planned and drop is not None else [])
    return [next(published) if isinstance(o, _Planned) else o for o in outcomes]


@dataclass(frozen=True)
class _Planned:
    """A delivery rendered for the drop and not published yet.

    Attributes:
        outcome: what it will be once published (status delivered, no location yet).
        delivery: its files and manifest.
    """

    outcome: DeliveryOutcome
    delivery: Delivery


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
) -> DeliveryOutcome | _Planned:
    """Cut, compare and render one school: an outcome, or a delivery ready to publish.

    A held delivery is published to the held folder here; one for the drop is returned
    as `_Planned`, for `_publish` to publish with the rest of the batch.
    """
    agreement = loaded.agreement
    state = state if state is not None else SupplierState.nothing()
    changes = diff(cut.delivered_ids, cut.delivered_row_hashes, state.frame)
    structure = _structure(agreement, school, cut, membership_secret)
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
        "member_refs": _state_refs(agreement, cut, changes, state, cipher),
        "changes": changes.counts(),
        "baseline": state.delivery_id,
        "teacher_ids": tuple(structure.ids.tolist()) if structure is not None else (),
        "teacher_row_hashes": tuple(structure.rows.tolist()) if structure is not None else (),
        "teacher_refs": _teacher_refs(agreement, structure, staff_changes, state, cipher),
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
        delta = _delta_rows(agreement, cut, changes, state, cipher)
        frame, unnamed = delta.frame, delta.unnamed
        if structure is not None:
            staff = _staff_delta(agreement, structure, staff_changes, state, cipher)
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
    return _Planned(planned, delivery)


def _publish(
    planned: list[_Planned], drop: Drop, targets: DeliveryTargets
) -> list[DeliveryOutcome]:
    """Publish a batch's rendered deliveries, each atomically, recorded in two commits.

    With a ledger: every intent is committed before the first delivery becomes visible,
    and every delivery the drop took is confirmed in one commit after the last. A kill in
    between leaves intents that the next run settles against the drop. A signal that
    asks the run to stop keeps the deliveries not yet started from starting; their
    intents are rolled back with the confirmation.

    Returns:
        The outcomes, in the order of `planned`.
    """
    ledger = targets.ledger
    if ledger is not None:
        try:
            ledger.intend([item.outcome for item in planned])
        except SluisError as exc:
            # Nothing of the batch started: a stop, or a lineage database that cannot be used.
            return [_failed(item.outcome, exc) for item in planned]
    outcomes = [item.outcome for item in planned]
    published: list[DeliveryOutcome] = []  # the drop has them: confirmed
    unpublished: list[DeliveryOutcome] = []  # the drop never got them: rolled back
    sent: list[int] = []  # published as planned, so archived too
    try:
        for n, item in enumerate(planned):
            stop = stopping.requested() if ledger is not None else None
            if stop is not None:
                unpublished.append(item.outcome)
                outcomes[n] = _failed(item.outcome, stop)
                continue
            try:
                receipt = drop.publish(item.delivery)
            except DeliveryError as exc:
                outcomes[n] = _failed(item.outcome, exc)
                if ledger is not None:
                    _settle_failed(drop, item.outcome, published, unpublished)
                continue
            outcomes[n] = replace(
                item.outcome, location=receipt.location, manifest_sha256=receipt.manifest_sha256
            )
            published.append(outcomes[n])
            sent.append(n)
    except BaseException:
        # What reached the drop is recorded before the error goes on.
        if ledger is not None and (published or unpublished):
            ledger.confirm(published, unpublished=unpublished)
        raise
    if ledger is not None and (published or unpublished):
        try:
            ledger.confirm(published, unpublished=unpublished)
        except SluisError as exc:
            # The drop has them and lineage cannot say so now: their intents stay open,
            # for the next run to settle against the drop.
            for n in sent:
                outcomes[n] = _failed(planned[n].outcome, exc)
            sent = []
    if targets.archive is not None:
        for n in sent:
            # After the drop: only what reached the supplier is kept, for re-delivery.
            # Losing the copy costs only that, never the delivery itself.
            try:
                targets.archive.publish(planned[n].delivery)
            except DeliveryError as exc:
                note = _("geen archiefkopie om opnieuw te leveren: {exc}").format(exc=exc)
                outcomes[n] = replace(outcomes[n], notes=(*outcomes[n].notes, note))
    return outcomes


def _settle_failed(
    drop: Drop,
    planned: DeliveryOutcome,
    published: list[DeliveryOutcome],
    unpublished: list[DeliveryOutcome],
) -> None:
    """Publishing `planned` failed: settle its intent by what the drop shows now.

    When the drop cannot even be asked, the intent stays open for the next run.
    """
    if not isinstance(drop, ReconcilableDrop):
        return
    try:
        where = drop.find(
            planned.supplier, planned.delivery_id or "", planned.manifest_sha256 or ""
        )
    except DeliveryError:
        return
    if where is None:
        unpublished.append(planned)
    else:
        published.append(replace(planned, location=where))


def _failed(planned: DeliveryOutcome, exc: Exception) -> DeliveryOutcome:
    """A school whose delivery failed; its counts stay, its delivery never happened."""
    return DeliveryOutcome(
        supplier=planned.supplier,
        school=planned.school,
        status="failed",
        delivery_id=None,
        mode=planned.mode,
        fields=planned.fields,
        counts=planned.counts,
        notes=(str(exc),),
        agreement_sha256=planned.agreement_sha256,
        agreement_reference=planned.agreement_reference,
        created_at=planned.created_at,
    )
