"""Consent spellings read the same whatever else a batch holds.

normalise_consents reads each distinct spelling once for a whole batch (a batch of 25
schools repeats the same school years, categories, values and many moments thousands of
times). Reading a row alone is the reference: every row of a mixed batch must come out
exactly as it does on its own, including a moment in the hour that occurs twice, which
reads differently for "nee" than for "ja".
"""

from __future__ import annotations

import pandas as pd
from builders import make_consents
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.consent_spelling import is_canonical_moment, is_school_year, normalise_consents

_YEARS = [
    "2026-2027",
    "2026 / 2027",
    "2026-27",
    "2026\u20132027",
    "2025-2026",
    "2026-2028",
    "",
    " ",
]
_CATEGORIES = ["beeldmateriaal_website", "Beeldmateriaal website", "deelname-onderzoek", "", "x"]
_VALUES = ["ja", "Ja ", "NEE", "nee", "neen", "1", "0", "misschien", "", " "]
_MOMENTS = [
    "2026-09-01T10:00:00",
    "01-09-2026 10:00",
    "21/10/2026",
    "2026-10-25 02:30",  # the hour that occurs twice: "nee" reads as the later one
    "2026-10-25T02:30:00+02:00",
    "2026-03-29 02:30",  # the hour that does not occur
    "2026-10-21T08:00:00.250Z",
    "31-02-2026",
    "gisteren",
    "",
]


def _rows(draw_rows: list[tuple[int, int, int, int, int]]) -> pd.DataFrame:
    return make_consents(
        [
            (str(key), _YEARS[y], _CATEGORIES[c], _VALUES[v], _MOMENTS[m])
            for key, y, c, v, m in draw_rows
        ]
    )


def _alone(raw: pd.DataFrame) -> pd.DataFrame:
    """Each row normalised on its own, the rows then put together again."""
    parts = [normalise_consents(raw.iloc[[i]]) for i in range(len(raw))]
    return pd.concat(parts).reset_index(drop=True)


_ROW = st.tuples(
    st.integers(1, 4),
    st.integers(0, len(_YEARS) - 1),
    st.integers(0, len(_CATEGORIES) - 1),
    st.integers(0, len(_VALUES) - 1),
    st.integers(0, len(_MOMENTS) - 1),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_ROW, min_size=1, max_size=30))
def test_a_row_reads_the_same_in_any_batch(rows: list[tuple[int, int, int, int, int]]) -> None:
    raw = _rows(rows)
    pd.testing.assert_frame_equal(normalise_consents(raw).reset_index(drop=True), _alone(raw))


def test_the_twice_occurring_hour_reads_by_value_in_one_batch() -> None:
    raw = make_consents(
        [
            ("1", "2026-2027", "beeldmateriaal_website", "ja", "2026-10-25 02:30"),
            ("1", "2026-2027", "beeldmateriaal_website", "nee", "2026-10-25 02:30"),
            ("2", "2026-2027", "beeldmateriaal_website", "ja", "2026-10-25 02:30"),
        ]
    )
    moments = normalise_consents(raw)["gewijzigd_op"].tolist()
    # CEST (UTC+2) first, then CET (UTC+1): "nee" is the later moment.
    assert moments == [
        "2026-10-25T00:30:00.000000Z",
        "2026-10-25T01:30:00.000000Z",
        "2026-10-25T00:30:00.000000Z",
    ]


def test_checks_keep_the_index_and_read_each_value() -> None:
    values = pd.Series(
        ["2026-2027", "2026-2028", None, "2026-2027", "x"], index=[10, 11, 12, 13, 14], dtype="str"
    )
    assert is_school_year(values).to_dict() == {10: True, 11: False, 12: False, 13: True, 14: False}
    moments = pd.Series(
        ["2026-10-25T00:30:00.000000Z", None, "2026-13-01T00:00:00.000000Z"] * 2,
        index=[5, 4, 3, 2, 1, 0],
        dtype="str",
    )
    assert is_canonical_moment(moments).to_dict() == {
        5: True,
        4: False,
        3: False,
        2: True,
        1: False,
        0: False,
    }
