"""Optional XSD validation: the official samples pass, a broken file fails with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import ConfigurationError, SourceFormatError
from connectors.sources.edexml_xsd import validate_with_xsd

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("sample", ["EDEXML.Voorbeeld.2.1.xml", "EDEXML.Voorbeeld.2.1-Vla.xml"])
def test_both_official_samples_pass(edexml_reference: Path, sample: str) -> None:
    validate_with_xsd(edexml_reference / sample, edexml_reference)


def test_a_current_school_year_passes_the_widened_schema(edexml_reference: Path) -> None:
    validate_with_xsd(REPO / "data" / "samples" / "27ZX" / "EDEX.XML", edexml_reference)


def test_a_broken_file_fails_with_the_line_number(edexml_reference: Path, tmp_path: Path) -> None:
    text = (edexml_reference / "EDEXML.Voorbeeld.2.1.xml").read_text(encoding="utf-8")
    lines = text.splitlines()
    target = next(i for i, line in enumerate(lines) if "<geslacht>0</geslacht>" in line)
    lines[target] = lines[target].replace("<geslacht>0</geslacht>", "<geslacht>5</geslacht>")
    broken = tmp_path / "EDEX.XML"
    broken.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(SourceFormatError) as caught:
        validate_with_xsd(broken, edexml_reference)
    message = str(caught.value)
    assert f"regel {target + 1}:" in message
    assert "geslacht" in message
    assert "'5'" not in message
    assert "\n" not in message


def test_an_element_out_of_order_fails(edexml_reference: Path, tmp_path: Path) -> None:
    text = (edexml_reference / "EDEXML.Voorbeeld.2.1.xml").read_text(encoding="utf-8")
    broken = tmp_path / "EDEX.XML"
    broken.write_text(
        text.replace(
            "<roepnaam>Wimpie</roepnaam>\n\t\t\t<geboortedatum>2006-06-21</geboortedatum>",
            "<geboortedatum>2006-06-21</geboortedatum>\n\t\t\t<roepnaam>Wimpie</roepnaam>",
        ),
        encoding="utf-8",
    )
    with pytest.raises(SourceFormatError, match=r"klopt niet met het EDEXML 2\.1-schema"):
        validate_with_xsd(broken, edexml_reference)


def test_a_folder_without_the_schema_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"EDEXML\.structuur\.xsd"):
        validate_with_xsd(REPO / "data" / "samples" / "27ZX" / "EDEX.XML", tmp_path)
