"""CSV/Excel overzicht reader: layouts, encodings, normalisation, line numbers, bad input."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from source_writers import write_parnassys_csv, write_parnassys_xlsx

from connectors.errors import ConfigurationError, SourceFormatError
from connectors.sources.base import (
    GROUP_COLUMNS,
    PUPIL_COLUMNS,
    SOURCE_FILE,
    SOURCE_LINE,
    TEACHER_COLUMNS,
    SchoolExport,
)
from connectors.sources.consents import CONSENT_COLUMNS
from connectors.sources.csv_export import (
    DEFAULT_COLUMN_MAP,
    CsvExportSource,
    load_column_map,
    normalise_header,
)
from connectors.sources.edexml import EdexmlSource
from connectors.sources.registry import detect_format, get_source
from contracts.validation import validate_school

openpyxl = pytest.importorskip("openpyxl")

HEADER = (
    "Leerlingnummer;Achternaam;Voorvoegsel;Roepnaam;Geboortedatum;Geslacht;Groep;Jaargroep;"
    "Schooljaar;BRIN"
)
ROWS = [
    "1001;Jansen;;Sem;05-08-2019;M;Groep 3;3;2026-2027;07XY",
    "1002;Berg;van den;Julia;2019-02-11;V;Groep 3;3;2026-2027;07XY",
    "1003;Visser;;Noah;21-10-2021;J;Groep 1/2;1;2026-2027;07XY",
]
TODAY = dt.date(2026, 11, 28)
COMPARED = [
    "leerlingkey",
    "eckid",
    "achternaam",
    "voorvoegsel",
    "roepnaam",
    "voornamen",
    "voorletters",
    "geboortedatum",
    "geslacht",
    "jaargroep",
    "groepskey",
    "groepsnaam",
    "bsn",
    "postcode",
    "instroomdatum",
    "uitstroomdatum",
]


def csv_text(header: str = HEADER, rows: list[str] = ROWS, separator: str = ";") -> str:
    return "\r\n".join(line.replace(";", separator) for line in [header, *rows]) + "\r\n"


def write(
    tmp_path: Path, content: str | bytes, name: str = "overzicht.csv", encoding: str = "utf-8"
) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def extract(path: Path, column_map: Path | None = None) -> SchoolExport:
    return CsvExportSource(column_map).extract(path)


def error_of(path: Path, column_map: Path | None = None) -> str:
    with pytest.raises(SourceFormatError) as exc:
        extract(path, column_map)
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def write_map(tmp_path: Path, text: str, name: str = "map.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def no_consents() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series([], dtype="str") for name in CONSENT_COLUMNS})
    frame[SOURCE_FILE] = pd.Series([], dtype="str")
    frame[SOURCE_LINE] = pd.Series([], dtype="int64")
    return frame


# -- shape of the result ------------------------------------------------------------


@pytest.mark.parametrize("separator", [";", ","])
def test_both_separators(tmp_path: Path, separator: str) -> None:
    path = write(tmp_path, csv_text(separator=separator))
    export = extract(path)

    assert export.format == "csv_export"
    assert export.path == path
    assert len(export.sha256) == 64
    pupils = export.pupils
    assert list(pupils.columns) == [*PUPIL_COLUMNS, SOURCE_FILE, SOURCE_LINE]
    assert pupils["leerlingkey"].tolist() == ["1001", "1002", "1003"]
    assert pupils["voorvoegsel"].isna().tolist() == [True, False, True]
    assert pupils["voorvoegsel"][1] == "van den"
    assert pupils[SOURCE_LINE].tolist() == [2, 3, 4]
    assert (pupils[SOURCE_FILE] == str(path)).all()
    assert export.school["schooljaar"] == "2026-2027"
    assert export.school["brincode"] == "07XY"
    assert export.school["peildatum"] is None
    assert export.encoding == "utf-8"


def test_frames_are_raw_strings_with_provenance(tmp_path: Path) -> None:
    export = extract(write(tmp_path, csv_text()))
    for frame, columns in (
        (export.pupils, PUPIL_COLUMNS),
        (export.groups, GROUP_COLUMNS),
        (export.teachers, TEACHER_COLUMNS),
    ):
        assert list(frame.columns) == [*columns, SOURCE_FILE, SOURCE_LINE]
        for column in (*columns, SOURCE_FILE):
            assert frame[column].dtype == "str", column
        assert frame[SOURCE_LINE].dtype == "int64"
    assert export.teachers.empty
    # Columns the overzicht does not carry are missing, not empty strings.
    assert export.pupils["eckid"].isna().all()
    assert export.pupils["samengestelde_groepen"].isna().all()


def test_registry_reads_csv_and_xlsx_with_this_source() -> None:
    assert detect_format(Path("overzicht.csv")) == "csv_export"
    assert detect_format(Path("Overzicht.XLSX")) == "csv_export"
    assert isinstance(get_source("csv_export"), CsvExportSource)


# -- encodings ----------------------------------------------------------------------


def test_byte_order_mark(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf" + csv_text().encode("utf-8"))
    export = extract(path)
    assert export.pupils["leerlingkey"].tolist() == ["1001", "1002", "1003"]
    assert export.encoding == "utf-8"
    assert not any("encoding" in note for note in export.notes)


def test_windows_1252_is_detected_and_noted(tmp_path: Path) -> None:
    rows = [
        "1001;Maréchal;;Zoë;05-08-2019;M;Groep 3;3;2026-2027;07XY",
        "1002;Brontë;;Daniëlle;2019-02-11;V;Groep 3;3;2026-2027;07XY",
    ]
    path = write(tmp_path, csv_text(rows=rows), encoding="cp1252")
    export = extract(path)
    assert export.encoding == "windows-1252"
    assert export.pupils["achternaam"].tolist() == ["Maréchal", "Brontë"]
    assert export.pupils["roepnaam"].tolist() == ["Zoë", "Daniëlle"]
    assert any("codering windows-1252 herkend" in note for note in export.notes)


def test_utf8_accents_stay_utf8(tmp_path: Path) -> None:
    rows = ["1001;Maréchal;;Zoë;05-08-2019;M;Groep 3;3;2026-2027;07XY"]
    export = extract(write(tmp_path, csv_text(rows=rows)))
    assert export.encoding == "utf-8"
    assert export.pupils["roepnaam"].tolist() == ["Zoë"]


def test_utf16_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xff\xfe" + csv_text().encode("utf-16-le"))
    assert "CSV UTF-8" in error_of(path)


# -- values -------------------------------------------------------------------------


def test_dutch_and_iso_dates_become_iso(tmp_path: Path) -> None:
    header = "Leerlingnummer;Achternaam;Geboortedatum;Jaargroep;Instroomdatum;Uitschrijfdatum"
    rows = [
        "1;A;05-08-2019;3;2023-08-21;",
        "2;B;2019-02-11;3;1-9-2023;31-07-2027",
        "3;C;5/8/2019;3;21.08.2023 00:00;2027-7-31",
        "4;D;31-02-2019;3;2023-08-21T00:00:00;",
        "5;E;gisteren;3;;",
    ]
    path = write(tmp_path, csv_text(header=header, rows=rows))
    column_map = write_map(tmp_path, _MINIMAL_MAP)
    pupils = extract(path, column_map).pupils
    assert pupils["geboortedatum"].tolist() == [
        "2019-08-05",
        "2019-02-11",
        "2019-08-05",
        # No such date: the value stays as written, for the contract to quarantine.
        "31-02-2019",
        "gisteren",
    ]
    assert pupils["instroomdatum"].tolist() == [
        "2023-08-21",
        "2023-09-01",
        "2023-08-21",
        "2023-08-21",
        np.nan,
    ]
    assert pupils["uitstroomdatum"].fillna("").tolist() == ["", "2027-07-31", "2027-07-31", "", ""]


def test_dates_in_fixed_layouts_convert_like_any_other_date(tmp_path: Path) -> None:
    # dd-mm-jjjj and jjjj-mm-dd are converted on their bytes; the result must be what the
    # general (regular expression) conversion gives, also for dates that do not exist.
    header = "Leerlingnummer;Achternaam;Geboortedatum;Jaargroep"
    dates = {
        "29-02-2000": "2000-02-29",
        "29-02-1900": "29-02-1900",
        "31-04-2020": "31-04-2020",
        "00-01-2020": "00-01-2020",
        "01-13-2020": "01-13-2020",
        "31-12-9999": "9999-12-31",
        "2024-02-29": "2024-02-29",
        "2023-02-29": "2023-02-29",
        "2020-00-10": "2020-00-10",
        "01-01-1000": "1000-01-01",
    }
    rows = [f"{n};A;{value};3" for n, value in enumerate(dates, start=1)]
    path = write(tmp_path, csv_text(header=header, rows=rows))
    pupils = extract(path, write_map(tmp_path, _MINIMAL_MAP)).pupils
    assert pupils["geboortedatum"].tolist() == list(dates.values())


def test_every_way_of_reading_gives_the_same_pupils(tmp_path: Path) -> None:
    # Plain rows, rows around an empty line and rows with a quoted value after a space
    # are read by different routes; only the line numbers may differ.
    plain = extract(write(tmp_path, csv_text(), name="plain.csv"))
    empty_line = extract(
        write(tmp_path, csv_text(rows=[ROWS[0], "", ROWS[1], ROWS[2]]), name="empty.csv")
    )
    spaced = [ROWS[0], "  ", ROWS[1].replace(";Julia;", '; "Julia";'), ROWS[2]]
    quoted = extract(write(tmp_path, csv_text(rows=spaced), name="spaced.csv"))
    assert plain.pupils[SOURCE_LINE].tolist() == [2, 3, 4]
    assert empty_line.pupils[SOURCE_LINE].tolist() == [2, 4, 5]
    assert quoted.pupils[SOURCE_LINE].tolist() == [2, 4, 5]
    for other in (empty_line, quoted):
        pd.testing.assert_frame_equal(
            other.pupils.drop(columns=[SOURCE_FILE, SOURCE_LINE]),
            plain.pupils.drop(columns=[SOURCE_FILE, SOURCE_LINE]),
        )
        pd.testing.assert_frame_equal(
            other.groups.drop(columns=[SOURCE_FILE, SOURCE_LINE]),
            plain.groups.drop(columns=[SOURCE_FILE, SOURCE_LINE]),
        )


def test_gender_words_become_edexml_codes(tmp_path: Path) -> None:
    header = "Leerlingnummer;Achternaam;Geboortedatum;Jaargroep;Geslacht"
    written = ["M", "v", "J", "jongen", "MEISJE", "man", "Vrouw", "0", "1", "2", "9", "x", ""]
    rows = [f"{i};A;2019-01-01;3;{value}" for i, value in enumerate(written)]
    path = write(tmp_path, csv_text(header=header, rows=rows))
    pupils = extract(path, write_map(tmp_path, _MINIMAL_MAP)).pupils
    assert pupils["geslacht"].fillna("<NA>").tolist() == [
        "1",
        "2",
        "1",
        "1",
        "2",
        "1",
        "2",
        "0",
        "1",
        "2",
        "9",
        "x",  # unknown: left for the contract to quarantine
        "<NA>",
    ]


def test_spaces_are_stripped_and_headers_match_loosely(tmp_path: Path) -> None:
    header = " LEERLINGNUMMER ; achternaam;Roep naam ;Geboortedatum; jaargroep ;Schooljaar;brin"
    rows = ["  1001 ; Jansen ;\u00a0Sem ; 05-08-2019 ; 3 ; 2026-2027 ; 07XY ", "1002;  ;Julia;;;;"]
    export = extract(write(tmp_path, csv_text(header=header, rows=rows)))
    pupils = export.pupils
    assert pupils["leerlingkey"].tolist() == ["1001", "1002"]
    assert pupils["achternaam"].fillna("<NA>").tolist() == ["Jansen", "<NA>"]
    assert pupils["roepnaam"].tolist() == ["Sem", "Julia"]
    assert pupils["geboortedatum"].fillna("<NA>").tolist() == ["2019-08-05", "<NA>"]
    assert pupils["jaargroep"].fillna("<NA>").tolist() == ["3", "<NA>"]
    assert export.school["brincode"] == "07XY"


def test_jaargroep_written_as_groep_n(tmp_path: Path) -> None:
    header = "Leerlingnummer;Achternaam;Geboortedatum;Jaargroep"
    rows = ["1;A;2019-01-01;Groep 3", "2;B;2019-01-01;03", "3;C;2019-01-01;c", "4;D;2019-01-01;0"]
    pupils = extract(
        write(tmp_path, csv_text(header=header, rows=rows)), write_map(tmp_path, _MINIMAL_MAP)
    ).pupils
    assert pupils["jaargroep"].tolist() == ["3", "3", "C", "0"]


# -- where the header is, and line numbers ---------------------------------------------


def test_header_on_line_3_keeps_real_line_numbers(tmp_path: Path) -> None:
    text = "Overzicht leerlingen;;;\r\n\r\n" + csv_text() + "\r\n" + ROWS[0].replace("1001", "1004")
    export = extract(write(tmp_path, text))
    assert export.pupils["leerlingkey"].tolist() == ["1001", "1002", "1003", "1004"]
    # The blank line 7 is skipped, and not counted away.
    assert export.pupils[SOURCE_LINE].tolist() == [4, 5, 6, 8]
    assert export.school_line == 3
    assert any("kopregel op regel 3" in note for note in export.notes)


def test_line_numbers_count_lines_inside_quoted_values(tmp_path: Path) -> None:
    rows = [
        '1001;"Jansen";;"Sem ""de kleine""";05-08-2019;M;Groep 3;3;2026-2027;07XY',
        '1002;"Berg\r\nvan Dam";;Julia;2019-02-11;V;Groep 3;3;2026-2027;07XY',
        "1003;Visser;;Noah;21-10-2021;J;Groep 1/2;1;2026-2027;07XY",
    ]
    export = extract(write(tmp_path, csv_text(rows=rows)))
    assert export.pupils["roepnaam"].tolist() == ['Sem "de kleine"', "Julia", "Noah"]
    assert export.pupils["achternaam"][1] == "Berg\r\nvan Dam"
    assert export.pupils[SOURCE_LINE].tolist() == [2, 3, 5]


