"""Consent as it stands: this school year only, latest change wins, no record means no."""

from __future__ import annotations

import pandas as pd

__all__ = ["consented_keys", "current_consents"]


def current_consents(consents: pd.DataFrame, schooljaar: str) -> pd.DataFrame:
    """Return the standing choice per (leerlingkey, categorie) for one school year.

    Rows of other school years are ignored: consent is asked again every year. Among the
    rows of a pupil and category, the latest `gewijzigd_op` wins; when two conflicting
    rows carry the same moment, "nee" wins, because doubt must not become consent.

    Args:
        consents: valid rows of the ConsentRecord contract.
        schooljaar: the export's school year, e.g. "2026-2027".

    Returns:
        Columns leerlingkey, categorie, waarde ("ja"/"nee"), gewijzigd_op.
    """
    rows = consents.loc[consents["schooljaar"] == schooljaar]
    ordered = rows.assign(
        _moment=pd.to_datetime(rows["gewijzigd_op"], format="ISO8601"),
        _no=rows["waarde"] == "nee",
    ).sort_values(["leerlingkey", "categorie", "_moment", "_no"], kind="stable")
    latest = ordered.drop_duplicates(["leerlingkey", "categorie"], keep="last")
    return latest[["leerlingkey", "categorie", "waarde", "gewijzigd_op"]].reset_index(drop=True)


def consented_keys(standing: pd.DataFrame, category: str) -> pd.Index:
    """Keys of pupils whose standing choice for `category` is "ja"."""
    yes = standing.loc[(standing["categorie"] == category) & (standing["waarde"] == "ja")]
    return pd.Index(yes["leerlingkey"].unique())
