"""The group contract: stamgroepen and samengestelde groepen of one school year."""

from __future__ import annotations

from typing import cast

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from contracts.classification import Classification as C
from contracts.codes import JAARGROEP
from contracts.fields import declared

__all__ = ["GROUP_KIND_COMPOSITE", "GROUP_KIND_STAM", "GroupRecord"]

GROUP_KIND_STAM = "groep"
GROUP_KIND_COMPOSITE = "samengestelde_groep"


class GroupRecord(pa.DataFrameModel):
    """One group. Keys are unique across both kinds (EDEXML groepKeyUnique)."""

    groepskey: Series[str] = declared(
        "Group key in the administration",
        C.SCHOOL_RECORD,
        "code van de groep",
        nullable=False,
    )
    groepsnaam: Series[str] = declared(
        "Group name", C.SCHOOL_RECORD, "naam van de groep", nullable=False
    )
    jaargroep: Series[str] = declared(
        "Year group of a stamgroep; C for a combination group",
        C.SCHOOL_RECORD,
        "jaargroep van de groep",
        isin=list(JAARGROEP),
    )
    soort: Series[str] = declared(
        "groep (stamgroep) or samengestelde_groep",
        C.TECHNICAL,
        "soort groep",
        nullable=False,
        isin=[GROUP_KIND_STAM, GROUP_KIND_COMPOSITE],
    )
    omschrijving: Series[str] = declared("Description", C.FREE_TEXT, "omschrijving van de groep")
    source_file: Series[str] = declared("Export file", C.TECHNICAL, "bronbestand", nullable=False)
    source_line: Series[int] = declared(
        "Line in the export file", C.TECHNICAL, "regel in het bronbestand", nullable=False
    )

    @pa.dataframe_check(name="groepskey_unique")
    def groepskey_unique(cls, df: pd.DataFrame) -> Series[bool]:
        """EDEXML groepKeyUnique: one key space for groep and samengestelde_groep, per export."""
        return cast(Series[bool], ~df.duplicated(["source_file", "groepskey"], keep=False))

    @pa.dataframe_check(name="stamgroep_jaargroep")
    def stamgroep_jaargroep(cls, df: pd.DataFrame) -> Series[bool]:
        """A stamgroep always has a jaargroep (EDEXML GroepType requires it)."""
        return cast(Series[bool], (df["soort"] != GROUP_KIND_STAM) | df["jaargroep"].notna())

    class Config:
        """Strict: unknown columns are an error."""

        strict = True
        coerce = False