def test_rows_of_separators_only_are_no_pupils(tmp_path: Path) -> None:
    export = extract(write(tmp_path, csv_text(rows=[ROWS[0], ";;;;;;;;;", ROWS[1]])))
    assert export.pupils[SOURCE_LINE].tolist() == [2, 4]


def test_lone_carriage_returns_end_lines(tmp_path: Path) -> None:
    export = extract(write(tmp_path, csv_text().replace("\r\n", "\r")))
    assert export.pupils[SOURCE_LINE].tolist() == [2, 3, 4]


# -- columns the map does not know, and columns it needs ---------------------------------


def test_unknown_columns_are_ignored_and_named(tmp_path: Path) -> None:
    header = HEADER + ";Opmerkingen;Telefoon"
    rows = [row + ";heeft een allergie;0612345678" for row in ROWS]
    export = extract(write(tmp_path, csv_text(header=header, rows=rows)))
    notes = " ".join(export.notes)
    assert "genegeerde kolommen: Opmerkingen, Telefoon" in notes
    assert "allergie" not in notes
    assert "0612345678" not in notes
    values = export.pupils.drop(columns=[SOURCE_LINE]).astype("object").to_numpy().ravel()
    assert "heeft een allergie" not in set(values)
    assert "0612345678" not in set(values)


