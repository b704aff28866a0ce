"""The consent contract: one row of the privacy-voorkeuren export."""

from __future__ import annotations

from typing import cast

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from contracts.classification import Classification as C
from contracts.codes import SCHOOLJAAR_PATTERN
from contracts.fields import declared

__all__ = ["CONSENT_VALUES", "ConsentRecord"]

CONSENT_VALUES = ("ja", "nee")


class ConsentRecord(pa.DataFrameModel):
    """A parent's choice for one pupil, category and school year, at a moment in time."""

    leerlingkey: Series[str] = declared(
        "Pupil key the choice is about", C.IDENTIFIER, "leerlingnummer", nullable=False
    )
    schooljaar: Series[str] = declared(
        "School year the choice is for",
        C.CONSENT,
        "schooljaar",
        nullable=False,
        str_matches=SCHOOLJAAR_PATTERN,
    )
    categorie: Series[str] = declared(
        "Consent category, as the school defines it (e.g. beeldmateriaal_website)",
        C.CONSENT,
        "soort toestemming",
        nullable=False,
        str_matches=r"^[a-z0-9_]+$",
    )
    waarde: Series[str] = declared(
        "ja or nee", C.CONSENT, "toestemming ja of nee", nullable=False, isin=list(CONSENT_VALUES)
    )
    gewijzigd_op: Series[str] = declared(
        "When the choice was made (ISO date or date-time)",
        C.CONSENT,
        "datum van de keuze",
        nullable=False,
    )
    source_file: Series[str] = declared("Consent file", C.TECHNICAL, "bronbestand", nullable=False)
    source_line: Series[int] = declared(
        "Line in the consent file", C.TECHNICAL, "regel in het bronbestand", nullable=False
    )

    @pa.check("gewijzigd_op", name="datetime_format")
    def datetime_format(cls, series: Series[str]) -> Series[bool]:
        """gewijzigd_op is an ISO date or date-time, so 'latest wins' can be decided."""
        return cast(Series[bool], pd.to_datetime(series, format="ISO8601", errors="coerce").notna())

    class Config:
        """Strict: unknown columns are an error."""

        strict = True
        coerce = False
