"""The groups and teachers that go with a structured format's delivery, and their delta."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from connectors.formats.base import CHANGE_REMOVED
from connectors.formats.registry import get_format
from connectors.sources.base import GROUP_KEY_SEPARATOR
from contracts.agreements import Agreement
from contracts.validation import ValidatedSchool
from lineage.state import RefCipher, SupplierState
from pipelines.delivery_delta import group_keys, named_removals, seal_refs, sealed_refs
from policy.apply import SupplierCut, row_hashes
from policy.delta import ChangeSet
from policy.structure import (
    TEACHER_IDENTIFIERS,
    DeliveredTeachers,
    delivered_groups,
    delivered_teachers,
    teacher_hashes,
)

__all__ = [
    "DeliveryStructure",
    "StaffDelta",
    "delivery_structure",
    "staff_delta",
    "teacher_refs",
]


@dataclass(frozen=True)
class DeliveryStructure:
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


def delivery_structure(
    agreement: Agreement, school: ValidatedSchool, cut: SupplierCut, secret: bytes | None
) -> DeliveryStructure | None:
    """The groups and teachers of a structured format's delivery; None for a flat format."""
    if get_format(agreement.format.type).flat:
        return None
    groups = delivered_groups(school, cut.delivered_keys, agreement)
    teachers = delivered_teachers(school, groups, agreement)
    empty = pd.Series([], dtype="str")
    if teachers is None or secret is None:
        tracked = pd.Series(False, index=range(0 if teachers is None else len(teachers.frame)))
        return DeliveryStructure(groups, teachers, empty, empty, tracked)
    tracked = teachers.keys.notna().reset_index(drop=True)
    ids = teacher_hashes(school.brincode, teachers.keys.loc[tracked.to_numpy()], secret)
    rows = row_hashes(teachers.frame.loc[tracked.to_numpy()], secret)
    return DeliveryStructure(groups, teachers, ids, rows, tracked)


@dataclass(frozen=True)
class StaffDelta:
    """The teacher rows of a delta and what they mean, lined up (see RenderContext)."""

    frame: pd.DataFrame
    kinds: pd.Series
    left: pd.Series
    unnamed: int


def _teacher_columns(agreement: Agreement) -> list[str]:
    """What the state seals of a delta supplier's teacher: its identifiers and groepen."""
    listed = agreement.teacher_field_names
    return [c for c in (*TEACHER_IDENTIFIERS, "groepen") if c in listed]


def teacher_refs(
    agreement: Agreement,
    structure: DeliveryStructure | None,
    changes: ChangeSet,
    state: SupplierState,
    cipher: RefCipher | None,
) -> tuple[bytes | None, ...]:
    """Sealed identifiers and groepen per tracked teacher (delta only), as for pupils."""
    if structure is None or structure.teachers is None or not len(structure.ids):
        return ()
    if agreement.mode != "delta" or cipher is None:
        return (None,) * len(structure.ids)
    frame = structure.teachers.frame.loc[structure.tracked.to_numpy()]
    return seal_refs(
        state.teachers,
        frame.loc[:, _teacher_columns(agreement)],
        structure.ids,
        changes.kinds,
        cipher,
        agreement.id,
    )


def staff_delta(
    agreement: Agreement,
    structure: DeliveryStructure,
    changes: ChangeSet,
    state: SupplierState,
    cipher: RefCipher | None,
) -> StaffDelta | None:
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
    opened = sealed_refs(state.teachers, cipher, agreement.id)
    removals, unnamed = named_removals(changes.removed, opened)
    left = pd.Series(pd.NA, index=current.index, dtype="str")
    for position in kinds.index[kinds.eq("changed")]:
        before = opened(teachers.iloc[position])
        if before is None:
            continue
        now = current.iloc[position]
        if any(before.get(c) != (None if pd.isna(now[c]) else now[c]) for c in ids):
            removals.append(before)  # known under other identifiers until now
            continue
        gone = group_keys(before.get("groepen")) - group_keys(now.get("groepen"))
        if gone:
            left.iloc[position] = GROUP_KEY_SEPARATOR.join(sorted(gone))
    removed = pd.DataFrame(removals, columns=_teacher_columns(agreement), dtype="str")
    removed = removed.reindex(columns=listed).astype("str")
    return StaffDelta(
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
