"""Policy: scope, consent, identifiers and minimisation, with the invariants as properties."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from builders import make_consents, make_export, pupil
from hypothesis import given
from hypothesis import strategies as st

from connectors.errors import PolicyError
from connectors.formats.registry import get_format
from contracts.agreements import BUNDLED_AGREEMENTS, Agreement, load_agreement
from contracts.validation import ValidatedSchool, validate_school
from policy.apply import apply_agreement, apply_agreement_batch
from policy.consent import consented_keys, current_consents
from policy.format_needs import format_gaps
from policy.minimise import check_output
from policy.pseudonymise import pseudonym

TODAY = date(2026, 11, 28)
YEAR = "2026-2027"
SECRET = b"0123456789abcdef0123456789abcdef"


def _agreement(name: str) -> Agreement:
    return load_agreement(BUNDLED_AGREEMENTS / f"{name}.yaml").agreement


def _school(
    pupils: list[dict[str, object]], consents: list[tuple[str, ...]] = ()
) -> ValidatedSchool:
    return validate_school(make_export(pupils), make_consents(list(consents)), today=TODAY)  # type: ignore[arg-type]


def test_basispoort_gets_exactly_its_fields_and_never_the_bsn() -> None:
    school = _school([pupil("1", bsn="123456782", postcode="1234AB", toevoegingen="dyslexie")])
    cut = apply_agreement(school, _agreement("basispoort"), today=TODAY)
    assert list(cut.frame.columns) == _agreement("basispoort").field_names
    assert cut.frame.loc[0, "brincode"] == "07XY"
    assert cut.frame.loc[0, "groepsnaam"] == "Groep 3 Vossen"
    flat = cut.frame.astype(str).to_numpy().ravel().tolist()
    assert "123456782" not in flat and "1234AB" not in flat and "dyslexie" not in flat


def test_pupils_who_left_and_out_of_scope_are_withheld_with_their_reason() -> None:
    school = _school(
        [
            pupil("1"),
            pupil("2", uitstroomdatum="2026-10-15"),
            pupil("3", uitstroomdatum="2027-01-31"),  # leaves later: still a pupil today
            pupil("4", groepskey=None, jaargroep="0"),  # peuter: outside jaargroepen 1-8
        ]
    )
    cut = apply_agreement(school, _agreement("basispoort"), today=TODAY)
    assert cut.counts.delivered == 2
    assert cut.counts.withheld == {"left_school": 1, "out_of_scope": 1}
    assert dict(cut.withheld) == {"2": "left_school", "4": "out_of_scope"}


def test_eckid_or_key_withholds_only_pupils_with_neither() -> None:
    school = _school([pupil("1", eckid=None), pupil("#2", eckid=None), pupil("#3")])
    cut = apply_agreement(school, _agreement("basispoort"), today=TODAY)
    assert cut.counts.withheld == {"no_identifier": 1}
    # A '#' key is a dummy: the pupil goes by ECK iD and the key is not handed out.
    assert cut.frame["leerlingkey"].isna().sum() == 1


def _plain(format_type: str, fields: list[str]) -> Agreement:
    return Agreement.model_validate(
        {
            "id": "leverancier",
            "name": "Leverancier",
            "role": "verwerker",
            "legal_basis": {"type": "overeenkomst"},
            "agreement": {"reference": "VO-1", "valid_from": "2026-01-01"},
            "purpose": "Lesmateriaal",
            "identifier": "key",
            "fields": [{"name": name, "purpose": "lesmateriaal"} for name in fields],
            "format": {"type": format_type},
        }
    )


ONE_NAME = [
    pupil("1"),
    pupil("2", achternaam=None, roepnaam="Bo"),  # roepnaam only, as EDEXML allows
    pupil("3", roepnaam=None),  # achternaam only
]


def test_a_pupil_oneroster_cannot_carry_is_withheld_as_incomplete_for_format() -> None:
    """On main, such pupils went to OneRoster suppliers named 'onbekend'."""
    cut = apply_agreement(_school(ONE_NAME), _agreement("rekenapp"), today=TODAY, secret=SECRET)
    assert cut.counts.delivered == 1
    assert cut.counts.withheld == {"incomplete_for_format": 2}
    assert cut.counts.balanced
    assert dict(cut.withheld) == {"2": "incomplete_for_format", "3": "incomplete_for_format"}
    assert cut.frame["achternaam"].notna().all() and cut.frame["roepnaam"].notna().all()


def test_a_format_that_carries_missing_values_withholds_nobody_for_them() -> None:
    fields = ["leerlingkey", "roepnaam", "achternaam"]
    for format_type in ("csv", "parquet"):
        cut = apply_agreement(_school(ONE_NAME), _plain(format_type, fields), today=TODAY)
        assert cut.counts.delivered == 3 and cut.counts.withheld == {}


def test_edexml_withholds_a_pupil_without_any_listed_name() -> None:
    """On main the whole school's EDEXML file failed on that one pupil (no name at all)."""
    cut = apply_agreement(
        _school(ONE_NAME), _plain("edexml", ["leerlingkey", "roepnaam"]), today=TODAY
    )
    assert dict(cut.withheld) == {"3": "incomplete_for_format"}
    # With achternaam listed too, every one of them has a name EDEXML can write.
    both = _plain("edexml", ["leerlingkey", "roepnaam", "achternaam"])
    assert apply_agreement(_school(ONE_NAME), both, today=TODAY).counts.withheld == {}


