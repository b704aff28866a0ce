"""Consent fails closed: odd spellings are read, and what cannot be read takes consent away.

Each case is a pupil whose parents said "ja" in September and withdrew later, the
withdrawal written the way real exports and forms write it (or garbled). The child must
leave the website list; the other child, with a plain "ja", must stay on it.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import date

import pandas as pd
import pytest
from builders import make_consents, make_export, pupil
from hypothesis import given
from hypothesis import strategies as st

from connectors.identifiers import readable_keys
from contracts.agreements import BUNDLED_AGREEMENTS, Agreement, load_agreement
from contracts.validation import ValidatedSchool, validate_consents, validate_school
from lineage.quarantine_report import build_report
from policy.apply import apply_agreement

TODAY = date(2026, 11, 28)
YEAR = "2026-2027"
WEBSITE = "beeldmateriaal_website"
SECRET = b"0123456789abcdef0123456789abcdef"


def _agreement(name: str) -> Agreement:
    return load_agreement(BUNDLED_AGREEMENTS / f"{name}.yaml").agreement


def _flag_agreement() -> Agreement:
    """Basispoort, also given the website consent flag."""
    agreement = _agreement("basispoort")
    flag = agreement.fields[0].model_copy(update={"name": f"toestemming_{WEBSITE}"})
    return agreement.model_copy(update={"fields": [*agreement.fields, flag]})


def _school(rows: list[tuple[str, str, str, str, str]]) -> ValidatedSchool:
    history = [
        ("1", YEAR, WEBSITE, "ja", "2026-09-01T10:00:00"),
        ("2", YEAR, WEBSITE, "ja", "2026-09-01T10:00:00"),
        *rows,
    ]
    return validate_school(
        make_export([pupil("1"), pupil("2")]), make_consents(history), today=TODAY
    )


# Readable, once read as people write them: the withdrawal is a plain "nee".
READ_AS_NEE = [
    ("1", YEAR, WEBSITE, "nee", "21-10-2026"),
    ("1", YEAR, WEBSITE, "nee", "14/11/2026 08:00"),
    ("1", YEAR, WEBSITE, "nee", "2026-10-21 08:00"),
    ("1", YEAR, WEBSITE, "nee", "2026-10-21T08:00:00.250+02:00"),
    ("1", YEAR, WEBSITE, "neen", "2026-10-01"),
    ("1", YEAR, WEBSITE, "n", "2026-10-01"),
    ("1", YEAR, WEBSITE, "N", "2026-10-01"),
    ("1", YEAR, WEBSITE, " No ", "2026-10-01"),
    ("1", YEAR, WEBSITE, "false", "2026-10-01"),
    ("1", YEAR, WEBSITE, "0", "2026-10-01"),
    ("1", "2026 - 2027", WEBSITE, "nee", "2026-10-01"),
    ("1", "2026 / 2027", WEBSITE, "nee", "2026-10-01"),
    ("1", "2026–2027", WEBSITE, "nee", "2026-10-01"),
    ("1", YEAR, "beeldmateriaal website", "nee", "2026-10-01"),
    ("1", YEAR, "Beeldmateriaal-Website", "nee", "2026-10-01"),
    (" 1 ", YEAR, WEBSITE, "nee", "2026-10-01"),
]

# Not readable: the row counts against consent until it is corrected.
UNREADABLE = [
    ("1", YEAR, WEBSITE, "misschien", "2026-10-01"),
    ("1", YEAR, WEBSITE, "", "2026-10-01"),
    ("1", YEAR, WEBSITE, "nee", "binnenkort"),
    ("1", YEAR, WEBSITE, "nee", "31-02-2026"),
    ("1", YEAR, WEBSITE, "nee", ""),
    ("1", YEAR, WEBSITE, "ja", "1-13-2026"),  # even a "ja" whose moment cannot be placed
    ("1", "2026-2O27", WEBSITE, "nee", "2026-10-01"),
    ("1", "", WEBSITE, "nee", "2026-10-01"),
    ("1", YEAR, "beeldmateriaal/website!", "nee", "2026-10-01"),
    ("1", YEAR, "", "nee", "2026-10-01"),
    ("1\x00", YEAR, WEBSITE, "nee", "2026-10-01"),
    ("\x001", YEAR, WEBSITE, "nee", "2026-10-01"),
    ("1\u200b", YEAR, WEBSITE, "nee", "2026-10-01"),
    ("1\x7f", YEAR, WEBSITE, "misschien", "2026-10-01"),
]


@pytest.mark.parametrize("row", READ_AS_NEE, ids=repr)
def test_a_withdrawal_in_an_odd_spelling_takes_the_child_off_the_website(
    row: tuple[str, str, str, str, str],
) -> None:
    school = _school([row])
    assert school.problems.empty, school.problems[["column", "rule"]].to_dict("records")
    cut = apply_agreement(school, _agreement("schoolwebsite"), today=TODAY)
    assert list(cut.delivered_keys) == ["2"]
    assert dict(cut.withheld) == {"1": "no_consent"}


@pytest.mark.parametrize("row", UNREADABLE, ids=repr)
def test_an_unreadable_row_takes_the_child_off_the_website_until_corrected(
    row: tuple[str, str, str, str, str],
) -> None:
    school = _school([row])
    cut = apply_agreement(school, _agreement("schoolwebsite"), today=TODAY)
    assert list(cut.delivered_keys) == ["2"]
    assert dict(cut.withheld) == {"1": "consent_unreadable"}
    assert cut.counts.balanced
    # The consent flag another supplier gets says "nee" as well.
    flags = apply_agreement(school, _flag_agreement(), today=TODAY).frame
    assert dict(zip(flags["leerlingkey"], flags[f"toestemming_{WEBSITE}"], strict=True)) == {
        "1": "nee",
        "2": "ja",
    }
    # The report names the file, the line and what to do; never the value.
    report = build_report([school]).problems
    [line] = report.loc[report["subject"] == "toestemming", "source_line"].unique()
    assert line == 4
    assert set(report["source_file"]) == {"toestemmingen.csv"}
    assert report["hint"].str.contains("Tot dan telt de regel").all()
    assert "\x00" not in report.to_csv()


def test_a_row_with_a_control_character_in_its_key_is_refused_with_its_line() -> None:
    school = _school([("1\x00", YEAR, WEBSITE, "nee", "2026-10-01")])
    [problem] = school.problems.to_dict("records")
    assert (problem["rule"], problem["source_line"], problem["leerlingkey"]) == (
        "leerlingkey_control",
        4,
        "1",
    )


def test_a_readable_ja_with_an_unreadable_key_gives_nothing_and_takes_nothing() -> None:
    school = _school([("3\x00", YEAR, WEBSITE, "ja", "2026-10-01")])
    three = validate_school(
        make_export([pupil("1"), pupil("2"), pupil("3")]), make_consents([]), today=TODAY
    )
    three = ValidatedSchool(**{**school.__dict__, "pupils": three.pupils, "input_pupils": 3})
    cut = apply_agreement(three, _agreement("schoolwebsite"), today=TODAY)
    assert sorted(cut.delivered_keys) == ["1", "2"]
    assert dict(cut.withheld) == {"3": "no_consent"}


def test_a_withdrawal_without_a_key_withdraws_that_category_from_every_pupil() -> None:
    school = _school([("", YEAR, WEBSITE, "nee", "2026-10-01")])
    cut = apply_agreement(school, _agreement("schoolwebsite"), today=TODAY)
    assert cut.counts.delivered == 0
    assert cut.counts.withheld == {"consent_unreadable": 2}
    # Research consent is another category: untouched.
    research = _school(
        [
            ("", YEAR, WEBSITE, "nee", "2026-10-01"),
            ("1", YEAR, "deelname_onderzoek", "ja", "2026-09-01"),
        ]
    )
    onderzoek = apply_agreement(research, _agreement("onderzoek"), today=TODAY, secret=SECRET)
    assert list(onderzoek.delivered_keys) == ["1"]


def test_an_unreadable_category_withdraws_every_category_of_that_pupil() -> None:
    rows = [
        ("1", YEAR, "deelname_onderzoek", "ja", "2026-09-01"),
        ("2", YEAR, "deelname_onderzoek", "ja", "2026-09-01"),
        ("1", YEAR, "foto's?", "nee", "2026-10-01"),
    ]
    school = _school(rows)
    research = apply_agreement(school, _agreement("onderzoek"), today=TODAY, secret=SECRET)
    assert dict(research.withheld) == {"1": "consent_unreadable"}
    assert list(research.delivered_keys) == ["2"]


def test_an_unreadable_row_of_another_year_does_not_count() -> None:
    school = _school([("1", "2025-2026", WEBSITE, "misschien", "2025-10-01")])
    cut = apply_agreement(school, _agreement("schoolwebsite"), today=TODAY)
    assert sorted(cut.delivered_keys) == ["1", "2"]


def test_a_later_ja_does_not_cancel_an_unreadable_row() -> None:
    rows = [
        ("1", YEAR, WEBSITE, "misschien", "2026-10-01"),
        ("1", YEAR, WEBSITE, "ja", "2026-11-01"),
    ]
    cut = apply_agreement(_school(rows), _agreement("schoolwebsite"), today=TODAY)
    assert dict(cut.withheld) == {"1": "consent_unreadable"}


def test_one_offset_among_plain_moments_is_read_and_compared_in_utc() -> None:
    # 10:30+02:00 is 08:30 UTC; 10:00 without an offset is Amsterdam time, 08:00 UTC.
    rows = [
        ("1", YEAR, WEBSITE, "nee", "2026-10-01T10:00:00"),
        ("1", YEAR, WEBSITE, "ja", "2026-10-01T10:30:00+02:00"),
        ("2", YEAR, WEBSITE, "nee", "2026-10-01T09:30:00+00:00"),  # 11:30 in Amsterdam
        ("2", YEAR, WEBSITE, "ja", "2026-10-01T11:00:00"),
    ]
    school = _school(rows)
    assert school.problems.empty
    cut = apply_agreement(school, _agreement("schoolwebsite"), today=TODAY)
    assert list(cut.delivered_keys) == ["1"]


def test_on_the_same_moment_in_two_spellings_nee_still_wins() -> None:
    rows = [
        ("1", YEAR, WEBSITE, "ja", "2026-10-01T10:00:00+02:00"),
        ("1", YEAR, WEBSITE, "N", "01-10-2026 10:00"),
    ]
    cut = apply_agreement(_school(rows), _agreement("schoolwebsite"), today=TODAY)
    assert dict(cut.withheld) == {"1": "no_consent"}


def test_precedence_left_school_before_consent_unreadable_before_no_consent() -> None:
    pupils = [pupil("1", uitstroomdatum="2026-10-15"), pupil("2"), pupil("3")]
    rows = [
        ("1", YEAR, WEBSITE, "misschien", "2026-10-01"),
        ("2", YEAR, WEBSITE, "misschien", "2026-10-01"),
    ]
    school = validate_school(make_export(pupils), make_consents(rows), today=TODAY)
    cut = apply_agreement(school, _agreement("schoolwebsite"), today=TODAY)
    assert dict(cut.withheld) == {
        "1": "left_school",
        "2": "consent_unreadable",
        "3": "no_consent",
    }


# --- properties ---------------------------------------------------------------------------

_WEBSITE_AGREEMENT = _agreement("schoolwebsite")
Row = tuple[str, str, str, str, str]

# Local moments without an offset; "2026-10-01" is the same moment as its midnight.
MOMENTS = ["2026-09-01T08:00:00", "2026-09-15T12:00:00", "2026-10-01", "2026-10-01T00:00:00"]
consent_row = st.tuples(
    st.just("1"),
    st.sampled_from([YEAR, "2025-2026"]),
    st.sampled_from([WEBSITE, "deelname_onderzoek"]),
    st.sampled_from(["ja", "nee"]),
    st.sampled_from(MOMENTS),
)
garbage = st.one_of(
    st.just(""),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    st.sampled_from(["?", "onbekend", "2026-13-01", "31/02/2026", "ja nee", "2026-2028"]),
)


def _model_yes(rows: list[Row]) -> bool:
    """The rule written out: this year's website rows, latest wins, on a tie "nee"."""
    mine = [r for r in rows if r[1] == YEAR and r[2] == WEBSITE]
    if not mine:
        return False
    latest = max(mine, key=lambda r: (pd.Timestamp(r[4]), r[3] == "nee"))
    return latest[3] == "ja"


