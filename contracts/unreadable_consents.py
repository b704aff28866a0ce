"""Consent rows the contract refused, as the withdrawals they may stand for.

A consent row that cannot be read is not simply dropped: it may be this year's "nee".
It can take consent away, never give it. The rule, row by row:

- a row that is a readable "ja" apart from its key (the key is empty, or holds control or
  invisible characters) gives nothing and takes nothing: it only goes into the report;
- every other refused row withdraws consent until it is corrected:
  - for the category it names, or for every category when the category is unreadable;
  - in the school year it names, or in every school year when that is unreadable;
  - for the pupil whose key it holds; a key with control characters or odd spaces
    names the pupil whose key is the same without them; an empty key names every pupil
    of the school (whose row it was cannot be known, so nobody's consent for that
    category can stand on this file).
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from connectors.identifiers import readable_keys
from connectors.sources.base import SOURCE_FILE, SOURCE_LINE

__all__ = ["UNREADABLE_COLUMNS", "no_unreadable_consents", "unreadable_consents"]

# leerlingkey, schooljaar and categorie are missing where they mean "every".
UNREADABLE_COLUMNS: Final = ("leerlingkey", "schooljaar", "categorie", SOURCE_FILE, SOURCE_LINE)
_CHOICE_COLUMNS: Final = ("schooljaar", "categorie", "waarde", "gewijzigd_op")


def no_unreadable_consents() -> pd.DataFrame:
    """An empty frame of UNREADABLE_COLUMNS."""
    frame = pd.DataFrame({name: pd.Series([], dtype="str") for name in UNREADABLE_COLUMNS[:-1]})
    frame[SOURCE_LINE] = pd.Series([], dtype="int64")
    return frame


def unreadable_consents(rows: pd.DataFrame, failures: pd.DataFrame) -> pd.DataFrame:
    """The withdrawals that the refused consent rows stand for.

    Args:
        rows: the consent rows in canonical spelling, as the contract saw them.
        failures: the contract's failures: `index` (of `rows`), `column` and `rule`.

    Returns:
        One row per withdrawing consent row, UNREADABLE_COLUMNS, indexed like `rows`.
    """
    if failures.empty:
        return no_unreadable_consents()
    bad = pd.crosstab(failures["index"], failures["column"]).astype(bool)
    refused = rows.loc[bad.index]

    def unreadable(column: str) -> pd.Series:
        if column not in bad.columns:
            return pd.Series(False, index=bad.index)
        return bad[column]

    choice_unreadable = pd.Series(False, index=bad.index)
    for column in _CHOICE_COLUMNS:
        choice_unreadable |= unreadable(column)
    readable_yes = (refused["waarde"] == "ja").fillna(False) & ~choice_unreadable
    withdrawing = refused.loc[~readable_yes.to_numpy()]
    keys = readable_keys(withdrawing["leerlingkey"])
    kept = ~readable_yes
    return pd.DataFrame(
        {
            "leerlingkey": keys.where(keys != "").astype("str"),
            "schooljaar": withdrawing["schooljaar"].where(~unreadable("schooljaar")[kept]),
            "categorie": withdrawing["categorie"].where(~unreadable("categorie")[kept]),
            SOURCE_FILE: withdrawing[SOURCE_FILE],
            SOURCE_LINE: withdrawing[SOURCE_LINE].astype("int64"),
        },
        index=withdrawing.index,
    ).astype({"schooljaar": "str", "categorie": "str"})