def test_missing_required_column_names_file_header_and_found_headers(tmp_path: Path) -> None:
    header = "Leerlingnummer;Achternaam;Roepnaam;Groep;Jaargroep;Schooljaar;BRIN"
    rows = ["1001;Jansen;Sem;Groep 3;3;2026-2027;07XY"]
    path = write(tmp_path, csv_text(header=header, rows=rows))
    message = error_of(path)
    assert "ontbrekende kolom(men) Geboortedatum" in message
    assert "gevonden kolommen: Leerlingnummer, Achternaam, Roepnaam, Groep, Jaargroep" in message
    assert "Jansen" not in message
    assert "regel 1" in message


def test_missing_name_columns_say_one_of_them_is_needed(tmp_path: Path) -> None:
    header = "Leerlingnummer;Geboortedatum;Jaargroep;Schooljaar;BRIN"
    path = write(tmp_path, csv_text(header=header, rows=["1;2019-01-01;3;2026-2027;07XY"]))
    assert "ontbrekende kolom(men) Achternaam of Roepnaam" in error_of(path)


def test_missing_schooljaar_says_add_a_column_or_set_it_in_the_map(tmp_path: Path) -> None:
    header = "Leerlingnummer;Achternaam;Geboortedatum;Jaargroep;BRIN"
    path = write(tmp_path, csv_text(header=header, rows=["1;A;2019-01-01;3;07XY"]))
    message = error_of(path)
    assert "ontbrekende kolom(men) Schooljaar" in message
    assert "voeg een kolom Schooljaar toe" in message
    assert "zet schooljaar onder defaults in de kolomindeling" in message
    assert str(DEFAULT_COLUMN_MAP) in message


