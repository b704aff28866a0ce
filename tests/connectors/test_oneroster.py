"""OneRoster CSV source: the saved reference sets, packages written from EDEXML, broken input.

The reference sets are read where they are (../shared/reference/oneroster); tests that need
a changed copy copy them to tmp_path, never into the repository (they are GPL).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from oneroster_writer import write_oneroster

from connectors.errors import ConfigurationError, SourceFormatError
from connectors.sources.base import (
    GROUP_COLUMNS,
    PROVENANCE_COLUMNS,
    PUPIL_COLUMNS,
    TEACHER_COLUMNS,
    SchoolExport,
    Source,
    empty_frame,
    sha256_of_file,
)
from connectors.sources.edexml import EdexmlSource
from connectors.sources.oneroster import ONEROSTER_SOURCE, SPEC_HEADERS, OneRosterSource
from connectors.sources.registry import detect_format, get_source
from contracts.validation import validate_school

MOODLE = "moodle-enrol_oneroster"
OAT = "oat-sa-oneroster-import"

# A synthetic surname used to check that no pupil value ever reaches an error message.
SECRET = "Zwanenburg"

CONSENT_COLUMNS = ("leerlingkey", "schooljaar", "categorie", "waarde", "gewijzigd_op")
TODAY = date(2026, 11, 28)


# -- helpers -----------------------------------------------------------------------------


def read(path: Path) -> SchoolExport:
    return OneRosterSource().extract(path)


def refused(path: Path) -> str:
    with pytest.raises(SourceFormatError) as caught:
        read(path)
    message = str(caught.value)
    assert "\n" not in message, "errors are one line"
    return message


def copy(reference: Path, tmp_path: Path) -> Path:
    target = tmp_path / reference.name
    shutil.copytree(reference, target)
    return target


def rows_of(folder: Path, name: str) -> list[list[str]]:
    text = (folder / name).read_bytes().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def write_rows(folder: Path, name: str, rows: list[list[str]], *, bom: bool = False) -> None:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    (folder / name).write_bytes((codecs.BOM_UTF8 if bom else b"") + data)


def edit(folder: Path, name: str, change: Callable[[list[list[str]]], None]) -> None:
    rows = rows_of(folder, name)
    change(rows)
    write_rows(folder, name, rows)


def set_manifest(folder: Path, **values: str) -> None:
    def change(rows: list[list[str]]) -> None:
        for row in rows:
            if row[0] in values:
                row[1] = values[row[0]]

    edit(folder, "manifest.csv", change)


def column(folder: Path, name: str, header: str) -> int:
    return rows_of(folder, name)[0].index(header)


def set_cell(folder: Path, name: str, line: int, header: str, value: str) -> None:
    index = column(folder, name, header)

    def change(rows: list[list[str]]) -> None:
        rows[line - 1][index] = value

    edit(folder, name, change)


def to_delta(folder: Path, stamp: str = "2026-09-01T08:00:00.000Z") -> None:
    """Turn a bulk package into a delta one: every row active, dated."""
    manifest = {row[0]: row[1] for row in rows_of(folder, "manifest.csv")[1:]}
    for key, mode in manifest.items():
        if key.startswith("file.") and mode == "bulk":
            name = key.removeprefix("file.") + ".csv"

            def change(rows: list[list[str]]) -> None:
                for row in rows[1:]:
                    row[1], row[2] = "active", stamp

            edit(folder, name, change)
            set_manifest(folder, **{key: "delta"})


def zip_folder(folder: Path, target: Path, *, inside: str = "") -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, inside + file.name)
    return target


@pytest.fixture(scope="module")
def edexml_27zx() -> SchoolExport:
    samples = Path(__file__).resolve().parents[2] / "data" / "samples"
    return EdexmlSource().extract(samples / "27ZX" / "EDEX.XML")


@pytest.fixture
def package(tmp_path: Path, edexml_27zx: SchoolExport) -> Path:
    """27ZX written as a OneRoster 1.2 bulk package: pupils on users.csv lines 2-61."""
    folder = tmp_path / "27ZX"
    write_oneroster(edexml_27zx, folder)
    return folder


def pupil(export: SchoolExport, key: str) -> pd.Series:
    rows = export.pupils.loc[export.pupils["leerlingkey"] == key]
    assert len(rows) == 1
    return rows.iloc[0]


# -- the reference sets (../shared/reference/oneroster) -----------------------------------


def test_moodle_v1p1_bulk_minimal_loads(oneroster_reference: Path) -> None:
    folder = oneroster_reference / MOODLE / "v1p1_bulk_minimal"
    export = read(folder)

    assert export.format == "oneroster"
    assert export.path == folder
    # The only org is typed department; classes and enrollments name it as the school.
    # It has no identifier, so no BRIN: the sourcedId is the schoolkey, never the BRIN
    # (validation then refuses the export).
    assert export.school["brincode"] is None
    assert export.school["schoolkey"] == "org-sch-222-456"
    assert export.school["schooljaar"] == "2022-2023"
    assert export.school["peildatum"] is None
    assert export.school_line == 2
    assert any("geen org heeft type school" in note for note in export.notes)

    # users.csv: 6 users; students Mary (line 3), mmichel (6), Anna (7). Jim is a teacher
    # although enrollments.csv enrols him as a student; Thomas is a parent.
    pupils = export.pupils
    assert len(pupils) == 3
    assert pupils["leerlingkey"].tolist() == [
        "usr-222-66778899",
        "usr-222-1234561232",
        "usr-222-567891",
    ]
    assert pupils["source_line"].tolist() == [3, 6, 7]
    assert pupils["achternaam"].tolist() == ["Jones", "Jones", "Brown"]
    assert pupils["roepnaam"].tolist() == ["Mary", "mmichel", "Anna"]
    assert any("3 leerlingen hebben geen identifier" in note for note in export.notes)
    mmichel = pupil(export, "usr-222-1234561232")
    assert mmichel["groepskey"] == "cls-222-123478"  # homeroom
    assert mmichel["samengestelde_groepen"] == "cls-222-123456"  # "Scheduled", any case
    assert pupils["groepskey"].isna().sum() == 2  # Mary and Anna have no enrollment

    groups = export.groups
    assert groups["groepskey"].tolist() == ["cls-222-123456", "cls-222-123478"]
    assert groups["soort"].tolist() == ["samengestelde_groep", "groep"]
    assert groups["source_line"].tolist() == [2, 3]
    assert groups["jaargroep"].isna().all()  # no grades

    teachers = export.teachers
    assert teachers["leerkrachtkey"].tolist() == ["jogn.doe", "usr-222-987654"]
    assert teachers["groepen"].tolist()[0] == "cls-222-123456;cls-222-123478"
    assert teachers["source_line"].tolist() == [2, 5]
    assert export.notes[0].startswith("v1p1_bulk_minimal: 3 leerlingen, 2 groepen, 2 leerkrachten")


def test_moodle_v1p2_delta_small_loads(oneroster_reference: Path) -> None:
    export = read(oneroster_reference / MOODLE / "v1p2_delta_small")

    assert export.school["brincode"] is None  # no identifier; ORG_1 is its sourcedId
    assert export.school["schoolkey"] == "ORG_1"
    # The one session runs 2023-09-04 to 2024-01-26 and says schoolYear 2023: the dates
    # give 2023-2024, and the disagreement is noted.
    assert export.school["schooljaar"] == "2023-2024"
    assert any(
        "schoolYear zegt 2022-2023 maar de datums zeggen 2023-2024" in n for n in export.notes
    )
    assert any(note.startswith("deltapakket") for note in export.notes)

    assert len(export.pupils) == 1
    bruce = export.pupils.iloc[0]
    assert bruce["leerlingkey"] == "bruce.wayne"  # identifier, not sourcedId USER_0
    assert bruce["achternaam"] == "Wayne"
    assert bruce["roepnaam"] == "Bruce"
    assert bruce["geboortedatum"] == "2010-04-17"
    assert pd.isna(bruce["geslacht"])
    assert pd.isna(bruce["eckid"])
    assert pd.isna(bruce["groepskey"])
    assert bruce["samengestelde_groepen"] == "CLASS_001"
    assert bruce["mutatiedatum"] == "2023-10-02T00:00:00.000Z"
    assert bruce["source_line"] == 2

    assert export.groups[["groepskey", "soort"]].values.tolist() == [
        ["CLASS_001", "samengestelde_groep"]
    ]
    assert export.teachers.empty


def test_moodle_v1p1_bulk_full_is_refused_for_status_in_bulk(
    oneroster_reference: Path, tmp_path: Path
) -> None:
    # SOURCE.md: the manifest says bulk, yet the rows carry status and dateLastModified.
    message = refused(oneroster_reference / MOODLE / "v1p1_bulk_full")
    assert "v1p1_bulk_full/orgs.csv regel 2: status is ingevuld" in message
    assert "controle bulk_lifecycle" in message
    assert "of zet file.orgs op delta in manifest.csv" in message

    # With status and dateLastModified cleared, the set loads.
    folder = copy(oneroster_reference / MOODLE / "v1p1_bulk_full", tmp_path)
    for name in ("orgs", "academicSessions", "users", "classes", "enrollments"):

        def clear(rows: list[list[str]]) -> None:
            for row in rows[1:]:
                row[1] = row[2] = ""

        edit(folder, f"{name}.csv", clear)
    export = read(folder)
    assert export.school["brincode"] == "HISTORY"  # the org's identifier, canonical
    assert export.school["schooljaar"] == "2022-2023"
    assert export.pupils["leerlingkey"].tolist() == ["mary.jones", "mmichel.jones", "anna.brown"]
    # US grades 12 and 11 are not groep 1-8 and stay as written; the contract judges them
    # (11 and 12 happen to be EDEXML codes too, see the module docstring).
    assert export.pupils["jaargroep"].tolist() == ["12", "12", "11"]
    assert export.groups["jaargroep"].tolist()[1] == "10"
    assert len(export.teachers) == 2


def test_moodle_v1p2_full_with_errors_reports_each_error(
    oneroster_reference: Path, tmp_path: Path
) -> None:
    reference = oneroster_reference / MOODLE / "v1p2_full_with_errors"
    message = refused(reference)
    assert message.startswith(
        f"{reference}/manifest.csv regel 21: file.scoreScales heeft geen waarde"
    )
    assert "controle file_mode" in message

    # Peel the errors SOURCE.md lists off a copy, one at a time.
    folder = copy(reference, tmp_path)
    set_manifest(folder, **{"file.userProfiles": "bulk"})
    message = refused(folder)
    assert "manifest.csv regel 21: file.scoreScales heeft geen waarde" in message

    set_manifest(folder, **{"file.scoreScales": "absent", "file.userResources": "absent"})
    message = refused(folder)
    assert (
        "manifest.csv regel 22: file.userProfiles is bulk, maar userProfiles.csv staat niet"
        in message
    )
    assert "controle file_listed" in message
    assert "hernoem userprofiles.csv naar userProfiles.csv" in message

    set_manifest(folder, **{"file.userProfiles": "absent"})
    message = refused(folder)
    assert (
        "users.csv regel 1: kolom 18 is 'prefferedGivenName' waar OneRoster 1.2 "
        "'preferredGivenName' heeft" in message
    )
    assert "controle header" in message

    def users_header(rows: list[list[str]]) -> None:
        rows[0] = list(SPEC_HEADERS["1.2"]["users"])

    edit(folder, "users.csv", users_header)
    message = refused(folder)
    assert "roles.csv regel 1: kolom 3 is 'dataLastModified' waar OneRoster 1.2" in message

    def roles_typo(rows: list[list[str]]) -> None:
        rows[0][2] = "dateLastModified"

    edit(folder, "roles.csv", roles_typo)
    message = refused(folder)
    # The header's two trailing empty names.
    assert "roles.csv regel 1: kolom 10 is naamloos waar OneRoster 1.2 " in message

    def roles_header(rows: list[list[str]]) -> None:
        rows[0] = list(SPEC_HEADERS["1.2"]["roles"])

    edit(folder, "roles.csv", roles_header)
    message = refused(folder)
    assert (
        "roles.csv regel 2: de regel heeft 9 waarden waar de kopregel er 10 heeft (en op 6 andere"
        in message
    )
    assert "controle row_width" in message

    def roles_width(rows: list[list[str]]) -> None:
        for row in rows[1:]:
            row.append("")

    edit(folder, "roles.csv", roles_width)
    message = refused(folder)
    assert "orgs.csv regel 2: status is ingevuld, maar manifest.csv noemt orgs bulk" in message


def test_oat_sa_v1p1_base_is_refused_for_its_vendor_headers(
    oneroster_reference: Path, tmp_path: Path
) -> None:
    reference = oneroster_reference / OAT / "v1p1_base"
    message = refused(reference)
    assert message.startswith(
        f"{reference}/orgs.csv regel 1: kolom 7 is 'metadata.classification' waar "
        "OneRoster 1.1 'parentSourcedId' heeft"
    )
    assert "controle metadata_column" in message

    folder = copy(reference, tmp_path)

    def orgs_header(rows: list[list[str]]) -> None:
        header = rows[0]
        order = [header.index(name) for name in SPEC_HEADERS["1.1"]["orgs"]]
        order += [i for i, name in enumerate(header) if name.startswith("metadata.")]
        for index, row in enumerate(rows):
            cells = row + [""] * (len(header) - len(row))
            rows[index] = [cells[i] for i in order]

    edit(folder, "orgs.csv", orgs_header)
    message = refused(folder)
    # The 1.0-style academicSessions.csv has no schoolYear column.
    assert "academicSessions.csv regel 1: kolom 9 (schoolYear) ontbreekt" in message


@pytest.mark.parametrize("name", ["v1p1_bulk_minimal", "v1p2_delta_small"])
def test_zip_of_a_reference_set_reads_like_the_folder(
    oneroster_reference: Path, tmp_path: Path, name: str
) -> None:
    folder = oneroster_reference / MOODLE / name
    archive = zip_folder(folder, tmp_path / f"{name}.zip")
    from_folder, from_zip = read(folder), read(archive)

    for frame in ("pupils", "groups", "teachers"):
        left = getattr(from_folder, frame)
        right = getattr(from_zip, frame)
        assert (right["source_file"] == str(archive)).all()
        pd.testing.assert_frame_equal(
            left.drop(columns="source_file"), right.drop(columns="source_file")
        )
    assert from_zip.school == from_folder.school
    assert from_zip.sha256 == sha256_of_file(archive)
    assert from_zip.notes[1:] == from_folder.notes[1:]


# -- frames and mapping, on 27ZX written as OneRoster ----------------------------------------


def test_frames_have_the_canonical_columns_and_dtypes(
    package: Path, edexml_27zx: SchoolExport
) -> None:
    export = read(package)
    assert tuple(export.pupils.columns) == PUPIL_COLUMNS + PROVENANCE_COLUMNS
    assert tuple(export.groups.columns) == GROUP_COLUMNS + PROVENANCE_COLUMNS
    assert tuple(export.teachers.columns) == TEACHER_COLUMNS + PROVENANCE_COLUMNS
    for frame in ("pupils", "groups", "teachers"):
        ours, theirs = getattr(export, frame), getattr(edexml_27zx, frame)
        assert ours.dtypes.to_dict() == theirs.dtypes.to_dict(), frame
    assert (export.pupils["source_file"] == str(package)).all()
    assert export.pupils["source_line"].tolist() == list(range(2, 62))
    assert export.groups["source_line"].tolist() == list(range(2, 7))
    assert export.teachers["source_line"].tolist() == list(range(62, 69))
    # Never read: OneRoster has no such fields, or Sluis does not take them.
    for name in ("voorvoegsel", "voornamen", "voorletters", "bsn", "postcode", "land"):
        assert export.pupils[name].isna().all(), name


@pytest.mark.parametrize("version", ["1.2", "1.1"])
def test_round_trip_from_edexml_gives_the_same_valid_pupils(
    tmp_path: Path, edexml_27zx: SchoolExport, version: str
) -> None:
    folder = tmp_path / "27ZX"
    write_oneroster(edexml_27zx, folder, version)
    oneroster = read(folder)
    assert oneroster.school["brincode"] == edexml_27zx.school["brincode"]
    assert oneroster.school["schooljaar"] == edexml_27zx.school["schooljaar"]

    consents = empty_frame(CONSENT_COLUMNS)
    expected = validate_school(edexml_27zx, consents, today=TODAY)
    actual = validate_school(oneroster, consents, today=TODAY)
    assert expected.input_pupils == actual.input_pupils == 60

    # 258004 has a tussenvoegsel but no achternaam: EDEXML's name rule holds it back. OneRoster
    # cannot carry a tussenvoegsel, so from OneRoster it is a valid roepnaam-only pupil. Every
    # other pupil is valid in both or in neither.
    expected_keys = set(expected.pupils["leerlingkey"])
    actual_keys = set(actual.pupils["leerlingkey"])
    assert actual_keys - expected_keys == {"258004"}
    assert expected_keys <= actual_keys
    assert len(expected_keys) == 57

    shared = [
        "leerlingkey",
        "achternaam",
        "roepnaam",
        "geboortedatum",
        "geslacht",
        "jaargroep",
        "groepskey",
        "groepsnaam",
        "samengestelde_groepen",
        "emailadres",
        "gebruikersnaam",
    ]
    if version == "1.2":  # userMasterIdentifier and the student role's dates
        shared += ["eckid", "instroomdatum", "uitstroomdatum"]
    left = expected.pupils[shared].sort_values("leerlingkey").reset_index(drop=True)
    right = (
        actual.pupils.loc[actual.pupils["leerlingkey"].isin(expected_keys), shared]
        .sort_values("leerlingkey")
        .reset_index(drop=True)
    )
    # OneRoster's sex has no "onbekend": EDEXML 0 is written as a blank sex.
    left["geslacht"] = left["geslacht"].mask(left["geslacht"] == "0")
    pd.testing.assert_frame_equal(left, right)
    assert left["groepsnaam"].notna().all()
    if version == "1.2":  # 257920 and 258012 left before the peildatum
        assert left["uitstroomdatum"].notna().sum() == 2

    groups = ["groepskey", "groepsnaam", "jaargroep", "soort"]
    pd.testing.assert_frame_equal(
        edexml_27zx.groups[groups].reset_index(drop=True),
        oneroster.groups[groups].reset_index(drop=True),
    )
    teachers = ["leerkrachtkey", "achternaam", "roepnaam", "emailadres", "groepen"]
    pd.testing.assert_frame_equal(
        edexml_27zx.teachers[teachers].reset_index(drop=True),
        oneroster.teachers[teachers].reset_index(drop=True),
    )


def test_user_values_are_mapped_as_documented(package: Path) -> None:
    users = "users.csv"
    # Line 2 is pupil 257899 (groep 5, written "05"), line 3 pupil 257901.
    set_cell(package, users, 2, "preferredGivenName", "Svenny")
    set_cell(package, users, 2, "middleName", "Willem")
    set_cell(package, users, 2, "grades", "KG")
    set_cell(package, users, 3, "grades", "03,04")
    set_cell(package, users, 3, "userMasterIdentifier", "urn:state:12345")
    set_cell(package, users, 4, "identifier", "")
    set_cell(package, "demographics.csv", 2, "sex", "other")
    set_cell(package, "demographics.csv", 3, "sex", "M")
    export = read(package)

    first = export.pupils.iloc[0]
    assert first["leerlingkey"] == "257899"
    assert first["roepnaam"] == "Svenny"  # preferredGivenName wins over givenName
    assert pd.isna(first["voornamen"])  # middleName is not read
    assert first["jaargroep"] == "KG"  # a US code is not guessed; the contract quarantines it
    assert first["geslacht"] == "9"
    second = export.pupils.iloc[1]
    assert second["jaargroep"] == "03,04"  # several grades stay as written
    assert pd.isna(second["eckid"])  # not an ECK iD: never passed on as one
    assert second["geslacht"] == "M"  # as written, for the contract to judge
    assert export.pupils.iloc[2]["leerlingkey"] == "leerling-3"  # no identifier: sourcedId
    assert (
        export.pupils["jaargroep"].iloc[3:].isin(["1", "2", "3", "4", "5", "6", "7", "8"]).sum()
        == 56
    )
    notes = " | ".join(export.notes)
    assert "users.csv: 1 leerlingen hebben geen identifier" in notes
    assert "middleName van 1 leerlingen wordt niet gelezen" in notes
    assert "userMasterIdentifier van 1 leerlingen is geen ECK iD" in notes
    assert SECRET not in notes and "urn:state" not in notes


def test_homeroom_choice_prefers_primary_and_reports_several(package: Path) -> None:
    rows = rows_of(package, "enrollments.csv")
    header = rows[0]
    first = dict(zip(header, rows[1], strict=True))
    assert first["userSourcedId"] == "leerling-1"
    extra = dict(first, sourcedId="enr-extra", classSourcedId="G6-8A", primary="false")
    rows.append([extra[name] for name in header])
    write_rows(package, "enrollments.csv", rows)
    assert pupil(read(package), "257899")["groepskey"] == "G3-5A"  # the primary one

    rows[-1][header.index("primary")] = "true"
    write_rows(package, "enrollments.csv", rows)
    export = read(package)
    assert pupil(export, "257899")["groepskey"] == "G3-5A;G6-8A"
    assert any("1 leerlingen zitten in meer dan één stamgroep" in n for n in export.notes)


def test_source_lines_count_physical_lines(package: Path) -> None:
    rows = rows_of(package, "users.csv")
    rows[0].append("metadata.opmerking")
    for row in rows[1:]:
        row.append("")
    rows[1][-1] = "two\r\nlines"  # pupil 257899: its record spans lines 2 and 3
    rows.insert(5, [])  # a blank line before what was line 5
    write_rows(package, "users.csv", rows, bom=True)
    export = read(package)
    lines = export.pupils["source_line"].tolist()
    assert lines[:6] == [2, 4, 5, 6, 8, 9]
    assert export.pupils["leerlingkey"].iloc[:2].tolist() == ["257899", "257901"]
    assert "metadata.opmerking" not in export.pupils


def test_delta_package_drops_what_is_to_be_deleted(package: Path) -> None:
    to_delta(package)
    set_cell(package, "users.csv", 3, "status", "tobedeleted")  # pupil 257901
    set_cell(package, "roles.csv", 4, "status", "tobedeleted")  # pupil 257905's role
    set_cell(package, "enrollments.csv", 2, "status", "tobedeleted")  # 257899's homeroom
    export = read(package)

    keys = set(export.pupils["leerlingkey"])
    assert len(keys) == 58
    assert "257901" not in keys and "257905" not in keys
    assert pd.isna(pupil(export, "257899")["groepskey"])
    assert (export.pupils["mutatiedatum"] == "2026-09-01T08:00:00.000Z").all()
    notes = " | ".join(export.notes)
    assert "users.csv: 1 leerlingen met tobedeleted zijn weggelaten" in notes
    assert "roles.csv: 1 leerlingrollen met tobedeleted zijn weggelaten" in notes
    assert "enrollments.csv: 1 inschrijvingen met tobedeleted zijn weggelaten" in notes
    assert "deltapakket (" in notes


@pytest.mark.parametrize(
    ("cell", "value", "expected"),
    [
        ("dateLastModified", "", "users.csv regel 7: dateLastModified is leeg in een deltabestand"),
        ("dateLastModified", "2026-09-01", "users.csv regel 7: dateLastModified is geen tijdstip"),
        ("status", "inactive", "users.csv regel 7: status is niet active of tobedeleted"),
        ("status", "", "users.csv regel 7: status is leeg in een deltabestand"),
        ("status", SECRET, "users.csv regel 7: status is niet active of tobedeleted"),
    ],
)
def test_delta_rows_need_status_and_date(
    package: Path, cell: str, value: str, expected: str
) -> None:
    to_delta(package)
    set_cell(package, "users.csv", 7, cell, value)
    message = refused(package)
    assert expected in message
    assert re.search(r"\(controle delta_(status|date): ", message)
    assert SECRET not in message


def test_bulk_rows_must_leave_status_blank(package: Path) -> None:
    set_cell(package, "users.csv", 12, "status", "active")
    set_cell(package, "users.csv", 14, "status", "active")
    message = refused(package)
    assert (
        f"{package}/users.csv regel 12: status is ingevuld, maar manifest.csv noemt users bulk "
        "(en op 1 andere regel) (controle bulk_lifecycle: " in message
    )


# -- structure: manifest, files, headers, CSV ------------------------------------------------


def test_missing_manifest(package: Path) -> None:
    (package / "manifest.csv").unlink()
    message = refused(package)
    assert message.startswith(f"{package}: manifest.csv ontbreekt (controle package: ")


def test_manifest_names_a_file_the_package_lacks(package: Path) -> None:
    (package / "enrollments.csv").rename(package / "Enrollments.csv")
    message = refused(package)
    assert (
        "manifest.csv regel 11: file.enrollments is bulk, maar enrollments.csv staat niet"
        in message
    )
    assert "hernoem Enrollments.csv naar enrollments.csv" in message


def test_manifest_mode_and_version(package: Path) -> None:
    set_manifest(package, **{"file.classes": "Bulk"})
    assert "manifest.csv regel 6: file.classes is niet absent, bulk of delta" in refused(package)
    set_manifest(package, **{"file.classes": "bulk", "oneroster.version": "1.0"})
    assert "manifest.csv regel 3: oneroster.version is niet 1.1 of 1.2" in refused(package)
    set_manifest(package, **{"oneroster.version": "1.2", "file.users": "absent"})
    message = refused(package)
    assert "manifest.csv regel 16: file.users is absent (controle file_needed: " in message


def test_header_in_another_case_or_version(
    package: Path, tmp_path: Path, edexml_27zx: SchoolExport
) -> None:
    def lower(rows: list[list[str]]) -> None:
        rows[0][1] = "Status"

    edit(package, "classes.csv", lower)
    message = refused(package)
    assert "classes.csv regel 1: kolom 2 is 'Status' waar OneRoster 1.2 'status' heeft" in message

    old = tmp_path / "old"
    write_oneroster(edexml_27zx, old, "1.1")
    set_manifest(old, **{"oneroster.version": "1.2"})  # and no file.roles line
    assert "file.roles is absent" in refused(old)
    shutil.copy(package / "roles.csv", old / "roles.csv")
    edit(old, "manifest.csv", lambda rows: rows.append(["file.roles", "bulk"]))
    message = refused(old)
    assert (
        "users.csv regel 1: kolom 5 is 'orgSourcedIds' waar OneRoster 1.2 'username' heeft"
        in message
    )
    assert "dit is een kopregel van OneRoster 1.1: zet oneroster.version" in message


def test_header_errors_never_quote_a_pupil(package: Path) -> None:
    set_cell(package, "users.csv", 2, "familyName", SECRET)
    rows = rows_of(package, "users.csv")
    write_rows(package, "users.csv", rows[1:])  # no header: a pupil sits on line 1
    message = refused(package)
    assert "users.csv regel 1: kolom 1 is geen OneRoster-kolomnaam waar" in message
    assert SECRET not in message and "leerling-1" not in message


def test_extension_columns_must_be_metadata(package: Path) -> None:
    def add(rows: list[list[str]]) -> None:
        rows[0].append("ext_vendor_id")
        for row in rows[1:]:
            row.append("")

    edit(package, "classes.csv", add)
    message = refused(package)
    assert "classes.csv regel 1: kolom 15 is geen OneRoster-kolomnaam na" in message
    assert "controle metadata_column" in message


def test_row_width_never_quotes_a_pupil(package: Path) -> None:
    set_cell(package, "users.csv", 9, "familyName", f"{SECRET}, jr")  # quoted: fine
    read(package)
    data = (
        (package / "users.csv")
        .read_bytes()
        .replace(f'"{SECRET}, jr"'.encode(), f"{SECRET}, jr".encode())
    )
    (package / "users.csv").write_bytes(data)
    message = refused(package)
    assert "users.csv regel 9: de regel heeft 23 waarden waar de kopregel er 22 heeft" in message
    assert "controle row_width" in message
    assert SECRET not in message


def test_unclosed_quote_and_encoding(package: Path) -> None:
    users = package / "users.csv"
    original = users.read_bytes()
    lines = original.split(b"\r\n")
    lines[20] = lines[20].replace(b",", b',"', 1)
    users.write_bytes(b"\r\n".join(lines))
    assert (
        "users.csv regel 21: een waarde tussen aanhalingstekens wordt nooit afgesloten "
        "(controle quoting: " in refused(package)
    )

    lines = original.split(b"\r\n")
    lines[30] += b"\xff"
    users.write_bytes(b"\r\n".join(lines))
    message = refused(package)
    assert "users.csv regel 31: het bestand is geen UTF-8 (controle encoding: " in message


def test_required_values_and_unique_ids(package: Path) -> None:
    set_cell(package, "classes.csv", 3, "classType", "Homeroom")  # any case: fine
    read(package)
    set_cell(package, "classes.csv", 3, "classType", "lab")
    assert "classes.csv regel 3: classType is niet homeroom of scheduled" in refused(package)
    set_cell(package, "classes.csv", 3, "classType", "")
    assert "classes.csv regel 3: classType is leeg (controle required: " in refused(package)
    set_cell(package, "classes.csv", 3, "classType", "homeroom")

    set_cell(package, "users.csv", 5, "sourcedId", "leerling-1")
    assert "users.csv regel 5: deze sourcedId staat ook op een eerdere regel" in refused(package)
    set_cell(package, "users.csv", 5, "sourcedId", "")
    assert "users.csv regel 5: sourcedId is leeg" in refused(package)


def test_one_school_and_one_school_year(package: Path) -> None:
    rows = rows_of(package, "orgs.csv")
    write_rows(package, "orgs.csv", [*rows, ["org-99ZZ", "", "", "99ZZ", "school", "99ZZ", ""]])
    message = refused(package)
    assert "orgs.csv regel 3: 2 orgs van type school (regels 2, 3)" in message
    assert "exporteer één pakket per school" in message
    write_rows(package, "orgs.csv", rows)

    rows = rows_of(package, "academicSessions.csv")
    nxt = [
        "sy-2028",
        "",
        "",
        "Schooljaar 2027-2028",
        "schoolYear",
        "2027-08-01",
        "2028-07-31",
        "",
        "2028",
    ]
    write_rows(package, "academicSessions.csv", [*rows, nxt])
    message = refused(package)
    assert (
        "de sessies bevatten de schooljaren 2026-2027, 2027-2028 (controle school_year: " in message
    )

    rows[1][5:7] = ["", ""]  # no dates: the schoolYear column, read as the ending year
    write_rows(package, "academicSessions.csv", [rows[0], rows[1]])
    assert read(package).school["schooljaar"] == "2026-2027"


def test_zip_rules(package: Path, tmp_path: Path) -> None:
    nested = zip_folder(package, tmp_path / "nested.zip", inside="27ZX/")
    message = refused(nested)
    assert "manifest.csv staat in 27ZX/manifest.csv: zip de bestanden zelf" in message

    not_zip = tmp_path / "export.zip"
    not_zip.write_text("leerlingkey;naam\n")
    assert "geen zipbestand en geen map" in refused(not_zip)

    archive = zip_folder(package, tmp_path / "27ZX.zip")
    export = read(archive)
    assert len(export.pupils) == 60
    assert (export.pupils["source_file"] == str(archive)).all()


def test_missing_path_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="bestaat niet"):
        read(tmp_path / "nowhere.zip")


def test_registry_finds_the_source(package: Path, tmp_path: Path) -> None:
    assert detect_format(package) == "oneroster"
    assert detect_format(tmp_path / "export.ZIP") == "oneroster"
    source = get_source("oneroster")
    assert isinstance(source, OneRosterSource)
    protocol: Source = ONEROSTER_SOURCE
    assert protocol.extract(package).format == "oneroster"


def test_folder_digest_follows_content(package: Path) -> None:
    before = read(package).sha256
    assert read(package).sha256 == before
    set_cell(package, "users.csv", 2, "givenName", "Sem")
    assert read(package).sha256 != before


# -- bounded input: duplicate entries, sizes, ratios ---------------------------------------


def test_a_zip_with_two_users_entries_is_refused_naming_the_entry(
    package: Path, tmp_path: Path
) -> None:
    # zipfile keeps the last of two entries of one name: 2 pupils instead of 60, silently.
    archive = zip_folder(package, tmp_path / "27ZX.zip")
    rows = rows_of(package, "users.csv")
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows[:3])
    with (
        pytest.warns(UserWarning, match="Duplicate name"),
        zipfile.ZipFile(archive, "a") as zipped,
    ):
        zipped.writestr("users.csv", buffer.getvalue())
    message = refused(archive)
    assert f"{archive}!users.csv" in message
    assert "twee keer" in message


@pytest.mark.parametrize("other", ["Users.csv", "USERS.CSV"])
def test_a_case_variant_of_a_file_is_refused_in_a_zip_and_in_a_folder(
    package: Path, tmp_path: Path, other: str
) -> None:
    (package / other).write_bytes((package / "users.csv").read_bytes())
    assert "twee keer" in refused(package)
    assert other in refused(zip_folder(package, tmp_path / "27ZX.zip"))


def _package_with_users(package: Path, target: Path, users: bytes) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(package.iterdir()):
            if file.name != "users.csv":
                archive.write(file, file.name)
        archive.writestr("users.csv", users)
    return target


def test_an_entry_that_unpacks_far_beyond_its_packed_size_is_refused_while_unpacking(
    package: Path, tmp_path: Path
) -> None:
    # Within the size limit, but a thousand times its packed size: a zip bomb's ratio.
    header = (package / "users.csv").read_bytes().splitlines()[0] + b"\r\n"
    bomb = _package_with_users(package, tmp_path / "bomb.zip", header + b"," * (30 << 20))
    assert bomb.stat().st_size < 1 << 20
    message = refused(bomb)
    assert f"{bomb}!users.csv" in message
    assert "keer zijn ingepakte grootte" in message


def test_a_small_zip_with_an_entry_of_250_mb_is_refused_within_1_gb_of_memory(
    package: Path, tmp_path: Path
) -> None:
    rows = (package / "users.csv").read_bytes().splitlines()
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for file in sorted(package.iterdir()):
            if file.name != "users.csv":
                zipped.write(file, file.name)
        with zipped.open("users.csv", "w", force_zip64=True) as entry:
            entry.write(rows[0] + b"\r\n")
            block = b"".join(row + b"\r\n" for row in rows[1:]) * 64
            for _ in range((250 << 20) // len(block)):
                entry.write(block)
    assert archive.stat().st_size < 4 << 20
    probe = (
        "import resource, sys\n"
        "from connectors.errors import SourceFormatError\n"
        "from connectors.sources.oneroster import OneRosterSource\n"
        "try:\n"
        "    OneRosterSource().extract(__import__('pathlib').Path(sys.argv[1]))\n"
        "except SourceFormatError as exc:\n"
        "    print(exc)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(archive)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    message, peak_kib = result.stdout.splitlines()
    assert f"{archive}!users.csv" in message
    assert int(peak_kib) <= 1 << 20  # ru_maxrss is in KiB on Linux


def test_a_file_of_40_mb_is_refused_before_it_is_parsed(package: Path) -> None:
    # A school's users.csv is a few hundred KB; 40 MB is a wrong file, and parsing it
    # would take gigabytes.
    rows = (package / "users.csv").read_bytes()
    (package / "users.csv").write_bytes(rows + b"\r\n" * (20 << 20))
    message = refused(package)
    assert f"{package / 'users.csv'}" in message
    assert "te groot" in message


def test_a_package_without_enrollments_is_read(package: Path) -> None:
    # enrollments are optional: pupils then have no group, which the contract reports.
    (package / "enrollments.csv").unlink()
    set_manifest(package, **{"file.enrollments": "absent"})
    export = read(package)
    assert len(export.pupils) == 60
    assert export.pupils["groepskey"].isna().all()
