"""The exact wording of refusals that several sources and formats share one helper for.

Each message is stated in full, so that sharing the code that builds it cannot change a
word, a quote or the order of the parts.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from oneroster_writer import write_oneroster

from connectors.errors import ConfigurationError, InputError, SourceFormatError
from connectors.formats.csv import CsvFormat
from connectors.sources.consents import read_consents
from connectors.sources.csv_export import CsvExportSource
from connectors.sources.edexml import EDEXML_SOURCE, EdexmlSource
from connectors.sources.edexml_rows import reexport_hint
from connectors.sources.oneroster import OneRosterSource
from connectors.sources.oneroster_rules import LIMITS, RULES, reexport_fix

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"

SCHOOL = """\
  <school>
    <schooljaar>{schooljaar}</schooljaar>
    <peildatum>2026-10-01</peildatum>
    <brincode>99ZZ</brincode>
    <dependancecode>00</dependancecode>
    <xsdversie>{xsdversie}</xsdversie>
  </school>
"""
PUPIL = """\
    <leerling key="L1">
      <achternaam>Zwanenburg</achternaam>
      <roepnaam>Kim</roepnaam>
      <geboortedatum>2017-03-04</geboortedatum>
      <jaargroep>5</jaargroep>
      <groep key="G5"/>
    </leerling>
"""


def edexml_text(*, schooljaar: str = "2026-2027", xsdversie: str = "2.1", schools: int = 1) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<EDEX>\n'
        + SCHOOL.format(schooljaar=schooljaar, xsdversie=xsdversie) * schools
        + '  <groepen>\n    <groep key="G5"><naam>5a</naam><jaargroep>5</jaargroep></groep>\n'
        + "  </groepen>\n"
        + f"  <leerlingen>\n{PUPIL}  </leerlingen>\n"
        + "</EDEX>\n"
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "EDEX.XML"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(SourceFormatError) as caught:
        EDEXML_SOURCE.extract(path)
    return str(caught.value)


def test_a_second_school_block_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, edexml_text(schools=2))
    assert refusal(path) == (
        f"{path} regel 10: een tweede <school>-blok; een EDEXML-bestand bevat één school; "
        f"{reexport_hint()}"
    )


def test_an_unsupported_edexml_version_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, edexml_text(xsdversie="3.0"))
    assert refusal(path) == (
        f"{path} regel 8: EDEXML-versie '3.0' wordt niet ondersteund, Sluis leest EDEXML 2.x; "
        f"{reexport_hint()}"
    )


def test_a_missing_school_year_is_refused_at_the_school_block(tmp_path: Path) -> None:
    text = edexml_text().replace("    <schooljaar>2026-2027</schooljaar>\n", "")
    path = write(tmp_path, text)
    assert refusal(path) == (
        f"{path} regel 3: <school> heeft geen <schooljaar>, en toestemming hangt af van het "
        f"schooljaar; {reexport_hint()}"
    )


def test_a_malformed_school_year_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, edexml_text(schooljaar="2026-2028"))
    assert refusal(path) == (
        f"{path} regel 4: schooljaar '2026-2028' is geen schooljaar zoals 2026-2027 (tweede "
        f"jaar = eerste jaar + 1); {reexport_hint()}"
    )


@pytest.mark.parametrize(
    ("read", "what", "fix"),
    [
        (EDEXML_SOURCE.extract, "de EDEXML-export", "controleer het bronpad"),
        (CsvExportSource().extract, "de leerlingenexport", "controleer het bronpad"),
        (read_consents, "de toestemmingenexport", "controleer het pad"),
    ],
)
def test_a_missing_export_or_a_folder_is_named_with_what_to_check(
    tmp_path: Path, read: object, what: str, fix: str
) -> None:
    assert callable(read)
    missing = tmp_path / "weg.xml"
    with pytest.raises(ConfigurationError) as caught:
        read(missing)
    assert str(caught.value) == f"{missing}: {what} bestaat niet; {fix}"
    with pytest.raises(ConfigurationError) as caught:
        read(tmp_path)
    assert str(caught.value) == f"{tmp_path}: {what} is geen bestand; {fix}"


def test_unreadable_exports_name_the_reason_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    consents = tmp_path / "toestemmingen.csv"
    consents.write_text("leerlingkey;schooljaar;categorie;waarde;gewijzigd_op\n", encoding="utf-8")
    export = write(tmp_path, edexml_text())
    package = tmp_path / "pakket"
    package.mkdir()
    (package / "manifest.csv").write_text("propertyName,value\n", encoding="utf-8")
    refused = {consents, export, package / "manifest.csv"}
    read_bytes, open_path = Path.read_bytes, Path.open

    def refuse_read_bytes(self: Path) -> bytes:
        if self in refused:
            raise PermissionError(errno.EACCES, "Permission denied")
        return read_bytes(self)

    def refuse_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self in refused:
            raise PermissionError(errno.EACCES, "Permission denied")
        return open_path(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_bytes", refuse_read_bytes)
    monkeypatch.setattr(Path, "open", refuse_open)
    cases = [
        (read_consents, consents, "de toestemmingenexport"),
        (EDEXML_SOURCE.extract, export, "de EDEXML-export"),
        (CsvExportSource().extract, consents, "de leerlingenexport"),
        (OneRosterSource().extract, package, "het OneRoster-pakket"),
    ]
    for read, path, what in cases:
        with pytest.raises(ConfigurationError) as caught:
            read(path)
        assert str(caught.value) == (
            f"{path}: {what} kan niet gelezen worden (Permission denied); "
            "controleer het pad en de rechten"
        )
        assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    ("name", "code", "fix"),
    [
        ("manifest.csv", "manifest_header", "begin manifest.csv met de regel propertyName,value"),
        ("classes.csv", "header", f"{reexport_fix()}; elk bestand begint met zijn kopregel"),
    ],
)
def test_a_oneroster_file_without_a_header_line_is_refused(
    tmp_path: Path, name: str, code: str, fix: str
) -> None:
    folder = tmp_path / "27ZX"
    write_oneroster(EdexmlSource().extract(SAMPLES / "27ZX" / "EDEX.XML"), folder)
    (folder / name).write_bytes(b"")
    with pytest.raises(SourceFormatError) as caught:
        OneRosterSource().extract(folder)
    rule = RULES[code].format(**LIMITS)
    assert str(caught.value) == (
        f"{folder}/{name} regel 1: de kopregel ontbreekt (controle {code}: {rule}); {fix}"
    )


def test_a_lone_surrogate_is_refused_with_the_format_and_basename() -> None:
    frame = pd.DataFrame({"roepnaam": ["Zo\ud800"]}, dtype=object)
    with pytest.raises(InputError) as caught:
        CsvFormat().render(frame, basename="levering")
    assert str(caught.value) == (
        "csv 'levering': een tekstwaarde is geen geldige Unicode (een losse surrogate); "
        "er is niets geleverd"
    )
    assert caught.value.__cause__ is None