def test_school_header_from_map_defaults(tmp_path: Path) -> None:
    header = "Leerlingnummer;Achternaam;Geboortedatum;Jaargroep"
    path = write(tmp_path, csv_text(header=header, rows=["1;A;2019-01-01;3"]))
    column_map = write_map(tmp_path, _MINIMAL_MAP)
    export = extract(path, column_map)
    assert export.school["schooljaar"] == "2026-2027"
    assert export.school["brincode"] == "07XY"
    assert any("schooljaar" in note and "kolomindeling" in note for note in export.notes)


def test_school_column_must_hold_one_value(tmp_path: Path) -> None:
    rows = [ROWS[0], ROWS[1].replace("2026-2027", "2025-2026")]
    message = error_of(write(tmp_path, csv_text(rows=rows)))
    assert "regels 2 en 3" in message
    assert "Schooljaar" in message


def test_schooljaar_is_checked_and_normalised(tmp_path: Path) -> None:
    rows = [row.replace("2026-2027", "2026/2027") for row in ROWS]
    assert extract(write(tmp_path, csv_text(rows=rows))).school["schooljaar"] == "2026-2027"
    rows = [row.replace("2026-2027", "2026-2028") for row in ROWS]
    message = error_of(write(tmp_path, csv_text(rows=rows), name="bad.csv"))
    assert "geen schooljaar zoals 2026-2027" in message


