"""Consent as it stands: this school year only, latest change wins, no record means no."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = ["consented_keys", "current_consents"]


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
        _moment=pd.to_datetime(rows["gewijzigd_op"], format="ISO8601"),
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