def test_an_earlier_reason_comes_first() -> None:
    school = _school([pupil("2", achternaam=None, uitstroomdatum="2026-10-01")])
    cut = apply_agreement(school, _agreement("rekenapp"), today=TODAY, secret=SECRET)
    assert cut.counts.withheld == {"left_school": 1}


def test_the_report_names_file_line_key_field_and_supplier_of_each_gap_never_a_value() -> None:
    school = _school([*ONE_NAME, pupil("4", achternaam=None, jaargroep="1", groepskey=None)])
    gaps = format_gaps([school], [_agreement("rekenapp"), _agreement("basispoort")], TODAY)
    # Pupil 4 is in groep 1, outside rekenapp's scope: nothing to fix for it there.
    assert list(zip(gaps["leerlingkey"], gaps["column"], strict=True)) == [
        ("3", "roepnaam"),
        ("2", "achternaam"),
    ]
    assert set(gaps["rule"]) == {"incomplete_for_format"}
    assert set(gaps["severity"]) == {"warning"}
    assert list(gaps["source_line"]) == [12, 11]
    [hint] = set(gaps.loc[gaps["column"] == "achternaam", "hint"])
    assert "rekenapp" in hint and "oneroster" in hint and "achternaam" in hint
    for column in gaps.columns:
        assert not set(gaps[column].astype(str)) & {"Bo", "Jansen", "Sem"}, column


def test_consent_this_year_latest_change_wins_and_no_record_means_no() -> None:
    cat = "beeldmateriaal_website"
    consents = [
        ("1", YEAR, cat, "ja", "2026-09-01T10:00:00"),
        ("2", YEAR, cat, "ja", "2026-09-01T10:00:00"),
        ("2", YEAR, cat, "nee", "2026-10-01T10:00:00"),  # changed mind: no
        ("3", YEAR, cat, "ja", "2026-10-01T10:00:00"),  # rows out of order: yes wins
        ("3", YEAR, cat, "nee", "2026-09-01T10:00:00"),
        ("4", "2025-2026", cat, "ja", "2025-09-01T10:00:00"),  # last year's: ignored
        ("5", YEAR, "deelname_onderzoek", "ja", "2026-09-01"),  # other category
        ("6", YEAR, cat, "ja", "2026-09-01T10:00:00"),  # same moment, conflict: no
        ("6", YEAR, cat, "nee", "2026-09-01T10:00:00"),
    ]
    school = _school([pupil(k) for k in "1234567"], consents)
    cut = apply_agreement(school, _agreement("schoolwebsite"), today=TODAY)
    assert cut.counts.delivered == 2
    assert cut.counts.withheld == {"no_consent": 5}
    assert sorted(cut.delivered_keys) == ["1", "3"]


def test_research_gets_pseudonyms_and_birth_years_only() -> None:
    consents = [("1", YEAR, "deelname_onderzoek", "ja", "2026-09-01")]
    school = _school([pupil("1", geboortedatum="2018-04-03", groepskey="G3")], consents)
    cut = apply_agreement(school, _agreement("onderzoek"), today=TODAY, secret=SECRET)
    row = cut.frame.iloc[0]
    assert row["geboortejaar"] == "2018"
    assert len(row["pseudoniem"]) == 64 and row["pseudoniem"] != "1"
    other = pseudonym(pd.Series(["1"]), b"another-secret-of-32-bytes-long!")
    assert other.iloc[0] != row["pseudoniem"]


def test_expired_or_not_expired_is_judged_outside_policy_but_output_check_is_strict() -> None:
    agreement = _agreement("schoolwebsite")
    with pytest.raises(PolicyError, match="buiten de overeenkomst: eckid"):
        check_output(pd.DataFrame({"roepnaam": ["a"], "eckid": ["b"]}), agreement)


# --- properties ---------------------------------------------------------------------------

