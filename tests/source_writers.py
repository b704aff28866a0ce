"""Write a SchoolExport back out in other source formats, for conformance tests.

The writers turn the pupils of an export (usually one read from a bundled EDEXML sample)
into the files schools make by hand, so that a test can read them back with another
source and check that the same pupils come out.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from connectors.sources.base import SchoolExport

__all__ = ["PARNASSYS_HEADERS", "parnassys_rows", "write_parnassys_csv", "write_parnassys_xlsx"]

# Dutch header -> where its value comes from: a pupil column, "groep:<column>" for a
# column of the pupil's stamgroep, or "school:<field>" for the school header.
PARNASSYS_HEADERS: dict[str, str] = {
    "Leerlingnummer": "leerlingkey",
    "ECK iD": "eckid",
    "Achternaam": "achternaam",
    "Voorvoegsel": "voorvoegsel",
    "Roepnaam": "roepnaam",
    "Voornamen": "voornamen",
    "Voorletters": "voorletters",
    "Geboortedatum": "geboortedatum",
    "Geslacht": "geslacht",
    "Groep": "groep:groepsnaam",
    "Groepscode": "groepskey",
    "Jaargroep": "jaargroep",
    "BSN": "bsn",
    "Postcode": "postcode",
    "Instroomdatum": "instroomdatum",
    "Uitschrijfdatum": "uitstroomdatum",
    "Vestiging": "vestiging",
    "Schooljaar": "school:schooljaar",
    "BRIN": "school:brincode",
}

_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATE_COLUMNS = ("geboortedatum", "instroomdatum", "uitstroomdatum")
_GENDER_LETTERS = {"1": "M", "2": "V"}


def parnassys_rows(
    export: SchoolExport, *, dutch_dates: bool = True, gender_letters: bool = True
) -> list[list[str]]:
    """The export's pupils as a header row and one row of strings per pupil.

    Args:
        export: the export whose pupils to write (groups give the group names).
        dutch_dates: write dates as dd-mm-jjjj (as Excel-NL does) instead of ISO.
        gender_letters: write gender as M/V instead of the EDEXML code.
    """
    stam = export.groups.loc[export.groups["soort"] == "groep"]
    names = dict(zip(stam["groepskey"], stam["groepsnaam"], strict=True))
    rows = [list(PARNASSYS_HEADERS)]
    for pupil in export.pupils.to_dict("records"):
        row = []
        for source in PARNASSYS_HEADERS.values():
            if source.startswith("school:"):
                value = export.school.get(source.removeprefix("school:"))
            elif source == "groep:groepsnaam":
                value = names.get(pupil["groepskey"])
            else:
                value = pupil[source]
                if value is not None and not pd.isna(value):
                    if dutch_dates and source in _DATE_COLUMNS:
                        value = _ISO.sub(r"\3-\2-\1", value)
                    if gender_letters and source == "geslacht":
                        value = _GENDER_LETTERS.get(value, value)
            row.append("" if value is None or pd.isna(value) else str(value))
        rows.append(row)
    return rows


def write_parnassys_csv(
    export: SchoolExport,
    path: Path,
    *,
    separator: str = ";",
    encoding: str = "utf-8-sig",
    title_lines: Sequence[str] = (),
    dutch_dates: bool = True,
    gender_letters: bool = True,
) -> None:
    """Write the export's pupils as a ParnasSys-style overzicht CSV (Dutch headers).

    Only fields the bundled column map reads are written. The defaults are what Excel-NL
    writes: ';', UTF-8 with BOM, CRLF, dates as dd-mm-jjjj.

    Args:
        export: the export to write.
        path: the CSV file to create.
        separator: ';' or ','.
        encoding: e.g. "utf-8-sig", "utf-8" or "cp1252".
        title_lines: lines written above the header (a report title, a blank line).
        dutch_dates: write dates as dd-mm-jjjj instead of ISO.
        gender_letters: write gender as M/V instead of the EDEXML code.
    """
    with path.open("w", encoding=encoding, newline="") as handle:
        for line in title_lines:
            handle.write(line + "\r\n")
        writer = csv.writer(handle, delimiter=separator, lineterminator="\r\n")
        writer.writerows(
            parnassys_rows(export, dutch_dates=dutch_dates, gender_letters=gender_letters)
        )


def write_parnassys_xlsx(
    export: SchoolExport,
    path: Path,
    *,
    title_rows: Sequence[str] = (),
    sheet: str = "Leerlingen",
) -> None:
    """Write the export's pupils as a ParnasSys-style overzicht workbook (needs openpyxl).

    Dates become real date cells and the leerlingnummer a number, as in a spreadsheet a
    school saves by hand.

    Args:
        export: the export to write.
        path: the .xlsx file to create.
        title_rows: rows written above the header, one text cell each.
        sheet: the name of the (only) sheet.
    """
    import datetime as dt

    import openpyxl

    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    for title in title_rows:
        worksheet.append([title] if title else [])
    header, *rows = parnassys_rows(export, dutch_dates=False, gender_letters=True)
    worksheet.append(header)
    dates = {header.index(name) for name in ("Geboortedatum", "Instroomdatum", "Uitschrijfdatum")}
    number = header.index("Leerlingnummer")
    for row in rows:
        cells: list[object] = list(row)
        for index in dates:
            if row[index]:
                cells[index] = dt.date.fromisoformat(row[index])
        if row[number].isdigit() and not row[number].startswith("0"):
            cells[number] = int(row[number])
        worksheet.append([None if cell == "" else cell for cell in cells])
    workbook.save(path)