def test_two_headers_for_one_column_are_refused(tmp_path: Path) -> None:
    header = HEADER + ";Uitschrijfdatum;Uitstroomdatum"
    message = error_of(write(tmp_path, csv_text(header=header, rows=[r + ";;" for r in ROWS])))
    assert "Uitschrijfdatum, Uitstroomdatum" in message
    assert "uitstroomdatum" in message


# -- groups -------------------------------------------------------------------------


def test_groups_from_group_names(tmp_path: Path) -> None:
    rows = [
        "1001;Jansen;;Sem;05-08-2019;M;Groep 3;3;2026-2027;07XY",
        "1002;Berg;;Julia;2020-02-11;V;Groep 1/2;2;2026-2027;07XY",
        "1003;Visser;;Noah;21-10-2021;J;Groep 1/2;1;2026-2027;07XY",
        "1004;Smit;;Eva;2019-03-01;V;Groep 3;3;2026-2027;07XY",
        "1005;Bos;;Tim;2019-03-01;M;;3;2026-2027;07XY",
    ]
    export = extract(write(tmp_path, csv_text(rows=rows)))
    groups = export.groups
    assert groups["groepskey"].tolist() == ["Groep 3", "Groep 1/2"]
    assert groups["groepsnaam"].tolist() == ["Groep 3", "Groep 1/2"]
    # Pupils in different jaargroepen: a combinatiegroep.
    assert groups["jaargroep"].tolist() == ["3", "C"]
    assert groups["soort"].tolist() == ["groep", "groep"]
    assert groups["omschrijving"].isna().all()
    assert groups[SOURCE_LINE].tolist() == [2, 3]
    assert export.pupils["groepskey"].fillna("<NA>").tolist() == [
        "Groep 3",
        "Groep 1/2",
        "Groep 1/2",
        "Groep 3",
        "<NA>",
    ]


def test_group_code_is_the_key_when_present(tmp_path: Path) -> None:
    header = "Leerlingnummer;Achternaam;Geboortedatum;Groep;Groepscode;Jaargroep"
    rows = [
        "1;A;2019-01-01;Groep 3 Vossen;G3;3",
        "2;B;2019-01-01;Groep 3 Vossen;G3;3",
        "3;C;2020-01-01;Groep 1/2 Egels;G12;2",
        "4;D;2021-01-01;Groep 1/2 Egels;;1",
    ]
    export = extract(
        write(tmp_path, csv_text(header=header, rows=rows)), write_map(tmp_path, _MINIMAL_MAP)
    )
    groups = export.groups
    assert groups["groepskey"].tolist() == ["G3", "G12", "Groep 1/2 Egels"]
    assert groups["groepsnaam"].tolist() == ["Groep 3 Vossen", "Groep 1/2 Egels", "Groep 1/2 Egels"]
    assert groups["jaargroep"].tolist() == ["3", "2", "1"]
    assert export.pupils["groepskey"].tolist() == ["G3", "G3", "G12", "Groep 1/2 Egels"]