@functools.cache
def _pupils(*keys: str) -> ValidatedSchool:
    return validate_school(make_export([pupil(k) for k in keys]), make_consents([]), today=TODAY)


def _on_website(rows: list[Row], *keys: str) -> dict[str, bool]:
    """Which of the pupils `keys` reach the website (the pupils are validated once)."""
    checked = validate_consents(make_consents(rows))
    school = dataclasses.replace(
        _pupils(*keys),
        consents=checked.valid.reset_index(drop=True),
        unreadable_consents=checked.unreadable.reset_index(drop=True),
    )
    delivered = set(apply_agreement(school, _WEBSITE_AGREEMENT, today=TODAY).delivered_keys)
    return {key: key in delivered for key in keys}


def _corrupt(value: str, how: str, junk: str, at: int) -> str:
    if how == "replace":
        return junk
    if how == "control":
        return value[:at] + "\x00\x01\x7f\u200b"[at % 4] + value[at:]
    if how == "upper":
        return f"  {value.upper()} "
    return junk + value  # prefix garbage


def _says_something_else(original: Row, changed: Row) -> bool:
    """Whether a change made a readable row that says something else (not a corruption).

    "nee" garbled into "1" is a "ja", and a key garbled into "7" is pupil 7's row: no
    reader can tell those from what the parents chose. Every other change (an unreadable
    value, an odd spelling of the same value) must leave the child off the list.
    """
    readable_key = readable_keys(pd.Series([changed[0]], dtype="str")).iloc[0]
    if readable_key not in ("", "1"):
        return True
    checked = validate_consents(make_consents([original, changed]))
    if not checked.failures.empty:
        return False
    columns = ["leerlingkey", "schooljaar", "categorie", "waarde", "gewijzigd_op"]
    return not checked.valid[columns].iloc[0].equals(checked.valid[columns].iloc[1])


