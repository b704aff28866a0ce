"""diff tells added, changed, unchanged and removed exactly as a plain mapping would.

The reference is the comparison written the obvious way (a dict from the state's pupil
hash to its row hash, the last row winning); diff finds the same with one hash table.
Hypothesis tries states with repeats, missing row hashes, and none at all.
"""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.formats.base import CHANGE_ADDED, CHANGE_CHANGED
from policy.delta import diff


def _reference(ids: list[str], rows: list[str], state: list[tuple[str, str | None]]) -> tuple:
    before: dict[str, str | None] = {}
    for pupil, row in state:
        before[pupil] = row
    kinds = []
    for pupil, row in zip(ids, rows, strict=True):
        held = before.get(pupil)
        kinds.append(CHANGE_ADDED if held is None else CHANGE_CHANGED if held != row else "")
    removed = sorted(p for p, _row in state if p not in set(ids))
    return kinds, removed, len(state)


_PUPIL = st.sampled_from([f"p{i}" for i in range(8)])
_ROW = st.sampled_from(["r0", "r1", "r2"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_PUPIL, _ROW), max_size=8, unique_by=lambda t: t[0]),
    st.lists(st.tuples(_PUPIL, st.one_of(st.none(), _ROW)), max_size=10),
    st.booleans(),
)
def test_diff_says_what_a_plain_mapping_says(
    current: list[tuple[str, str]], state: list[tuple[str, str | None]], shifted: bool
) -> None:
    ids = [p for p, _row in current]
    rows = [r for _p, r in current]
    # A cut's index need not start at 0: diff answers in the cut's order.
    index = range(5, 5 + len(ids)) if shifted else range(len(ids))
    frame = pd.DataFrame(
        {
            "pupil_hash": pd.Series([p for p, _r in state], dtype="str"),
            "row_hash": pd.Series([r for _p, r in state], dtype="str"),
            "ref": pd.Series([None] * len(state), dtype="object"),
        }
    )
    changes = diff(
        pd.Series(ids, index=index, dtype="str"), pd.Series(rows, index=index, dtype="str"), frame
    )
    kinds, removed, previous = _reference(ids, rows, state)
    assert changes.kinds.tolist() == kinds
    assert list(changes.kinds.index) == list(range(len(ids)))
    assert changes.removed.tolist() == removed
    assert changes.previous == previous