def test_pupils_of_a_combination_group_validate_with_their_own_jaargroep(tmp_path: Path) -> None:
    export = extract(write(tmp_path, csv_text()))
    validated = validate_school(export, no_consents(), today=TODAY)
    assert validated.quarantined_pupils == 0
    assert validated.pupils["groepsnaam"].tolist() == ["Groep 3", "Groep 3", "Groep 1/2"]
    assert validated.groups["jaargroep"].tolist() == ["3", "1"]


def test_bad_values_are_quarantined_not_reported(tmp_path: Path) -> None:
    rows = [ROWS[0], ROWS[1].replace("2019-02-11", "31-02-2019").replace(";V;", ";X;")]
    export = extract(write(tmp_path, csv_text(rows=rows)))
    validated = validate_school(export, no_consents(), today=TODAY)
    assert validated.quarantined_pupils == 1
    problems = validated.problems
    assert set(problems["column"]) == {"geboortedatum", "geslacht"}
    assert set(problems[SOURCE_LINE]) == {3}


# -- Excel --------------------------------------------------------------------------


def write_workbook(path: Path, rows: list[list[object]], title: str = "Leerlingen") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for number, row in enumerate(rows, start=1):
        for column, value in enumerate(row, start=1):
            if value is not None:
                sheet.cell(row=number, column=column, value=value)
    workbook.save(path)
    return path


XLSX_HEADER = [*HEADER.split(";"), "Opmerkingen"]


def test_xlsx_header_not_on_row_1_keeps_real_row_numbers(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        [None, "Overzicht leerlingen"],
        [],
        XLSX_HEADER,
        [
            1001.0,
            "Jansen",
            None,
            "Sem",
            dt.date(2019, 8, 5),
            "M",
            "Groep 3",
            3,
            "2026-2027",
            "07XY",
            "let op",
        ],
        [],
        [
            1002,
            " Berg ",
            "van den",
            "Julia",
            dt.datetime(2019, 2, 11),
            "v",
            "Groep 3",
            3.0,
            "2026-2027",
            "07XY",
            None,
        ],
        [
            "1003",
            "Visser",
            None,
            "Noah",
            "21-10-2021",
            "jongen",
            "Groep 1/2",
            "1",
            "2026-2027",
            "07XY",
            None,
        ],
    ]
    path = write_workbook(tmp_path / "overzicht.xlsx", rows)
    export = extract(path)
    pupils = export.pupils
    assert pupils["leerlingkey"].tolist() == ["1001", "1002", "1003"]
    assert pupils[SOURCE_LINE].tolist() == [4, 6, 7]
    assert pupils["geboortedatum"].tolist() == ["2019-08-05", "2019-02-11", "2021-10-21"]
    assert pupils["geslacht"].tolist() == ["1", "2", "1"]
    assert pupils["jaargroep"].tolist() == ["3", "3", "1"]
    assert pupils["achternaam"].tolist() == ["Jansen", "Berg", "Visser"]
    assert list(pupils.columns) == [*PUPIL_COLUMNS, SOURCE_FILE, SOURCE_LINE]
    for column in PUPIL_COLUMNS:
        assert pupils[column].dtype == "str", column
    assert pupils[SOURCE_LINE].dtype == "int64"
    assert export.school["schooljaar"] == "2026-2027"
    assert export.groups["jaargroep"].tolist() == ["3", "1"]
    assert export.groups[SOURCE_LINE].tolist() == [4, 7]
    assert any("genegeerde kolommen: Opmerkingen" in note for note in export.notes)
    assert not any("let op" in note for note in export.notes)


def test_xlsx_numbers_that_are_not_whole_stay_numbers(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        XLSX_HEADER[:-1],
        [
            1001.5,
            "Jansen",
            None,
            "Sem",
            dt.datetime(2019, 8, 5, 10, 30),
            "M",
            "G3",
            3,
            "2026-2027",
            "07XY",
        ],
    ]
    pupils = extract(write_workbook(tmp_path / "o.xlsx", rows)).pupils
    assert pupils["leerlingkey"].tolist() == ["1001.5"]
    # A date with a time is no birth date: kept for the contract to judge.
    assert pupils["geboortedatum"].tolist() == ["2019-08-05T10:30:00"]


