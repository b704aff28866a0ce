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


def test_a_batch_gives_the_same_result_as_each_school_alone() -> None:
    from contracts.validation import validate_schools

    one = make_export(
        [pupil("1"), pupil("2", geslacht="Q"), pupil("3", groepskey="G12")],
        school={"peildatum": "2026-10-01"},
    )
    # The same keys and groups in another school are not duplicates of the first's.
    two_pupils = [pupil("1"), pupil("1"), pupil("4", geboortedatum="2008-01-01")]
    two = make_export(two_pupils, school={"brincode": "99AB", "peildatum": "2020-10-01"})
    two = type(two)(**{**two.__dict__, "path": two.path.with_name("other.xml")})
    two.pupils["source_file"] = "other.xml"
    two.groups["source_file"] = "other.xml"
    consents = make_consents([("1", "2026-2027", "beeldmateriaal_website", "ja", "2026-09-01")])

    batch = validate_schools([(one, consents), (two, make_consents([]))], today=TODAY)
    alone = [
        validate_school(one, consents, today=TODAY),
        validate_school(two, make_consents([]), today=TODAY),
    ]
    for together, single in zip(batch, alone, strict=True):
        assert together.pupils.equals(single.pupils)
        assert together.problems.reset_index(drop=True).equals(single.problems)
        assert together.quarantined_pupils == single.quarantined_pupils
        assert len(together.consents) == len(single.consents)
    assert [s.quarantined_pupils for s in batch] == [2, 2]
    # A birth date fits the 2020 peildatum of school two only if judged per school.
    assert "4" in set(batch[1].pupils["leerlingkey"])


def test_a_pupil_at_an_unknown_vestiging_is_quarantined() -> None:
    export = make_export(
        [pupil("1", vestiging="VH"), pupil("2", vestiging="VX"), pupil("3")],
        vestigingen=[{"vestigingkey": "VH", "naam": "Vestiging Huissen"}],
    )
    result = validate_school(export, make_consents([]), today=TODAY)
    assert list(result.problems["rule"]) == ["vestiging_reference"]
    assert list(result.problems["leerlingkey"]) == ["2"]


@pytest.mark.parametrize("key", ["2\x00", "2\x1b", "\u200b2", "2\xa0"])
def test_a_pupil_key_with_a_control_or_invisible_character_is_quarantined(key: str) -> None:
    # Such a key matches no consent row, erasure or earlier delivery that means the pupil.
    result = validate_school(make_export([pupil("1"), pupil(key)]), make_consents([]), today=TODAY)
    assert list(result.pupils["leerlingkey"]) == ["1"]
    assert set(result.problems["rule"]) == {"leerlingkey_control"}
