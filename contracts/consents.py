"""The consent contract: one row of the privacy-voorkeuren export, in canonical spelling.

The rows are read into canonical values first (`contracts.consent_spelling`); what this
contract refuses is what could not be read, and policy counts such a row against consent.
"""

from __future__ import annotations

from typing import cast

import pandera.pandas as pa
from pandera.typing import Series

from connectors.identifiers import unreadable_keys
from contracts.classification import Classification as C
from contracts.consent_spelling import is_canonical_moment, is_school_year
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
        "When the choice was made, as a moment in UTC (jjjj-mm-ddThh:mm:ss.ffffffZ)",
        C.CONSENT,
        "datum van de keuze",
        nullable=False,
    )
    source_file: Series[str] = declared("Consent file", C.TECHNICAL, "bronbestand", nullable=False)
    source_line: Series[int] = declared(
        "Line in the consent file", C.TECHNICAL, "regel in het bronbestand", nullable=False
    )

    @pa.check("leerlingkey", name="leerlingkey_control")
    def leerlingkey_control(cls, series: Series[str]) -> Series[bool]:
        """No control or invisible characters: such a key matches no pupil while it should."""
        return cast(Series[bool], ~unreadable_keys(series))

    @pa.check("schooljaar", name="schooljaar_format")
    def schooljaar_format(cls, series: Series[str]) -> Series[bool]:
        """Two consecutive years, 2026-2027: only the export's school year counts."""
        return cast(Series[bool], is_school_year(series))

    @pa.check("gewijzigd_op", name="datetime_format")
    def datetime_format(cls, series: Series[str]) -> Series[bool]:
        """A real moment, so 'latest wins' can be decided."""
        return cast(Series[bool], is_canonical_moment(series))

    class Config:
        """Strict: unknown columns are an error."""

        strict = True
        coerce = False
