"""Consent as it stands: this school year only, latest change wins, no record means no.

And a row that could not be read counts as "no" for what it may be about, whatever the
readable rows say, until it is corrected (contracts.unreadable_consents).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = ["consented_keys", "current_consents", "unreadable_for"]

# The canonical spelling of gewijzigd_op (contracts.consent_spelling.MOMENT_FORMAT).
_MOMENT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def current_consents(
    consents: pd.DataFrame, schooljaar: str | pd.Series, by: Sequence[str] = ()
) -> pd.DataFrame:
    """Return the standing choice per (leerlingkey, categorie) for the export's school year.

    Rows of other school years are ignored: consent is asked again every year. Among the
    rows of a pupil and category, the latest `gewijzigd_op` wins; when two conflicting
    rows carry the same moment, "nee" wins, because doubt must not become consent.

    Args:
        consents: valid rows of the ConsentRecord contract.
        schooljaar: the export's school year, e.g. "2026-2027"; or, for a batch of
            schools, a Series aligned with `consents` giving each row's export year.
        by: extra columns that partition the rows (a school column for a batch).

    Returns:
        Columns *by, leerlingkey, categorie, waarde ("ja"/"nee"), gewijzigd_op.
    """
    rows = consents.loc[consents["schooljaar"] == schooljaar]
    keys = [*by, "leerlingkey", "categorie"]
    ordered = rows.assign(
        _moment=pd.to_datetime(rows["gewijzigd_op"], format=_MOMENT_FORMAT, utc=True),
        _no=rows["waarde"] == "nee",
    ).sort_values([*keys, "_moment", "_no"], kind="stable")
    latest = ordered.drop_duplicates(keys, keep="last")
    return latest[[*keys, "waarde", "gewijzigd_op"]].reset_index(drop=True)


def consented_keys(standing: pd.DataFrame, category: str, by: Sequence[str] = ()) -> pd.Index:
    """Keys (with the `by` columns, as a MultiIndex) of pupils whose choice is "ja"."""
    yes = standing.loc[(standing["categorie"] == category) & (standing["waarde"] == "ja")]
    if by:
        return pd.MultiIndex.from_frame(yes[[*by, "leerlingkey"]])
    return pd.Index(yes["leerlingkey"].unique())


def unreadable_for(
    unreadable: pd.DataFrame,
    schooljaar: str | pd.Series,
    category: str,
    pupils: pd.DataFrame,
    by: Sequence[str] = (),
) -> pd.Series:
    """Which pupils an unreadable consent row withdraws `category` from.

    Args:
        unreadable: withdrawals as contracts.unreadable_consents gives them; a missing
            leerlingkey, schooljaar or categorie means every pupil, year or category.
        schooljaar: the export's school year, or per row of `unreadable` (a batch).
        category: the consent category.
        pupils: the pupils, with leerlingkey and the `by` columns.
        by: columns that partition both frames (a school column for a batch).

    Returns:
        A boolean Series aligned with `pupils`.
    """
    this_year = unreadable["schooljaar"].isna() | (unreadable["schooljaar"] == schooljaar)
    about = unreadable["categorie"].isna() | (unreadable["categorie"] == category)
    rows = unreadable.loc[(this_year & about).to_numpy(dtype=bool)]
    everyone = rows["leerlingkey"].isna()
    named = rows.loc[~everyone]
    if by:
        pupil_keys = pd.MultiIndex.from_frame(pupils[[*by, "leerlingkey"]])
        hit = pupil_keys.isin(pd.MultiIndex.from_frame(named[[*by, "leerlingkey"]]))
        partition = pd.MultiIndex.from_frame(pupils[list(by)])
        hit |= partition.isin(pd.MultiIndex.from_frame(rows.loc[everyone, list(by)]))
    else:
        hit = pupils["leerlingkey"].isin(named["leerlingkey"]).to_numpy() | bool(everyone.any())
    return pd.Series(hit, index=pupils.index, dtype=bool)
