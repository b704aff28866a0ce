"""The aggregaat format: counts a board may see, no cell that leads back to one pupil."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.errors import ConfigurationError
from connectors.formats.aggregaat import SUPPRESSED, AggregaatFormat, suppress
from connectors.formats.registry import get_format
from contracts.agreements import BUNDLED_AGREEMENTS, load_agreement_set

_GRID = ["1", "2", "3", "4", "5", "6", "7", "8"]
_OPTIONS = {"k": "5", "jaargroepen": ",".join(_GRID), "school": "11NU"}


def _render(frame: pd.DataFrame, **options: str) -> pd.DataFrame:
    files = AggregaatFormat().render(frame, basename="bestuur-11nu", options=_OPTIONS | options)
    assert len(files) == 1
    return pd.read_csv(io.BytesIO(files[0].content), sep=";", dtype=str, keep_default_na=False)


def _interval(values: np.ndarray, hidden: np.ndarray, cell: int, k: int) -> tuple[int, int]:
    """What someone who has the published cells and the total knows of a hidden cell.

    The hidden cells sum to the total minus the published cells. Each is at least 0, and,
    as long as that is consistent with the sum, taken to be at most k-1 (the rule hides
    cells below k; complementary cells are not marked apart, but the observer may
    assume there are none).
    """
    m = int(hidden.sum())
    rest = int(values[hidden].sum())
    upper = k - 1 if rest <= m * (k - 1) else rest
    others = (m - 1) * upper
    return max(0, rest - others), min(upper, rest)


@settings(max_examples=500, deadline=None)
@given(
    counts=st.lists(st.integers(0, 40), min_size=2, max_size=32),
    k=st.integers(3, 10),
)
def test_no_hidden_cell_can_be_recomputed_from_published_cells_and_the_total(
    counts: list[int], k: int
) -> None:
    values = np.array(counts)
    hidden = suppress(values, k)
    # Every cell below k is hidden; what is published is at least k.
    assert hidden[values < k].all()
    assert (values[~hidden] >= k).all()
    if hidden.all():
        # Nothing is published but the total: the same as the manifest says of any
        # delivery; no cell can be told from another.
        return
    # A cell known to be 0, or a complementary cell known to be k or more, may be told.
    for cell in np.flatnonzero(hidden & (values > 0) & (values < k)):
        low, high = _interval(values, hidden, int(cell), k)
        assert low < high, (counts, k, int(cell), low, high)


@settings(max_examples=100, deadline=None)
@given(
    pupils=st.lists(
        st.tuples(st.sampled_from(_GRID), st.sampled_from(["1", "2", "0", "9", None])),
        max_size=60,
    ),
)
def test_every_published_count_is_zero_or_at_least_k_and_no_row_names_a_pupil(
    pupils: list[tuple[str, str | None]],
) -> None:
    frame = pd.DataFrame(
        {
            "leerlingkey": [f"L{i}" for i in range(len(pupils))],
            "jaargroep": [j for j, _ in pupils],
            "geslacht": [g for _, g in pupils],
            "brincode": "11NU",
        }
    ).drop(columns="leerlingkey")
    out = _render(frame)
    assert list(out.columns) == ["brincode", "jaargroep", "geslacht", "aantal"]
    # The grid is fixed: which rows appear says nothing about who is there.
    assert len(out) == len(_GRID) * 4
    published = out.loc[out["aantal"] != SUPPRESSED, "aantal"].astype(int)
    assert (published >= 5).all()
    counted = frame.groupby(["jaargroep", "geslacht"], dropna=False).size()
    assert published.sum() <= counted.sum()


def test_counts_per_jaargroep_hide_small_cells_and_their_complement() -> None:
    per_group = {"1": 12, "2": 2, "3": 7, "4": 9, "5": 8, "6": 6, "7": 10, "8": 11}
    frame = pd.DataFrame(
        {"jaargroep": [j for j, n in per_group.items() for _ in range(n)], "brincode": "11NU"}
    )
    out = _render(frame).set_index("jaargroep")["aantal"]
    # 2 pupils in groep 2: hidden. The total (65) would give it back, so the smallest
    # published cell (groep 6, 6 pupils) is hidden too; two hidden cells summing to 8
    # could both be 4, so the next smallest (groep 3, 7 pupils) goes as well.
    assert out.to_dict() == {
        "1": "12", "2": SUPPRESSED, "3": SUPPRESSED, "4": "9",
        "5": "8", "6": SUPPRESSED, "7": "10", "8": "11",
    }  # fmt: skip


def test_a_pupil_level_field_in_an_aggregaat_agreement_is_refused() -> None:
    problems = get_format("aggregaat").agreement_problems(
        ("jaargroep", "leerlingkey", "roepnaam"),
        teacher_fields=(),
        identifier="key",
        mode="full",
        profile=None,
    )
    assert problems
    assert "leerlingkey" in problems[0]
    assert "roepnaam" in problems[0]


def test_a_frame_with_a_pupil_column_is_not_rendered() -> None:
    frame = pd.DataFrame({"jaargroep": ["3"], "leerlingkey": ["L1"]})
    with pytest.raises(ConfigurationError, match="alleen per jaargroep"):
        _render(frame)


def test_a_k_below_three_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="minstens 3"):
        _render(pd.DataFrame({"jaargroep": ["3"]}), k="2")


def _board(tmp_path: Path, **changes: object) -> str:
    data = yaml.safe_load((BUNDLED_AGREEMENTS / "bestuur.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    (tmp_path / "bestuur.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    found = load_agreement_set(tmp_path)
    return found.problems[0].message if found.problems else ""


def test_an_aggregaat_agreement_without_jaargroepen_in_scope_is_refused(tmp_path: Path) -> None:
    assert "scope.jaargroepen: aggregaat vraagt" in _board(tmp_path, scope={})


def test_k_goes_only_with_aggregaat_and_is_at_least_three(tmp_path: Path) -> None:
    assert _board(tmp_path) == ""
    assert "format.k" in _board(tmp_path, format={"type": "aggregaat", "k": 2})
    assert "k hoort alleen bij type aggregaat" in _board(tmp_path, format={"type": "csv", "k": 5})
