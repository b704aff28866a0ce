"""Consent export reader: separators, BOM, case and spaces, line numbers, bad input."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.errors import ConfigurationError, SourceFormatError
from connectors.sources.consents import CONSENT_COLUMNS, read_consents

HEADER = "leerlingkey;schooljaar;categorie;waarde;gewijzigd_op"
ROWS = [
    "L1;2026-2027;beeldmateriaal website;ja;2026-09-01T10:00:00",
    "L1;2026-2027;beeldmateriaal website;nee;2026-10-01T10:00:00",
    "L2;2025-2026;deelname onderzoek;ja;2025-09-03",
]


def write(tmp_path: Path, content: str | bytes, name: str = "toestemmingen.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def csv_text(header: str = HEADER, rows: list[str] = ROWS, separator: str = ";") -> str:
    lines = [header, *rows]
    return "\n".join(line.replace(";", separator) for line in lines) + "\n"


def assert_one_line(exc: pytest.ExceptionInfo[Exception], path: Path) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message
    return message


@pytest.mark.parametrize("separator", [";", ","])
def test_both_separators(tmp_path: Path, separator: str) -> None:
    path = write(tmp_path, csv_text(separator=separator))
    frame = read_consents(path)

    assert list(frame.columns) == [*CONSENT_COLUMNS, "source_file", "source_line"]
    assert frame["leerlingkey"].tolist() == ["L1", "L1", "L2"]
    assert frame["categorie"].tolist() == [
        "beeldmateriaal website",
        "beeldmateriaal website",
        "deelname onderzoek",
    ]
    assert frame["waarde"].tolist() == ["ja", "nee", "ja"]
    assert frame["schooljaar"].tolist() == ["2026-2027", "2026-2027", "2025-2026"]
    assert frame["source_line"].tolist() == [2, 3, 4]
    assert (frame["source_file"] == str(path)).all()


def test_dtypes_are_raw_strings(tmp_path: Path) -> None:
    frame = read_consents(write(tmp_path, csv_text()))
    for column in (*CONSENT_COLUMNS, "source_file"):
        assert frame[column].dtype == "str", column
    assert frame["source_line"].dtype == "int64"


def test_every_record_is_kept_for_policy(tmp_path: Path) -> None:
    # Latest-wins and the school-year filter belong to policy, not to the reader.
    frame = read_consents(write(tmp_path, csv_text()))
    assert len(frame) == 3


def test_byte_order_mark(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf" + csv_text().encode("utf-8"))
    frame = read_consents(path)
    assert frame["leerlingkey"].tolist() == ["L1", "L1", "L2"]


def test_header_case_spaces_and_order(tmp_path: Path) -> None:
    header = " Waarde ; LEERLINGKEY;Categorie ;schooljaar;Gewijzigd_Op;naam"
    rows = ["JA;L1;Beeldmateriaal Website;2026-2027;2026-09-01;Jansen"]
    frame = read_consents(write(tmp_path, csv_text(header=header, rows=rows)))
    assert frame.iloc[0][list(CONSENT_COLUMNS)].tolist() == [
        "L1",
        "2026-2027",
        "beeldmateriaal website",
        "ja",
        "2026-09-01",
    ]
    # Columns outside the consent header are not read at all.
    assert "naam" not in frame.columns


def test_values_are_stripped_and_lower_cased(tmp_path: Path) -> None:
    rows = ["  L1 ; 2026-2027 ;  Beeldmateriaal PARRO  ; JA ; 2026-09-01 ", "L2;2026-2027;x; Nee;"]
    frame = read_consents(write(tmp_path, csv_text(rows=rows)))
    first = frame.iloc[0]
    assert first["leerlingkey"] == "L1"
    assert first["schooljaar"] == "2026-2027"
    assert first["categorie"] == "beeldmateriaal parro"
    assert first["waarde"] == "ja"
    assert first["gewijzigd_op"] == "2026-09-01"
    assert frame.iloc[1]["waarde"] == "nee"
    # Keys keep their case: only categorie and waarde are case-insensitive.
    assert pd.isna(frame.iloc[1]["gewijzigd_op"])


def test_short_rows_give_missing_values(tmp_path: Path) -> None:
    frame = read_consents(write(tmp_path, csv_text(rows=["L1;2026-2027;foto"])))
    assert frame.iloc[0]["categorie"] == "foto"
    assert pd.isna(frame.iloc[0]["waarde"])
    assert pd.isna(frame.iloc[0]["gewijzigd_op"])


def test_line_numbers_with_quoted_fields_blank_lines_and_crlf(tmp_path: Path) -> None:
    content = (
        f"{HEADER}\r\n"
        'L1;2026-2027;"foto\'s; website";ja;2026-09-01\r\n'
        "\r\n"
        'L2;2026-2027;"onderzoek\r\nmet twee regels";nee;2026-09-02\r\n'
        "L3;2026-2027;foto;ja;2026-09-03\r\n"
    )
    frame = read_consents(write(tmp_path, content))
    assert frame["leerlingkey"].tolist() == ["L1", "L2", "L3"]
    assert frame["source_line"].tolist() == [2, 4, 6]
    assert frame["categorie"].tolist()[0] == "foto's; website"


def test_comma_file_with_semicolons_in_values(tmp_path: Path) -> None:
    header = HEADER.replace(";", ",")
    content = f'{header}\nL1,2026-2027,"foto; website",ja,2026-09-01\n'
    frame = read_consents(write(tmp_path, content))
    assert frame.iloc[0]["categorie"] == "foto; website"


def test_header_only_gives_empty_frame(tmp_path: Path) -> None:
    frame = read_consents(write(tmp_path, HEADER + "\n"))
    assert frame.empty
    assert list(frame.columns) == [*CONSENT_COLUMNS, "source_file", "source_line"]
    assert frame["leerlingkey"].dtype == "str"
    assert frame["source_line"].dtype == "int64"


def test_missing_header_names_missing_and_found(tmp_path: Path) -> None:
    header = "leerlingkey;jaar;categorie;waarde;gewijzigd_op"
    path = write(tmp_path, csv_text(header=header, rows=[]))
    with pytest.raises(SourceFormatError) as exc:
        read_consents(path)
    message = assert_one_line(exc, path)
    assert "kop schooljaar ontbreekt" in message
    assert "'jaar'" in message
    assert "'leerlingkey'" in message


def test_headerless_file_does_not_echo_data(tmp_path: Path) -> None:
    path = write(tmp_path, "\n".join(ROWS) + "\n")
    with pytest.raises(SourceFormatError, match="is the header missing") as exc:
        read_consents(path)
    message = assert_one_line(exc, path)
    assert "L1" not in message
    assert "beeldmateriaal" not in message


def test_duplicate_header_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text(header=HEADER + ";Waarde", rows=[]))
    with pytest.raises(SourceFormatError, match="staat er twee keer in") as exc:
        read_consents(path)
    assert_one_line(exc, path)


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_bad_encoding_names_byte_offset(tmp_path: Path, bom: bytes) -> None:
    body = csv_text(rows=["L1;2026-2027;beeldmateriaal website;ja;2026-09-01"])
    latin = body.replace("beeldmateriaal", "beeldmatériaal").encode("latin-1")
    path = write(tmp_path, bom + latin)
    with pytest.raises(SourceFormatError, match="sla de export op als UTF-8") as exc:
        read_consents(path)
    message = assert_one_line(exc, path)
    offset = (bom + latin).index(b"\xe9")
    assert f"byte {offset} (regel 2)" in message


def test_utf16_export_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text().encode("utf-16"))
    with pytest.raises(SourceFormatError, match="geen UTF-8") as exc:
        read_consents(path)
    assert "byte 0 " in assert_one_line(exc, path)


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\n  \n"])
def test_empty_file_is_rejected(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, content)
    with pytest.raises(SourceFormatError, match="empty") as exc:
        read_consents(path)
    assert_one_line(exc, path)


@pytest.mark.parametrize(
    "row", ['L1;2026-2027;"foto;ja;2026-09-01', 'L1;2026-2027;"foto" website;ja;2026-09-01']
)
def test_broken_quoting_names_the_record_line(tmp_path: Path, row: str) -> None:
    path = write(tmp_path, csv_text(rows=[ROWS[0], row, ROWS[2]]))
    with pytest.raises(SourceFormatError, match="regel 3: geen geldige CSV") as exc:
        read_consents(path)
    assert "foto" not in assert_one_line(exc, path)


def test_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "school" / "toestemmingen.csv"
    with pytest.raises(ConfigurationError, match="bestaat niet") as exc:
        read_consents(path)
    assert_one_line(exc, path)


def test_folder_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is geen bestand"):
        read_consents(tmp_path)


# Text a spreadsheet could hold in a cell: quotes, separators, line breaks, accents.
cell_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), include_characters="\n"),
    max_size=20,
)


@given(
    separator=st.sampled_from([";", ","]),
    bom=st.booleans(),
    records=st.lists(st.tuples(cell_text, cell_text, cell_text, cell_text, cell_text), max_size=8),
)
def test_any_written_csv_reads_back_faithfully(
    tmp_path_factory: pytest.TempPathFactory,
    separator: str,
    bom: bool,
    records: list[tuple[str, str, str, str, str]],
) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    writer.writerow(CONSENT_COLUMNS)
    expected_lines = []
    kept = []
    for record in records:
        if not any(value.strip() for value in record):
            continue  # an all-blank record is a blank line to the reader
        expected_lines.append(buffer.getvalue().count("\n") + 1)
        writer.writerow(record)
        kept.append(record)
    path = tmp_path_factory.mktemp("consents") / "toestemmingen.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8"))

    frame = read_consents(path)

    assert frame["source_line"].tolist() == expected_lines
    for column_index, name in enumerate(CONSENT_COLUMNS):
        expected = [record[column_index].strip() for record in kept]
        if name in ("categorie", "waarde"):
            expected = [value.lower() for value in expected]
        got = [None if pd.isna(value) else value for value in frame[name]]
        assert got == [value or None for value in expected]
