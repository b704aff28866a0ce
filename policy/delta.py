"""What changed for a supplier since its last delivery, and whether that is too much to send.

Pure functions over frames: the cut a supplier gets now (as pupil hashes and row hashes)
against the state it holds (from lineage.state). The same comparison serves both modes:
a `delta` supplier receives only the changes, a `full` supplier everything; either way a
mass removal or change is held for a person to look at, whatever caused it (a half-empty
export, an edited agreement, a batch of withdrawn consents).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

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
        return {str(k): int(v) for k, v in self.kinds.value_counts().items()}

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
    ids = current_ids.reset_index(drop=True)
    rows = current_rows.reset_index(drop=True)
    before = dict(zip(state["pupil_hash"], state["row_hash"], strict=True))
    previous_rows = ids.map(before)
    known = previous_rows.notna()
    kinds = pd.Series("", index=ids.index, dtype="str")
    kinds = kinds.mask(~known, CHANGE_ADDED)
    kinds = kinds.mask(known & (previous_rows != rows), CHANGE_CHANGED)
    gone = state.loc[~isin(state["pupil_hash"], ids), "pupil_hash"]
    removed = gone.sort_values().reset_index(drop=True).astype("str")
    return ChangeSet(kinds=kinds, removed=removed, previous=len(state))


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