@given(
    st.lists(consent_row, min_size=1, max_size=6),
    st.data(),
    st.sampled_from(["replace", "control", "upper", "prefix"]),
    garbage,
)
def test_property_corrupting_a_row_never_turns_no_consent_into_consent(
    rows: list[Row], data: st.DataObject, how: str, junk: str
) -> None:
    if _model_yes(rows):
        return
    which = data.draw(st.integers(0, len(rows) - 1))
    column = data.draw(st.integers(0, 4))
    row = list(rows[which])
    at = data.draw(st.integers(0, len(row[column])))
    row[column] = _corrupt(row[column], how, junk, at)
    changed: Row = (row[0], row[1], row[2], row[3], row[4])
    if _says_something_else(rows[which], changed):
        return
    corrupted = [*rows[:which], changed, *rows[which + 1 :]]
    assert _on_website(corrupted, "1") == {"1": False}


def test_the_model_of_the_property_is_what_sluis_decides() -> None:
    rows: list[Row] = [
        ("1", YEAR, WEBSITE, "ja", "2026-10-01"),
        ("1", YEAR, WEBSITE, "nee", "2026-10-01T00:00:00"),
        ("2", YEAR, WEBSITE, "nee", "2026-09-01T08:00:00"),
        ("2", YEAR, WEBSITE, "ja", "2026-09-15T12:00:00"),
    ]
    assert _on_website(rows, "1", "2") == {"1": False, "2": True}
    assert (_model_yes(rows[:2]), _model_yes(rows[2:])) == (False, True)