def test_xlsx_sheet_named_in_the_map(tmp_path: Path) -> None:
    path = tmp_path / "o.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.title = "Uitleg"
    workbook.active.append(["Dit blad is een toelichting"])
    sheet = workbook.create_sheet("Leerlingen")
    sheet.append(XLSX_HEADER[:-1])
    sheet.append(
        [1001, "Jansen", None, "Sem", dt.date(2019, 8, 5), "M", "G3", 3, "2026-2027", "07XY"]
    )
    workbook.save(path)

    assert "geen kopregel gevonden" in error_of(path)
    column_map = write_map(
        tmp_path,
        DEFAULT_COLUMN_MAP.read_text(encoding="utf-8").replace("sheet:\n", "sheet: Leerlingen\n"),
    )
    assert extract(path, column_map).pupils["leerlingkey"].tolist() == ["1001"]
    other = write_map(
        tmp_path,
        DEFAULT_COLUMN_MAP.read_text(encoding="utf-8").replace("sheet:\n", "sheet: Groepen\n"),
        name="other.yaml",
    )
    message = error_of(path, other)
    assert "geen werkblad 'Groepen'" in message
    assert "Uitleg, Leerlingen" in message


def test_xlsx_that_is_no_workbook(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text(), name="overzicht.xlsx")
    assert "geen leesbare Excel-werkmap" in error_of(path)
    assert "geen leerlingen" in error_of(write(tmp_path, b"", name="leeg.xlsx"))


def test_xlsx_without_pupils(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "o.xlsx", [["Overzicht"], [], XLSX_HEADER])
    assert "geen leerlingen" in error_of(path)


# -- files that are not what they claim -----------------------------------------------


def test_random_bytes_named_csv(tmp_path: Path) -> None:
    data = np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    assert "is geen tekst-CSV-bestand" in error_of(write(tmp_path, data))


def test_png_named_csv(tmp_path: Path) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    message = error_of(write(tmp_path, data))
    assert "is geen tekst-CSV-bestand" in message
    assert "PNG" in message


def test_workbook_renamed_to_csv(tmp_path: Path) -> None:
    path = tmp_path / "overzicht.csv"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    message = error_of(path)
    assert "is geen tekst-CSV-bestand" in message
    assert ".xlsx" in message


def test_shifted_columns_name_the_first_line_that_differs(tmp_path: Path) -> None:
    rows = [ROWS[0], "1;" + ROWS[1], "2;" + ROWS[2]]
    path = write(tmp_path, "Overzicht\r\n" + csv_text(rows=rows))
    message = error_of(path)
    assert "regel 4:" in message
    assert "11 velden" in message
    assert "kopregel op regel 2 er 10 heeft" in message
    assert "shifted" in message
    assert "Berg" not in message
    assert "1002" not in message


def test_a_row_with_too_few_fields_is_refused(tmp_path: Path) -> None:
    rows = [ROWS[0], "1002;Berg;Julia;2019-02-11;V;Groep 3;3;2026-2027;07XY"]
    message = error_of(write(tmp_path, csv_text(rows=rows)))
    assert "regel 3: 9 velden" in message


def test_unpaired_quote(tmp_path: Path) -> None:
    rows = [ROWS[0], ROWS[1].replace("Berg", '"Berg'), ROWS[2]]
    message = error_of(write(tmp_path, csv_text(rows=rows)))
    assert "vormen geen paren" in message
    assert "regel 3" in message


def test_empty_file(tmp_path: Path) -> None:
    assert "geen leerlingen" in error_of(write(tmp_path, b""))
    assert "geen leerlingen" in error_of(write(tmp_path, b"\xef\xbb\xbf\r\n  \r\n", "b.csv"))


def test_header_without_rows(tmp_path: Path) -> None:
    assert "geen leerlingen" in error_of(write(tmp_path, csv_text(rows=["", ";;;;;;;;;"])))


def test_no_header_at_all_does_not_echo_lines(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "\r\n".join(ROWS) + "\r\n"))
    assert "geen kopregel gevonden in de eerste 20 regels" in message
    assert "Jansen" not in message


def test_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="bestaat niet"):
        extract(tmp_path / "nope.csv")


# -- column maps --------------------------------------------------------------------


_MINIMAL_MAP = """\
name: minimaal
columns:
  leerlingkey: Leerlingnummer
  achternaam: Achternaam
  geboortedatum: Geboortedatum
  geslacht: Geslacht
  jaargroep: Jaargroep
  groepsnaam: Groep
  groepskey: Groepscode
  instroomdatum: Instroomdatum
  uitstroomdatum: Uitschrijfdatum
defaults:
  schooljaar: 2026-2027
  brincode: 07XY
required: [leerlingkey, achternaam, geboortedatum, jaargroep, schooljaar, brincode]
"""


