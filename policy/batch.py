"""A batch of validated schools as every agreement reads it, worked out once per batch.

A deliver task applies one agreement to a batch, and the next supplier's task in the same
process applies another agreement to the same batch (pipelines/tasks.py keeps the loaded
batch). The batch's pupils in one frame, its standing consent choices and its pupils'
membership ids depend on no agreement, so they are built the first time an agreement asks
and then shared, read-only, by the others: once per batch instead of once per supplier.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from contracts.validation import ValidatedSchool
from policy.consent import consented_keys, current_consents, unreadable_for
from policy.pseudonymise import pseudonym

__all__ = ["SCHOOL", "BatchConsents", "SchoolBatch", "member_ids", "positions_by_school"]

# Partition column for a batch; never part of a delivery (minimise drops it).
SCHOOL = "_school"


def member_ids(brincodes: pd.Series, keys: pd.Series, secret: bytes) -> pd.Series:
    """Keyed hash of "<brincode>:<leerlingkey>": how lineage refers to a pupil.

    The school is part of it because LAS keys are unique per school, not per board.
    """
    return pseudonym(brincodes.str.cat(keys, sep=":"), secret)


def positions_by_school(owner: np.ndarray, schools: int) -> list[np.ndarray]:
    """Per school of the batch, the positions of its rows in `owner`, in their order.

    Found with one stable sort: slicing the batch with a boolean mask per school would
    read the whole batch once per school.
    """
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(schools + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(schools)]


@dataclass(frozen=True)
class BatchConsents:
    """A batch's consent: the standing choices, and the unreadable rows with their year."""

    standing: pd.DataFrame
    unreadable: pd.DataFrame
    year: pd.Series  # the export's school year per row of `unreadable`

    def withdrawn(self, category: str, pupils: pd.DataFrame) -> pd.Series:
        """Pupils whose consent for `category` an unreadable row takes away."""
        return unreadable_for(self.unreadable, self.year, category, pupils, by=[SCHOOL])

    def yes(self, category: str, pupils: pd.DataFrame) -> pd.Series:
        """Pupils with a standing "ja" for `category` and no unreadable row against it."""
        keys = pd.MultiIndex.from_frame(pupils[[SCHOOL, "leerlingkey"]])
        consented = keys.isin(consented_keys(self.standing, category, by=[SCHOOL]))
        return pd.Series(consented, index=pupils.index) & ~self.withdrawn(category, pupils)


class SchoolBatch:
    """The schools of one batch, with what every agreement reads of them built once.

    Read-only once built: agreements running in other threads share one instance. Two
    threads asking at once may both build a value; they build the same one.
    """

    def __init__(self, schools: Sequence[ValidatedSchool]) -> None:
        self.schools: list[ValidatedSchool] = list(schools)
        self._ids: dict[bytes, pd.Series] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.schools)

    def school_values(self, owner: pd.Series, name: str) -> pd.Series:
        """The school header's `name` for each row, by the row's school position."""
        values = pd.Series([s.school.get(name) for s in self.schools], dtype="str")
        return pd.Series(values.to_numpy()[owner.to_numpy()], index=owner.index, dtype="str")

    @cached_property
    def pupils(self) -> pd.DataFrame:
        """Every school's valid pupils in one frame, with the school's position in SCHOOL."""
        return pd.concat(
            [s.pupils.assign(**{SCHOOL: i}) for i, s in enumerate(self.schools)],
            ignore_index=True,
        )

    @cached_property
    def consents(self) -> BatchConsents:
        """The standing choices and unreadable rows of every school, partitioned by SCHOOL."""
        consents, consent_year = self._with_year([s.consents for s in self.schools])
        standing = current_consents(consents, consent_year, by=[SCHOOL])
        unreadable, year = self._with_year([s.unreadable_consents for s in self.schools])
        return BatchConsents(standing, unreadable, year)

    def _with_year(self, frames: list[pd.DataFrame]) -> tuple[pd.DataFrame, pd.Series]:
        """One frame per school in one, partitioned by SCHOOL; and each row's school year."""
        joined = pd.concat(
            [frame.assign(**{SCHOOL: i}) for i, frame in enumerate(frames)], ignore_index=True
        )
        years = pd.Series([s.schooljaar for s in self.schools], dtype="str")
        return joined, pd.Series(years.to_numpy()[joined[SCHOOL].to_numpy()], index=joined.index)

    def member_ids(self, secret: bytes) -> pd.Series:
        """Membership id of every row of `pupils` under `secret`."""
        with self._lock:
            found = self._ids.get(secret)
        if found is None:
            pupils = self.pupils
            brincodes = self.school_values(pupils[SCHOOL], "brincode").fillna("")
            found = member_ids(brincodes, pupils["leerlingkey"], secret)
            with self._lock:
                self._ids[secret] = found
        return found