SPELLINGS = {
    "ja": ["ja", "JA", " Ja ", "j", "J", "yes", "Y", "true", "TRUE", "1"],
    "nee": ["nee", "NEE", " nee", "n", "N", "neen", "no", "No", "false", "0"],
}
YEARS = ["2026-2027", "2026 - 2027", "2026/2027", "2026 / 2027", " 2026-27 ", "2026 \u2013 2027"]
CATEGORIES = [
    WEBSITE,
    "beeldmateriaal website",
    "Beeldmateriaal-Website",
    " BEELDMATERIAAL_WEBSITE",
]
# The same moment, 1 October 2026 12:00 in Amsterdam (summer time, UTC+2), as it is written.
NOON = [
    "2026-10-01T12:00:00",
    "2026-10-01 12:00:00",
    "2026-10-01 12:00",
    "01-10-2026 12:00",
    "1/10/2026 12:00:00",
    "2026-10-01T10:00:00Z",
    "2026-10-01T12:00:00+02:00",
    "2026-10-01 10:00:00.000 UTC",
    "2026-10-01T11:00:00+0100",
    "2026-10-01t10:00:00z",
]


@given(
    st.sampled_from(["ja", "nee"]),
    st.data(),
    st.sampled_from(YEARS),
    st.sampled_from(CATEGORIES),
    st.sampled_from(NOON),
)
def test_property_accepted_spellings_decide_as_the_canonical_one(
    value: str, data: st.DataObject, year: str, category: str, moment: str
) -> None:
    spelled = data.draw(st.sampled_from(SPELLINGS[value]))
    other = "nee" if value == "ja" else "ja"
    # Pupils 1 and 2 have the other value a second before noon, 3 and 4 a second after;
    # 1 and 3 then have the canonical spelling at noon, 2 and 4 the typed one.
    rows: list[Row] = []
    for canonical, typed, when in (("1", "2", "11:59:59"), ("3", "4", "12:00:01")):
        for key in (canonical, typed):
            rows.append((key, YEAR, WEBSITE, other, f"2026-10-01T{when}"))
        rows.append((canonical, YEAR, WEBSITE, value, "2026-10-01T12:00:00"))
        rows.append((f" {typed}", year, category, spelled, moment))
    found = _on_website(rows, "1", "2", "3", "4")
    assert (found["1"], found["3"]) == (found["2"], found["4"])
    assert (found["1"], found["3"]) == (value == "ja", other == "ja")
