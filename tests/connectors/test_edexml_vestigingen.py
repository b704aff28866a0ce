"""Vestigingen reach the canonical frames, and pupils' vestiging references are checked."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from connectors.sources.base import empty_frame
from connectors.sources.edexml import EdexmlSource
from contracts.validation import validate_school

CONSENTS = ("leerlingkey", "schooljaar", "categorie", "waarde", "gewijzigd_op")


def test_the_official_sample_has_two_vestigingen_with_lines(edexml_reference: Path) -> None:
    export = EdexmlSource().extract(edexml_reference / "EDEXML.Voorbeeld.2.1.xml")
    assert list(export.vestigingen["vestigingkey"]) == ["VH", "VB"]
    assert list(export.vestigingen["naam"]) == ["Vestiging Huissen", "Vestiging Bemmel"]
    assert list(export.vestigingen["source_line"]) == [26, 29]
    school = validate_school(export, empty_frame(CONSENTS), today=date(2026, 11, 28))
    assert "vestiging_reference" not in set(school.problems["rule"])


def test_a_pupil_at_an_unknown_vestiging_is_quarantined(
    edexml_reference: Path, tmp_path: Path
) -> None:
    text = (edexml_reference / "EDEXML.Voorbeeld.2.1.xml").read_text(encoding="utf-8")
    broken = tmp_path / "EDEX.XML"
    broken.write_text(text.replace('<vestiging key="VB"/>', '<vestiging key="VX"/>'), "utf-8")
    school = validate_school(
        EdexmlSource().extract(broken), empty_frame(CONSENTS), today=date(2026, 11, 28)
    )
    rows = school.problems[school.problems["rule"] == "vestiging_reference"]
    assert list(rows["leerlingkey"]) == ["00002"]


def test_a_teacher_linked_to_an_unknown_group_is_a_warning(
    edexml_reference: Path, tmp_path: Path
) -> None:
    text = (edexml_reference / "EDEXML.Voorbeeld.2.1.xml").read_text(encoding="utf-8")
    clean = validate_school(
        EdexmlSource().extract(edexml_reference / "EDEXML.Voorbeeld.2.1.xml"),
        empty_frame(CONSENTS),
        today=date(2026, 11, 28),
    )
    assert "teacher_group_reference" not in set(clean.problems["rule"])
    broken = tmp_path / "EDEX.XML"
    broken.write_text(text.replace('<groep key="GRP4A"/>', '<groep key="GRP9Z"/>', 1), "utf-8")
    school = validate_school(
        EdexmlSource().extract(broken), empty_frame(CONSENTS), today=date(2026, 11, 28)
    )
    rows = school.problems[school.problems["rule"] == "teacher_group_reference"]
    assert list(rows["severity"]) == ["warning"]
    assert list(rows["source_line"]) == [133]
    assert school.quarantined_pupils == clean.quarantined_pupils
