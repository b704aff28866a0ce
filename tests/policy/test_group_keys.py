"""The delivered group keys, read in plain Python, are the keys pandas' calls gave.

`policy.structure._group_keys` replaced a chain of pandas calls (mask, split, explode,
strip, drop_duplicates) by a loop over a school's cells; this keeps the old chain as the
reference, over odd cells: missing values, blanks, separators, Unicode white space.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from connectors.sources.base import GROUP_KEY_SEPARATOR
from policy.structure import _group_keys

_CELL = st.one_of(
    st.none(),
    st.text(alphabet=["a", "b", " ", ";", "\u00a0", "\x1c", "\t", "é"], max_size=8),
)
_FIELDS = st.sampled_from(
    [("groepskey",), ("samengestelde_groepen",), ("groepskey", "samengestelde_groepen"), ()]
)


def _reference(pupils: pd.DataFrame, delivered: pd.Series, listed: set[str]) -> pd.Series:
    chosen = pupils.loc[pupils["leerlingkey"].isin(delivered)]
    parts = [pd.Series([], dtype="str")]
    if "groepskey" in listed:
        parts.append(chosen["groepskey"].dropna())
    if "samengestelde_groepen" in listed:
        composite = chosen["samengestelde_groepen"].dropna().str.split(GROUP_KEY_SEPARATOR)
        parts.append(composite.explode().str.strip())
    keys = pd.concat(parts, ignore_index=True).dropna()
    return keys.loc[keys.ne("")].drop_duplicates().reset_index(drop=True).astype("str")


@given(
    rows=st.lists(st.tuples(_CELL, _CELL, st.booleans()), max_size=25),
    fields=_FIELDS,
)
def test_group_keys_equal_the_pandas_chain(
    rows: list[tuple[str | None, str | None, bool]], fields: tuple[str, ...]
) -> None:
    pupils = pd.DataFrame(
        {
            "leerlingkey": pd.Series([f"L{n}" for n in range(len(rows))], dtype="str"),
            "groepskey": pd.Series([r[0] for r in rows], dtype="str"),
            "samengestelde_groepen": pd.Series([r[1] for r in rows], dtype="str"),
        }
    )
    delivered = pd.Series([f"L{n}" for n, r in enumerate(rows) if r[2]], dtype="str")
    school: Any = SimpleNamespace(pupils=pupils)
    agreement: Any = SimpleNamespace(field_names=list(fields))
    got = _group_keys(school, delivered, agreement)
    pd.testing.assert_series_equal(got, _reference(pupils, delivered, set(fields)))
