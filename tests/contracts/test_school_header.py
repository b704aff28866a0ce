"""Which school an export is: a BRIN, as people type it, or the export is refused in one line."""

from __future__ import annotations

import contextlib
import io
import sys
from datetime import date
from pathlib import Path

import pytest
from builders import make_consents, make_export, pupil
from source_writers import write_parnassys_csv

from connectors.errors import SourceFormatError
from connectors.sources.csv_export import CsvExportSource
from connectors.sources.edexml import EdexmlSource
from contracts.validation import validate_school
from pipelines.cli import main

TODAY = date(2026, 11, 28)
EDEXML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<EDEX>\n<school><schooljaar>2026-2027</schooljaar>{brin}</school>\n"
    "<groepen><groep key='G3'><naam>Groep 3</naam><jaargroep>3</jaargroep></groep>"
    "</groepen>\n<leerlingen>\n"
    "<leerling key='1'><achternaam>Jansen</achternaam><roepnaam>Sem</roepnaam>"
    "<geboortedatum>2019-05-01</geboortedatum><jaargroep>3</jaargroep><groep key='G3'/>"
    "</leerling>\n</leerlingen>\n</EDEX>\n"
)


def _validate(**school: object):  # type: ignore[no-untyped-def]
    return validate_school(make_export([pupil("1")], school=school), make_consents([]), today=TODAY)


@pytest.mark.parametrize("typed", ["07xy", " 07XY ", "07Xy01"])
def test_a_brin_in_any_case_and_with_spaces_is_the_school(typed: str) -> None:
    school = _validate(brincode=typed)
    assert school.brincode == typed.strip().upper()
    assert school.school["brincode"] == school.brincode


@pytest.mark.parametrize(
    "value", ["../../x", "x" * 100_000, "07XY/../..", "S-41323", "07 XY", "7XY", "\x0007XY"]
)
def test_a_brincode_that_is_not_a_brin_refuses_the_export_in_one_short_line(value: str) -> None:
    with pytest.raises(SourceFormatError) as caught:
        _validate(brincode=value)
    message = str(caught.value)
    assert "\n" not in message and "\x00" not in message
    assert message.startswith("export.xml regel 3: de brincode '")
    assert "is geen BRIN-code" in message
    assert len(message) < 300


def test_an_export_without_a_brin_is_not_filed_under_its_schoolkey() -> None:
    with pytest.raises(SourceFormatError, match="noemt geen BRIN-code") as caught:
        _validate(brincode=None, schoolkey="S-41323", instellingsnummer="123")
    assert "S-41323" not in str(caught.value)


def test_each_source_writes_the_brin_in_canonical_form(tmp_path: Path) -> None:
    xml = tmp_path / "EDEX.XML"
    xml.write_text(EDEXML.format(brin="<brincode> 07xy </brincode>"), encoding="utf-8")
    assert EdexmlSource().extract(xml).school["brincode"] == "07XY"
    csv = tmp_path / "overzicht.csv"
    write_parnassys_csv(make_export([pupil("1")], school={"brincode": " 27zx"}), csv)
    assert CsvExportSource().extract(csv).school["brincode"] == "27ZX"


def _check(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    argv, sys.argv = sys.argv, ["sluis", "check", "--source", str(path)]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("brin", ["<brincode>" + "1" * 100_000 + "</brincode>", ""])
def test_sluis_check_refuses_a_huge_or_missing_brincode_in_one_line(
    tmp_path: Path, brin: str
) -> None:
    xml = tmp_path / "EDEX.XML"
    xml.write_text(EDEXML.format(brin=brin), encoding="utf-8")
    code, out, err = _check(xml)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"sluis: {xml} regel 3: ")
    assert len(err) < 400
