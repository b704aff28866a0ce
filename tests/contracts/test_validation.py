"""Contract rules: each bad row is quarantined with its rule, never with its value."""

from __future__ import annotations

from datetime import date

import pytest
from builders import make_consents, make_export, pupil

from contracts.pupils import PupilRecord
from contracts.validation import PROBLEM_COLUMNS, validate_school

TODAY = date(2026, 11, 28)


def _rules(pupils: list[dict[str, object]]) -> dict[str, set[str]]:
    result = validate_school(make_export(pupils), make_consents([]), today=TODAY)
    found: dict[str, set[str]] = {}
    for key, rule in zip(result.problems["leerlingkey"], result.problems["rule"], strict=True):
        found.setdefault(str(key), set()).add(rule)
    return found


def test_valid_pupils_pass_with_group_name_added() -> None:
    result = validate_school(make_export([pupil("1"), pupil("2")]), make_consents([]), today=TODAY)
    assert result.quarantined_pupils == 0
    assert list(result.pupils["groepsnaam"]) == ["Groep 3 Vossen", "Groep 3 Vossen"]
    assert list(result.pupils.columns) == list(PupilRecord.to_schema().columns)


@pytest.mark.parametrize(
    ("values", "rule"),
    [
        ({"achternaam": None, "voorvoegsel": "van"}, "name_rule"),
        ({"achternaam": None, "roepnaam": None}, "name_rule"),
        ({"geboortedatum": "2027-01-01"}, "not_in_future"),
        ({"geboortedatum": "1990-01-01"}, "plausible_age"),
        ({"geboortedatum": "2019-02-30"}, "date_valid"),
        ({"geboortedatum": "01-05-2019"}, "geboortedatum_format"),
        ({"geslacht": "M"}, "geslacht_code"),
        ({"groepskey": "G12"}, "jaargroep_required"),
        ({"groepskey": "GONE"}, "group_reference"),
        ({"samengestelde_groepen": "SG1;NOPE"}, "composite_group_reference"),
        ({"jaargroep": "C"}, "jaargroep_per_pupil"),
        ({"jaargroep": "9"}, "jaargroep_code"),
        ({"eckid": "12345"}, "eckid_format"),
    ],
)
def test_each_rule_quarantines_the_pupil(values: dict[str, object], rule: str) -> None:
    rules = _rules([pupil("1"), pupil("2", **values)])
    assert rule in rules["2"]
    assert "1" not in rules


def test_roepnaam_alone_is_a_valid_name() -> None:
    assert _rules([pupil("1", achternaam=None, roepnaam="Wimpie")]) == {}


def test_jaargroep_is_derived_from_a_plain_stamgroep_but_not_from_a_combination() -> None:
    result = validate_school(
        make_export([pupil("1", jaargroep=None), pupil("2", groepskey="G12", jaargroep="2")]),
        make_consents([]),
        today=TODAY,
    )
    assert list(result.pupils["jaargroep"]) == ["3", "2"]


def test_duplicate_keys_quarantine_every_copy() -> None:
    result = validate_school(
        make_export([pupil("1"), pupil("1", eckid=None), pupil("2")]),
        make_consents([]),
        today=TODAY,
    )
    assert result.quarantined_pupils == 2
    assert list(result.pupils["leerlingkey"]) == ["2"]


def test_legacy_eckid_warns_but_delivers() -> None:
    result = validate_school(
        make_export([pupil("1", eckid="https://id.school/LL_123")]), make_consents([]), today=TODAY
    )
    assert result.quarantined_pupils == 0
    assert list(result.problems["severity"]) == ["warning"]
    assert list(result.problems["rule"]) == ["eckid_legacy"]


def test_report_holds_file_line_key_rule_and_hint_but_no_value() -> None:
    secret_surname = "Vermeulen-Zoë"
    result = validate_school(
        make_export(
            [
                pupil("1"),
                pupil("2", achternaam=secret_surname, geboortedatum="2031-03-03", geslacht="Q"),
            ]
        ),
        make_consents([]),
        today=TODAY,
    )
    problems = result.problems
    assert list(problems.columns) == list(PROBLEM_COLUMNS)
    assert set(problems["source_line"]) == {11}
    assert set(problems["source_file"]) == {"export.xml"}
    assert all(problems["hint"].str.len() > 10)
    text = problems.to_csv()
    for value in (secret_surname, "2031-03-03", "Q,"):
        assert value not in text


def test_counts_add_up_to_input() -> None:
    result = validate_school(
        make_export([pupil("1"), pupil("2", geslacht="7"), pupil("3", groepskey="X")]),
        make_consents([]),
        today=TODAY,
    )
    assert result.input_pupils == 3
    assert result.quarantined_pupils + len(result.pupils) == 3


def test_bad_consent_rows_are_reported_and_left_out() -> None:
    consents = make_consents(
        [
            ("1", "2026-2027", "beeldmateriaal_website", "ja", "2026-09-01T10:00:00"),
            ("1", "2026-2027", "beeldmateriaal_website", "misschien", "2026-09-02"),
            ("1", "26/27", "beeldmateriaal_website", "ja", "2026-09-02"),
            ("1", "2026-2027", "beeldmateriaal_website", "ja", "gisteren"),
        ]
    )
    result = validate_school(make_export([pupil("1")]), consents, today=TODAY)
    assert len(result.consents) == 1
    assert set(result.problems["rule"]) == {"waarde_code", "schooljaar_format", "datetime_format"}
    assert set(result.problems["subject"]) == {"toestemming"}
