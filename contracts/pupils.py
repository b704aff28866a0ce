"""The pupil contract: every canonical pupil column, what it is, how sensitive, what is valid."""

from __future__ import annotations

from typing import cast

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from connectors.identifiers import unreadable_keys
from contracts.classification import Classification as C
from contracts.codes import GESLACHT, JAARGROEP
from contracts.fields import ISO_DATE, declared

__all__ = ["ECKID_LEGACY", "ECKID_MODERN", "PupilRecord"]

# ECK iD as issued by the Nummervoorziening since 2018; https://id.school/... is the
# older form in the EDEXML 2.1 manual (accepted with a warning).
ECKID_MODERN = r"^https://ketenid\.nl/[^/]+/[0-9a-f]{128}$"
ECKID_LEGACY = r"^https://\S+$"


class PupilRecord(pa.DataFrameModel):
    """One pupil of one school in one school year, as the export states it.

    Values stay strings (dates as ISO yyyy-mm-dd); the checks make sure they are the
    strings the standard allows. Sensitive columns are declared so that the deny-list can
    find them; they are read only to be dropped.
    """

    leerlingkey: Series[str] = declared(
        "Pupil key in the administration (EDEXML leerling/@key)",
        C.IDENTIFIER,
        "leerlingnummer van de school",
        nullable=False,
    )
    eckid: Series[str] = declared(
        "ECK iD, the chain pseudonym for digital learning materials (leerling/@eckid)",
        C.IDENTIFIER,
        "ECK iD: een nummer waarmee leermiddelen je kind herkennen zonder naam",
        str_matches=ECKID_LEGACY,
    )
    achternaam: Series[str] = declared(
        "Significant part of the surname", C.NAME, "achternaam", str_length={"max_value": 200}
    )
    voorvoegsel: Series[str] = declared(
        "Tussenvoegsel (van, de, van der)", C.NAME, "tussenvoegsel", str_length={"max_value": 10}
    )
    voornamen: Series[str] = declared("All given names", C.NAME, "voornamen")
    voorletters: Series[str] = declared("Initials (voorletters-1)", C.NAME, "voorletters")
    roepnaam: Series[str] = declared(
        "Name the pupil is called by", C.NAME, "roepnaam (voornaam)", str_length={"max_value": 64}
    )
    geboortedatum: Series[str] = declared(
        "Date of birth, ISO", C.BIRTH_DATE, "geboortedatum", str_matches=ISO_DATE
    )
    geslacht: Series[str] = declared(
        "Gender, NEN-ISO 5218 code", C.DEMOGRAPHIC, "geslacht", isin=list(GESLACHT)
    )
    start_ondw_jgr3: Series[str] = declared(
        "Date the pupil started group-3 teaching",
        C.SCHOOL_RECORD,
        "startdatum groep 3",
        str_matches=ISO_DATE,
    )
    jaargroep: Series[str] = declared(
        "Year group of the pupil, or derived from a non-combination stamgroep",
        C.SCHOOL_RECORD,
        "jaargroep (groep 1 tot en met 8)",
        nullable=False,
        isin=list(JAARGROEP),
    )
    groepskey: Series[str] = declared(
        "Key of the pupil's stamgroep", C.SCHOOL_RECORD, "code van de groep"
    )
    groepsnaam: Series[str] = declared(
        "Name of the pupil's stamgroep (from the groups of the export)",
        C.SCHOOL_RECORD,
        "naam van de groep",
    )
    samengestelde_groepen: Series[str] = declared(
        "Keys of composite groups, separated by ';'",
        C.SCHOOL_RECORD,
        "extra groepen (bijvoorbeeld plusgroep)",
    )
    vestiging: Series[str] = declared("Key of the school location", C.ORGANISATION, "vestiging")
    gebruikersnaam: Series[str] = declared("User name", C.CONTACT, "gebruikersnaam")
    emailadres: Series[str] = declared("E-mail address", C.CONTACT, "e-mailadres")
    fotourl: Series[str] = declared("Link to a photo of the pupil", C.PHOTO, "foto")
    etniciteit: Series[str] = declared("Ethnicity code", C.ETHNICITY, "etniciteit")
    land: Series[str] = declared("Country of birth", C.ORIGIN, "geboorteland")
    land_vader: Series[str] = declared("Father's country of birth", C.ORIGIN, "geboorteland vader")
    land_moeder: Series[str] = declared(
        "Mother's country of birth", C.ORIGIN, "geboorteland moeder"
    )
    bsn: Series[str] = declared("Burgerservicenummer", C.NATIONAL_ID, "burgerservicenummer")
    sofinummer: Series[str] = declared("Sofinummer (historic)", C.NATIONAL_ID, "sofinummer")
    onderwijsnummer: Series[str] = declared("Onderwijsnummer", C.NATIONAL_ID, "onderwijsnummer")
    bsn_ondwnr4: Series[str] = declared(
        "Last four digits of BSN or onderwijsnummer",
        C.NATIONAL_ID,
        "laatste vier cijfers van het burgerservicenummer",
    )
    rijksregisternummer: Series[str] = declared(
        "Belgian national number", C.NATIONAL_ID, "rijksregisternummer"
    )
    gewicht_nieuw: Series[str] = declared("Pupil weight (2.0)", C.PUPIL_WEIGHT, "leerlinggewicht")
    gewicht: Series[str] = declared("Pupil weight (old)", C.PUPIL_WEIGHT, "leerlinggewicht")
    postcode: Series[str] = declared("Postcode", C.LOCATION, "postcode")
    instroomdatum: Series[str] = declared(
        "Date of entry", C.SCHOOL_RECORD, "datum van inschrijving", str_matches=ISO_DATE
    )
    uitstroomdatum: Series[str] = declared(
        "Date of leaving", C.SCHOOL_RECORD, "datum van uitschrijving", str_matches=ISO_DATE
    )
    toevoegingen: Series[str] = declared(
        "Free-text extension blocks", C.FREE_TEXT, "vrije tekst (opmerkingen)"
    )
    mutatiedatum: Series[str] = declared(
        "Last change in the administration", C.TECHNICAL, "datum laatste wijziging"
    )
    source_file: Series[str] = declared(
        "Export file the row was read from", C.TECHNICAL, "bronbestand", nullable=False
    )
    source_line: Series[int] = declared(
        "Line in the export file", C.TECHNICAL, "regel in het bronbestand", nullable=False
    )

    # Keys are unique within one export (one school, one year), not across schools: a
    # batch of schools is validated in one frame, partitioned by source_file.
    @pa.check("leerlingkey", name="leerlingkey_control")
    def leerlingkey_control(cls, series: Series[str]) -> Series[bool]:
        """No control or invisible characters: such a key would match nothing it should."""
        return cast(Series[bool], ~unreadable_keys(series))

    @pa.dataframe_check(name="leerlingkey_unique")
    def leerlingkey_unique(cls, df: pd.DataFrame) -> Series[bool]:
        """EDEXML leerlingKey: one pupil per key in an export."""
        return cast(Series[bool], ~df.duplicated(["source_file", "leerlingkey"], keep=False))

    @pa.dataframe_check(name="eckid_unique")
    def eckid_unique(cls, df: pd.DataFrame) -> Series[bool]:
        """EDEXML leerlingEckidUnique: an ECK iD belongs to one pupil."""
        duplicated = df.duplicated(["source_file", "eckid"], keep=False)
        return cast(Series[bool], df["eckid"].isna() | ~duplicated)

    @pa.dataframe_check(name="name_rule")
    def name_rule(cls, df: pd.DataFrame) -> Series[bool]:
        """EDEXML: an achternaam, or a roepnaam alone (no other name parts without achternaam)."""
        has_surname = df["achternaam"].notna()
        parts_without_surname = (
            df["voorvoegsel"].notna() | df["voornamen"].notna() | df["voorletters"].notna()
        )
        return cast(Series[bool], has_surname | (df["roepnaam"].notna() & ~parts_without_surname))

    class Config:
        """Strict: a column the contract does not know is an error, not a passenger."""

        strict = True
        coerce = False
