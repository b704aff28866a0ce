"""Identifiers as people type them: BRIN, leerlingkey, ids; unreadable keys; the elfproef."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.identifiers import (
    canonical_brin,
    canonical_id,
    canonical_key,
    canonical_keys,
    is_brin,
    passes_elfproef,
    quoted,
    readable_keys,
    unreadable_keys,
)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [("11nu", "11NU"), (" 11NU ", "11NU"), ("\t07xy01\n", "07XY01"), ("27Zx", "27ZX")],
)
def test_a_brin_is_matched_in_any_case_with_surrounding_space(typed: str, canonical: str) -> None:
    assert canonical_brin(typed) == canonical
    assert is_brin(typed)


@pytest.mark.parametrize("value", [None, "", "  ", "../../x", "7XY", "07XYZ", "07XY123", "ORG_1"])
def test_what_does_not_look_like_a_brin_is_not_one(value: str | None) -> None:
    assert not is_brin(value)


def test_a_huge_value_is_judged_and_quoted_quickly_and_short() -> None:
    huge = "1" * 100_000
    assert not is_brin(huge)
    shown = quoted(huge)
    assert len(shown) <= 40
    assert shown.endswith("…'")


def test_keys_are_stripped_and_ids_lower_cased() -> None:
    assert canonical_key(" 169356 ") == "169356"
    assert canonical_keys(pd.Series([" 1", "2 ", None], dtype="str")).tolist()[:2] == ["1", "2"]
    assert canonical_id(" 20261101T020000Z-27ZX-0B6C9D0E ") == "20261101t020000z-27zx-0b6c9d0e"


@pytest.mark.parametrize(
    "key",
    ["1\x0023", "\x00123", "12\x013", "123\x7f", "12\u200b3", "\ufeff123", "12\xa03", "1\t23"],
)
def test_control_and_invisible_characters_make_a_key_unreadable(key: str) -> None:
    keys = pd.Series([key, "123"], dtype="str")
    assert unreadable_keys(keys).tolist() == [True, False]
    # What is left once they are gone names the pupil the row was probably about.
    assert readable_keys(keys).tolist() == ["123", "123"]


def test_an_ordinary_space_inside_a_key_is_a_character_of_the_key() -> None:
    assert not unreadable_keys(pd.Series(["L 1"], dtype="str")).iloc[0]


@pytest.mark.parametrize(
    ("value", "bsn"),
    [
        ("111222333", True),  # 9*1+8*1+7*1+6*2+5*2+4*2+3*3+2*3-3 = 66
        ("123456782", True),
        ("12345678", False),
        ("023456789", False),
        ("000000000", False),  # all zeros is not a number anyone has
        ("11122233", False),
        ("1234567", False),
        ("1234567890", False),
        ("12345678a", False),
        (None, False),
        ("169356", False),
    ],
)
def test_the_elfproef(value: str | None, bsn: bool) -> None:
    assert passes_elfproef(pd.Series([value], dtype="str")).tolist() == [bsn]


def test_eight_digits_are_a_bsn_with_its_leading_zero_left_off() -> None:
    # 012345672: 0*9+1*8+2*7+3*6+4*5+5*4+6*3+7*2-2 = 110 = 10*11.
    series = pd.Series(["12345672", "012345672"], dtype="str")
    assert passes_elfproef(series).tolist() == [True, True]


@given(st.lists(st.from_regex(r"\A[0-9]{9}\Z"), max_size=20))
def test_the_vectorised_elfproef_is_the_textbook_one(values: list[str]) -> None:
    def textbook(number: str) -> bool:
        digits = [int(c) for c in number]
        total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - digits[8]
        return total % 11 == 0 and any(digits)

    found = passes_elfproef(pd.Series(values, dtype="str")).tolist()
    assert found == [textbook(v) for v in values]
