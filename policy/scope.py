"""Which valid pupils an agreement covers: pupils who left, jaargroepen, vestigingen."""

from __future__ import annotations

from datetime import date

import pandas as pd

__all__ = ["has_left", "outside_scope"]


def has_left(pupils: pd.DataFrame, today: date) -> pd.Series:
    """True for pupils whose uitstroomdatum lies before today (ex-pupils in the export)."""
    left_on = pd.to_datetime(pupils["uitstroomdatum"], format="%Y-%m-%d", errors="coerce")
    return (left_on < pd.Timestamp(today)).fillna(False).astype(bool)


def outside_scope(
    pupils: pd.DataFrame, jaargroepen: list[str] | None, vestigingen: list[str] | None
) -> pd.Series:
    """True for pupils outside the agreement's jaargroepen or vestigingen (None = all)."""
    outside = pd.Series(False, index=pupils.index)
    if jaargroepen is not None:
        outside |= ~pupils["jaargroep"].isin(jaargroepen)
    if vestigingen is not None:
        outside |= ~pupils["vestiging"].isin(vestigingen)
    return outside
