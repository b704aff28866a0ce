"""The pupil rows a delta delivery carries, and the identifiers the state keeps sealed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from connectors.formats.base import CHANGE_REMOVED
from connectors.sources.base import GROUP_KEY_SEPARATOR
from contracts.agreements import Agreement
from lineage.state import RefCipher, SupplierState
from pipelines.delivery_outcome import identifier_columns
from policy.apply import SupplierCut
from policy.delta import ChangeSet

__all__ = [
    "DeltaRows",
    "delta_rows",
    "group_keys",
    "groups_left",
    "named_removals",
    "seal_refs",
    "sealed_refs",
    "state_refs",
]

# Opens what a supplier was given for one member hash; None when nothing can be opened.
Opener = Callable[[str], dict[str, str | None] | None]


def _sealed_columns(agreement: Agreement) -> list[str]:
    """What the state keeps, sealed, of a delta supplier's pupil.

    The identifiers name a removed pupil; the samengestelde groepen (when delivered) let
    the next delta end a membership the pupil no longer has, which the current row alone
    cannot say.
    """
    extra = ["samengestelde_groepen"] if "samengestelde_groepen" in agreement.field_names else []
    return [*identifier_columns(agreement), *extra]


def sealed_refs(held: pd.DataFrame, cipher: RefCipher | None, supplier: str) -> Opener:
    """Open the identifiers sealed in `held` (pupil_hash, ref) for the supplier, per hash."""
    refs = dict(zip(held["pupil_hash"], held["ref"], strict=True))

    def opened(member: str) -> dict[str, str | None] | None:
        sealed = refs.get(member)
        if cipher is None or not isinstance(sealed, bytes):
            return None
        return cipher.open(supplier, member, sealed)

    return opened


def named_removals(
    removed: Iterable[str], opened: Opener
) -> tuple[list[dict[str, str | None]], int]:
    """The identifiers of each removed member that can be named, and how many cannot."""
    removals: list[dict[str, str | None]] = []
    unnamed = 0
    for member in removed:
        values = opened(member)
        if values is None:
            unnamed += 1
        else:
            removals.append(values)
    return removals, unnamed


def group_keys(value: object) -> set[str]:
    """The keys of a GROUP_KEY_SEPARATOR-joined cell; none for a missing one."""
    if not isinstance(value, str):
        return set()
    return {key.strip() for key in value.split(GROUP_KEY_SEPARATOR) if key.strip()}


def groups_left(before: Mapping[str, str | None] | None, now: object) -> str | None:
    """The samengestelde groepen in `before` that `now` no longer has, joined; or None."""
    if before is None:
        return None
    gone = group_keys(before.get("samengestelde_groepen")) - group_keys(now)
    return GROUP_KEY_SEPARATOR.join(sorted(gone)) if gone else None


def state_refs(
    agreement: Agreement,
    cut: SupplierCut,
    changes: ChangeSet,
    state: SupplierState,
    cipher: RefCipher | None,
) -> tuple[bytes | None, ...]:
    """Sealed identifiers per delivered pupil: kept for unchanged pupils, new otherwise."""
    if agreement.mode != "delta" or cipher is None:
        return (None,) * len(cut.delivered_ids)
    return seal_refs(
        state.frame,
        cut.frame.loc[:, _sealed_columns(agreement)],
        cut.delivered_ids,
        changes.kinds,
        cipher,
        agreement.id,
    )


def seal_refs(
    held: pd.DataFrame,
    sealed: pd.DataFrame,
    members: Iterable[str],
    kinds: Iterable[str],
    cipher: RefCipher,
    supplier: str,
) -> tuple[bytes | None, ...]:
    """Each member's row of `sealed`, sealed for the state; `held` has the refs until now.

    One seal per added or changed member: an unchanged one keeps its ref from `held`
    (same row, same identifiers).
    """
    previous = dict(zip(held["pupil_hash"], held["ref"], strict=True))
    records = sealed.astype("object").where(sealed.notna(), None).to_dict("records")
    refs: list[bytes | None] = []
    for values, member, kind in zip(records, members, kinds, strict=True):
        old = previous.get(member)
        if kind == "" and isinstance(old, bytes):
            refs.append(old)
        else:
            refs.append(cipher.seal(supplier, member, values))
    return tuple(refs)


@dataclass(frozen=True)
class DeltaRows:
    """What a delta carries, row-aligned: see `delta_rows`."""

    frame: pd.DataFrame
    kinds: pd.Series
    previous_groups: pd.Series
    left_groups: pd.Series | None
    unnamed: int


def delta_rows(
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
    opened = sealed_refs(state.frame, cipher, agreement.id)

    def key(values: dict[str, Any]) -> tuple[Any, ...] | None:
        found = tuple(values.get(c) for c in ids)
        return None if any(v is None or v is pd.NA for v in found) else found

    removals, unnamed = named_removals(changes.removed, opened)
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
            left_groups.iloc[position] = groups_left(
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
                left_groups.iloc[position] = groups_left(
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
    removed_left = pd.Series([groups_left(values, None) for values in kept], dtype="str")
    left = pd.concat([removed_left, left_groups], ignore_index=True)
    return DeltaRows(frame, kind, before_groups, left if composite else None, unnamed)
