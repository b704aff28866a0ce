"""policy.isin answers as Series.isin does, and the delta and group cuts use it."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow as pa
import pytest
from builders import make_consents, make_export, pupil
from hypothesis import given
from hypothesis import strategies as st

from contracts.agreements import BUNDLED_AGREEMENTS, load_agreement
from contracts.validation import validate_school
from policy.delta import diff
from policy.isin import isin
from policy.structure import delivered_groups

# A small alphabet, so values and candidates overlap often; None is a missing value.
_TEXT = st.one_of(st.none(), st.sampled_from(["a", "b", "ab", "", " a", "é", "A"]))


@given(values=st.lists(_TEXT, max_size=30), candidates=st.lists(_TEXT, max_size=30))
def test_isin_gives_the_answer_of_series_isin_missing_values_included(
    values: list[str | None], candidates: list[str | None]
) -> None:
    left = pd.Series(values, dtype="str", index=[3 * n + 7 for n in range(len(values))])
    right = pd.Series(candidates, dtype="str")
    pd.testing.assert_series_equal(isin(left, right), left.isin(right))


def test_a_missing_value_is_in_the_candidates_only_when_a_candidate_is_missing() -> None:
    values = pd.Series(["a", None, "b"], dtype="str")
    assert isin(values, pd.Series(["a"], dtype="str")).tolist() == [True, False, False]
    assert isin(values, pd.Series([None, "b"], dtype="str")).tolist() == [False, True, True]
    assert isin(values, pd.Series([], dtype="str")).tolist() == [False, False, False]


def test_isin_keeps_the_index_and_name_and_mixes_arrow_text_types() -> None:
    values = pd.Series(["x", "y", None], index=[10, 20, 30], name="leerlingkey", dtype="str")
    large = pd.Series(["y", None], dtype=pd.ArrowDtype(pa.large_string()))
    found = isin(values, large)
    assert found.index.tolist() == [10, 20, 30] and found.name == "leerlingkey"
    assert found.dtype == bool and found.tolist() == [False, True, True]
    small = pd.Series(["x"], dtype=pd.ArrowDtype(pa.string()))
    assert isin(values, small).tolist() == [True, False, False]


def test_columns_that_are_not_text_go_to_pandas_unchanged() -> None:
    numbers = pd.Series([1, 2, 3])
    assert isin(numbers, pd.Series([2, 5])).tolist() == [False, True, False]
    objects = pd.Series(["a", None], dtype="object")
    expected = objects.isin(pd.Series(["a"], dtype="str"))
    pd.testing.assert_series_equal(isin(objects, pd.Series(["a"], dtype="str")), expected)


def _scalars_built(monkeypatch: pytest.MonkeyPatch, work: object) -> int:
    """How often `work()` makes pyarrow box a single Python value (pa.scalar)."""
    calls = 0
    real = pa.scalar

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(pa, "scalar", counting)
        work()  # type: ignore[operator]
    return calls


def test_diff_does_not_box_each_current_pupil_into_a_python_scalar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def compare(pupils: int) -> None:
        ids = pd.Series([f"p{n}" for n in range(pupils)], dtype="str")
        rows = pd.Series([f"r{n}" for n in range(pupils)], dtype="str")
        held = {"pupil_hash": ["p0", "gone"], "row_hash": ["r0", "r"]}
        changes = diff(ids, rows, pd.DataFrame(held, dtype="str"))
        assert changes.removed.tolist() == ["gone"]

    assert _scalars_built(monkeypatch, lambda: compare(500)) == _scalars_built(
        monkeypatch, lambda: compare(5)
    )


def test_delivered_groups_does_not_box_each_delivered_key_into_a_python_scalar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agreement = load_agreement(BUNDLED_AGREEMENTS / "basispoort.yaml").agreement
    school = validate_school(
        make_export([pupil(str(n)) for n in range(1, 301)]),
        make_consents([]),
        today=date(2026, 11, 28),
    )
    keys = school.pupils["leerlingkey"]

    def groups(count: int) -> None:
        assert delivered_groups(school, keys.iloc[:count], agreement)["groepskey"].tolist()

    assert _scalars_built(monkeypatch, lambda: groups(300)) == _scalars_built(
        monkeypatch, lambda: groups(3)
    )