def test_bundled_map_loads() -> None:
    column_map = load_column_map(DEFAULT_COLUMN_MAP)
    assert column_map.name == "parnassys"
    assert column_map.sheet is None
    targets = column_map.targets()
    assert targets[normalise_header("ECK iD")] == "eckid"
    assert targets[normalise_header("ECK-iD")] == "eckid"
    assert targets["tussenvoegsel"] == "voorvoegsel"
    assert targets["uitschrijfdatum"] == "uitstroomdatum"
    assert targets["brinnummer"] == "brincode"
    assert ["achternaam", "roepnaam"] in column_map.required


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\ncolumns: {a: b\nrequired: [x]\n", "is geen geldige YAML"),
        ("- just\n- a list\n", "moet een mapping zijn"),
        (_MINIMAL_MAP + "colour: blue\n", "sleutel colour: onbekende sleutel"),
        (_MINIMAL_MAP.replace("achternaam: Achternaam", "achternam: Achternaam"), "achternam"),
        (_MINIMAL_MAP.replace("defaults:\n", "school:\n  brin: BRIN\ndefaults:\n"), "school.brin"),
        (
            _MINIMAL_MAP.replace("geslacht: Geslacht", "geslacht: [Geslacht, ACHTER naam]"),
            "columns.geslacht: kolomkop 'ACHTER naam' staat ook onder columns.achternaam",
        ),
        (_MINIMAL_MAP.replace("required: [leerlingkey, ", "required: ["), "leerlingkey"),
        (
            _MINIMAL_MAP.replace("schooljaar: 2026-2027", "schooljaar: 2026-2028"),
            "defaults.schooljaar: geen schooljaar",
        ),
        (
            _MINIMAL_MAP.replace("brincode: 07XY", "brincode: 1234"),
            "sleutel defaults.brincode: zet de waarde tussen aanhalingstekens",
        ),
        (
            _MINIMAL_MAP.replace("  schooljaar: 2026-2027\n", "").replace(" schooljaar,", ""),
            "school.schooljaar: wijs een kolom Schooljaar toe of zet defaults.schooljaar",
        ),
        (_MINIMAL_MAP.replace("jaargroep, school", "jaargroep, postcode, school"), "postcode"),
        (_MINIMAL_MAP.replace("columns:", "columns: 3\nx:"), "sleutel columns"),
    ],
)
def test_malformed_column_map(tmp_path: Path, text: str, expected: str) -> None:
    path = write_map(tmp_path, text)
    with pytest.raises(ConfigurationError) as exc:
        load_column_map(path)
    message = str(exc.value)
    assert str(path) in message
    assert expected in message
    assert "\n" not in message
    with pytest.raises(ConfigurationError):
        CsvExportSource(path)


def test_missing_column_map(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="kan niet gelezen worden"):
        CsvExportSource(tmp_path / "nope.yaml")


# -- the same pupils as the EDEXML sample ---------------------------------------------


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("csv", {}),
        ("csv", {"separator": ",", "encoding": "utf-8", "dutch_dates": False}),
        ("csv", {"title_lines": ["Overzicht leerlingen RKBS de Flint", ""]}),
        ("xlsx", {"title_rows": ["Overzicht leerlingen", ""]}),
    ],
)
def test_csv_export_of_a_sample_validates_like_its_edexml(
    samples_dir: Path, tmp_path: Path, kind: str, options: dict[str, Any]
) -> None:
    edexml = EdexmlSource().extract(samples_dir / "27ZX" / "EDEX.XML")
    path = tmp_path / f"overzicht.{kind}"
    if kind == "csv":
        write_parnassys_csv(edexml, path, **options)
    else:
        write_parnassys_xlsx(edexml, path, **options)
    export = extract(path)

    expected = validate_school(edexml, no_consents(), today=TODAY)
    actual = validate_school(export, no_consents(), today=TODAY)

    assert actual.school["schooljaar"] == expected.school["schooljaar"]
    assert actual.brincode == expected.brincode
    assert len(export.pupils) == len(edexml.pupils)
    assert actual.quarantined_pupils == expected.quarantined_pupils
    assert len(actual.pupils) == len(expected.pupils) > 0

    def comparable(pupils: pd.DataFrame) -> pd.DataFrame:
        return pupils[COMPARED].sort_values("leerlingkey").reset_index(drop=True)

    pd.testing.assert_frame_equal(comparable(actual.pupils), comparable(expected.pupils))
