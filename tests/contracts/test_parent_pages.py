"""Pages for parents: values in words, no technical column, processing location."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from connectors.errors import AgreementError
from contracts.agreements import BUNDLED_AGREEMENTS, load_agreements
from contracts.datamap import datamap_html, datamap_markdown
from contracts.parent_pages import day_in_words, value_in_words


def _agreements() -> list:  # type: ignore[type-arg]
    return [a.agreement for a in load_agreements(BUNDLED_AGREEMENTS)]


@pytest.mark.parametrize(
    ("code", "word"), [("0", "onbekend"), ("1", "jongen"), ("2", "meisje"), ("9", "anders")]
)
def test_geslacht_is_shown_in_words(code: str, word: str) -> None:
    assert value_in_words("geslacht", code) == word


def test_dates_are_written_out_in_dutch() -> None:
    assert day_in_words(date(2026, 11, 14)) == "14 november 2026"
    assert value_in_words("geboortedatum", "2019-03-01") == "1 maart 2019"
    # Other fields are left as they are.
    assert value_in_words("achternaam", "2019-03-01") == "2019-03-01"


def test_the_data_map_carries_the_school_name_and_no_technical_field_names() -> None:
    page = datamap_html(_agreements(), school="27ZX", school_name="RKBS de Flint")
    assert "RKBS de Flint (BRIN 27ZX)" in page
    assert "veldnaam" not in page
    assert "<code>" not in page
    assert "tot en met 31 juli 2028" in page
    markdown = datamap_markdown(_agreements(), school="27ZX")
    assert "`" not in markdown


def test_each_data_map_entry_gives_where_the_data_is_processed() -> None:
    agreements = _agreements()
    page = datamap_markdown(agreements, school="27ZX")
    assert page.count("**Waar de gegevens verwerkt worden:**") == len(agreements)
    assert "Verenigde Staten (buiten de Europese Economische Ruimte)" in page


def test_the_data_map_explains_the_board_sees_numbers_only() -> None:
    page = datamap_markdown(_agreements(), school="27ZX")
    section = page.split("## Stichting Zinder")[1].split("\n## ")[0]
    assert "alleen aantallen leerlingen per school en jaargroep en geslacht" in section
    assert "kleiner dan 5 wordt niet getoond" in section


def _with(tmp_path: Path, supplier: str, **changes: object) -> None:
    data = yaml.safe_load((BUNDLED_AGREEMENTS / f"{supplier}.yaml").read_text("utf-8"))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    (tmp_path / f"{supplier}.yaml").write_text(yaml.safe_dump(data), "utf-8")
    load_agreements(tmp_path)


def test_a_processor_outside_the_eea_without_a_location_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AgreementError, match="verwerkingslocatie: de gegevens gaan buiten de EER"):
        _with(tmp_path, "rekenapp", verwerkingslocatie=None)


def test_a_location_inside_the_eea_for_a_transfer_outside_it_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AgreementError, match="ligt binnen de EER"):
        _with(tmp_path, "rekenapp", verwerkingslocatie="EER")