KEYS = st.sampled_from([str(n) for n in range(100, 130)] + ["#1", "#2"])
NAMES = {"both": {}, "roepnaam only": {"achternaam": None}, "no roepnaam": {"roepnaam": None}}
pupil_strategy = st.builds(
    lambda key, eckid, jaargroep, left, bad, names: pupil(
        key,
        eckid=None if not eckid else pupil(key)["eckid"],
        groepskey=None,
        jaargroep=jaargroep,
        uitstroomdatum="2026-10-01" if left else None,
        geslacht="X" if bad else "2",
        bsn="111222333",
        **NAMES[names],
    ),
    KEYS,
    st.booleans(),
    st.sampled_from(["0", "1", "3", "5", "8"]),
    st.booleans(),
    st.booleans(),
    st.sampled_from(sorted(NAMES)),
)
consent_strategy = st.tuples(
    KEYS,
    st.sampled_from([YEAR, "2025-2026"]),
    st.sampled_from(["beeldmateriaal_website", "deelname_onderzoek"]),
    st.sampled_from(["ja", "nee"]),
    st.sampled_from(["2026-09-01T08:00:00", "2026-09-02T08:00:00", "2026-10-01"]),
)


@given(
    st.lists(pupil_strategy, max_size=25),
    st.lists(consent_strategy, max_size=40),
    st.sampled_from(["basispoort", "schoolwebsite", "onderzoek", "rekenapp"]),
)
def test_property_invariants_hold_for_every_supplier(
    pupils: list[dict[str, object]], consents: list[tuple[str, ...]], supplier: str
) -> None:
    agreement = _agreement(supplier)
    school = _school(pupils, consents)
    cut = apply_agreement(school, agreement, today=TODAY, secret=SECRET)

    # Delivered columns are a subset of (here: exactly) the allow-list.
    assert set(cut.frame.columns) <= set(agreement.field_names)
    # Nothing lost: input = delivered + withheld + quarantined.
    assert cut.counts.input == len(pupils)
    assert cut.counts.balanced
    # Every delivered pupil has what the supplier's format needs: nothing is made up.
    for need in get_format(agreement.format.type).pupil_needs:
        assert not need.unmet(cut.frame).any()
    # No pupil without a current "ja" reaches a consent-based supplier.
    if agreement.consent_category:
        standing = current_consents(school.consents, YEAR)
        yes = set(consented_keys(standing, agreement.consent_category))
        assert set(cut.delivered_keys) <= yes
        latest = {}
        for key, year, cat, value, _moment in sorted(
            consents, key=lambda r: (pd.Timestamp(r[4]), r[3] == "nee")
        ):
            if year == YEAR and cat == agreement.consent_category:
                latest[key] = value
        assert set(cut.delivered_keys) <= {k for k, v in latest.items() if v == "ja"}


def test_an_erased_pupil_is_withheld_from_every_supplier_and_only_that_pupil() -> None:
    from lineage.rights import pupil_hash

    consents = [
        (k, YEAR, c, "ja", "2026-09-01")
        for k in "12"
        for c in ("beeldmateriaal_website", "deelname_onderzoek")
    ]
    school = _school([pupil("1"), pupil("2")], consents)
    member = b"membership-secret-0123456789abcdef"
    erased = frozenset({pupil_hash("07XY:2", member)})
    for supplier in ("basispoort", "schoolwebsite", "onderzoek"):
        cut = apply_agreement(
            school,
            _agreement(supplier),
            today=TODAY,
            secret=SECRET,
            erased=erased,
            membership_secret=member,
        )
        assert cut.counts.withheld == {"erased": 1}
        assert list(cut.delivered_keys) == ["1"]
        assert list(cut.delivered_ids) == [pupil_hash("07XY:1", member)]


def test_erasures_without_the_membership_secret_are_refused() -> None:
    school = _school([pupil("1")])
    with pytest.raises(ValueError, match="membership secret"):
        apply_agreement(school, _agreement("basispoort"), today=TODAY, erased=frozenset({"x"}))


def test_the_same_las_key_at_two_schools_gives_two_pseudonyms() -> None:
    consents = make_consents([("1", YEAR, "deelname_onderzoek", "ja", "2026-09-01")])
    schools = [
        validate_school(make_export([pupil("1")], school={"brincode": brin}), consents, today=TODAY)
        for brin in ("07XY", "08AB")
    ]
    cuts = apply_agreement_batch(schools, _agreement("onderzoek"), today=TODAY, secret=SECRET)
    first, second = (cut.frame.loc[0, "pseudoniem"] for cut in cuts)
    assert first != second
    assert first == pseudonym(pd.Series(["07XY:1"]), SECRET).iloc[0]
