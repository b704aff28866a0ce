"""What changed for a supplier since its last delivery, and whether that is too much to send.

Pure functions over frames: the cut a supplier gets now (as pupil hashes and row hashes)
against the state it holds (from lineage.state). The same comparison serves both modes:
a `delta` supplier receives only the changes, a `full` supplier everything; either way a
mass removal or change is held for a person to look at, whatever caused it (a half-empty
export, an edited agreement, a batch of withdrawn consents).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from connectors.formats.base import CHANGE_ADDED, CHANGE_CHANGED, CHANGE_REMOVED
from connectors.i18n import _
from policy.isin import isin

__all__ = ["ChangeSet", "HoldDecision", "diff", "hold_decision"]


@dataclass(frozen=True)
class ChangeSet:
    """The comparison of a cut with what the supplier holds.

    Attributes:
        kinds: per current pupil (the cut's order), CHANGE_ADDED, CHANGE_CHANGED or "" when
            unchanged.
        removed: pupil hashes the supplier holds that the cut no longer has, sorted.
        previous: number of pupils the supplier held.
    """

    kinds: pd.Series
    removed: pd.Series
    previous: int

    @cached_property
    def _kind_counts(self) -> dict[str, int]:
        # Counted once: counts() and nothing_new ask for the same figures again.
        # A Counter over a few hundred labels costs a third of value_counts; a missing
        # kind is left out, as value_counts leaves it out.
        counted = Counter(self.kinds.tolist())
        return {k: v for k, v in counted.items() if isinstance(k, str)}

    @property
    def added(self) -> int:
        """Pupils the supplier did not have."""
        return self._kind_counts.get(CHANGE_ADDED, 0)

    @property
    def changed(self) -> int:
        """Pupils whose delivered row differs from what the supplier has."""
        return self._kind_counts.get(CHANGE_CHANGED, 0)

    @property
    def unchanged(self) -> int:
        """Pupils the supplier has exactly as they are now."""
        return self._kind_counts.get("", 0)

    @property
    def nothing_new(self) -> bool:
        """True when the supplier already has exactly this."""
        return self.added == 0 and self.changed == 0 and len(self.removed) == 0

    def counts(self) -> dict[str, int]:
        """The manifest and lineage form: added, changed, removed, unchanged."""
        return {
            CHANGE_ADDED: self.added,
            CHANGE_CHANGED: self.changed,
            CHANGE_REMOVED: len(self.removed),
            "unchanged": self.unchanged,
        }


def diff(current_ids: pd.Series, current_rows: pd.Series, state: pd.DataFrame) -> ChangeSet:
    """Compare the current cut with the supplier's state.

    Args:
        current_ids: pupil hash of each pupil in the cut, in the cut's order.
        current_rows: keyed hash of each pupil's delivered row, same order.
        state: what the supplier holds: columns pupil_hash and row_hash.

    Returns:
        The change set.
    """
    if not len(state):
        # Nothing held (a supplier new to the school; the teachers of a flat format): every
        # pupil is an addition and none is removed, without a dozen calls to say so.
        added = np.full(len(current_ids), CHANGE_ADDED, dtype=object)
        kinds = pd.Series(added, index=pd.RangeIndex(len(added)), dtype="str")
        return ChangeSet(kinds=kinds, removed=pd.Series([], dtype="str"), previous=0)
    ids = current_ids.reset_index(drop=True)
    rows = current_rows.reset_index(drop=True).to_numpy(dtype=object)
    held = pd.Index(state["pupil_hash"])
    # Where each current pupil stands in the state (-1: not held), found with one hash
    # table instead of a dict, a map and three masks per delivery.
    at = held.get_indexer(ids) if held.is_unique else _last_positions(held, ids)
    held_rows = state["row_hash"].to_numpy(dtype=object)
    if len(held_rows):
        previous_rows = held_rows[np.where(at >= 0, at, 0)]
        # A held pupil without a row hash counts as not held, as the mapping said.
        known = (at >= 0) & pd.notna(previous_rows)
        changed = known & (previous_rows != rows)
    else:
        known = changed = np.zeros(len(ids), dtype=bool)
    labels = np.where(known, np.where(changed, CHANGE_CHANGED, ""), CHANGE_ADDED)
    kinds = pd.Series(labels, index=ids.index, dtype="str")
    if len(held_rows):
        gone = state.loc[~isin(state["pupil_hash"], ids), "pupil_hash"]
        removed = gone.sort_values().reset_index(drop=True).astype("str")
    else:
        removed = pd.Series([], dtype="str")
    return ChangeSet(kinds=kinds, removed=removed, previous=len(state))


def _last_positions(held: pd.Index, ids: pd.Series) -> np.ndarray:
    """As get_indexer, for a state that holds a pupil twice: the last row of it counts.

    dict(zip(...)) kept the last row hash of a repeated pupil; a state never repeats one,
    but comparing must not depend on that.
    """
    last = ~held.duplicated(keep="last")
    positions = np.flatnonzero(last)
    found = held[last].get_indexer(ids)
    return np.where(found >= 0, positions[np.where(found >= 0, found, 0)], -1)


@dataclass(frozen=True)
class HoldDecision:
    """Whether a delivery waits for approval, and the figures behind it."""

    held: bool
    removed_pct: float
    changed_pct: float
    reason: str = ""


def hold_decision(
    changes: ChangeSet, *, max_removed_pct: float, max_changed_pct: float
) -> HoldDecision:
    """Decide whether a delivery waits for a person.

    It waits when more than `max_removed_pct` of the pupils the supplier holds would be
    removed, or more than `max_changed_pct` changed. A supplier that holds nobody yet is
    never held: there is nothing to lose.
    """
    if changes.previous == 0:
        return HoldDecision(held=False, removed_pct=0.0, changed_pct=0.0)
    removed_pct = 100.0 * len(changes.removed) / changes.previous
    changed_pct = 100.0 * changes.changed / changes.previous
    reasons = []
    if removed_pct > max_removed_pct:
        reasons.append(
            _("{n} van {total} leerlingen verwijderd ({pct:.0f}%, drempel {limit:g}%)").format(
                n=len(changes.removed),
                total=changes.previous,
                pct=removed_pct,
                limit=max_removed_pct,
            )
        )
    if changed_pct > max_changed_pct:
        reasons.append(
            _("{n} van {total} leerlingen gewijzigd ({pct:.0f}%, drempel {limit:g}%)").format(
                n=changes.changed, total=changes.previous, pct=changed_pct, limit=max_changed_pct
            )
        )
    return HoldDecision(
        held=bool(reasons),
        removed_pct=removed_pct,
        changed_pct=changed_pct,
        reason="; ".join(reasons),
    )
