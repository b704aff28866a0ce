"""The stamgroepen of an overzicht, one per distinct group key."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.i18n import _
from connectors.sources.base import (
    GROUP_COLUMNS,
    SOURCE_FILE,
    SOURCE_LINE,
    empty_frame,
)
from connectors.sources.csv_column_map import GROUP_NAME
from connectors.sources.csv_values import TEXT, as_series, shown, to_arrow


def _first_positions(codes: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Positions of the first occurrence of each code, in that order, by hashing."""
    firsts: npt.NDArray[np.intp] = pd.Series(codes).drop_duplicates().index.to_numpy(np.intp)
    return firsts


def read_groups(
    label: str, by_target: dict[str, pd.Series], lines: pd.Series
) -> tuple[pd.DataFrame, list[str]]:
    """One stamgroep per distinct group key, in order of first appearance."""
    keys = by_target.get("groepskey")
    if keys is None:
        return empty_frame(GROUP_COLUMNS), []
    key_text = to_arrow(keys)
    names = by_target.get(GROUP_NAME)
    jaargroep = by_target.get("jaargroep")
    name_text = key_text if names is None else pc.coalesce(to_arrow(names), key_text)
    jaargroep_text = pa.nulls(len(keys), TEXT) if jaargroep is None else to_arrow(jaargroep)
    # Group codes in order of first appearance (pandas' factorize), then per group with
    # numpy: the first name and jaargroep (skipping missing ones, as pandas' first does),
    # how many distinct ones (as nunique) and the smallest line.
    codes = pd.factorize(pd.Series(key_text.to_pandas(types_mapper=pd.ArrowDtype)))[0]
    rows = np.flatnonzero(codes >= 0)
    codes = codes[rows]
    count = int(codes.max()) + 1 if len(codes) else 0
    first_row = rows[_first_positions(codes)]
    line_min = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(line_min, codes, lines.to_numpy(dtype=np.int64)[rows])

    def first_and_distinct(values: pa.Array) -> tuple[pa.Array, npt.NDArray[np.int64]]:
        present = pc.is_valid(values).to_numpy(zero_copy_only=False)[rows]
        value_codes = pd.factorize(
            pd.Series(values.take(pa.array(rows[present])).to_pandas(types_mapper=pd.ArrowDtype))
        )[0]
        present_codes = codes[present]
        first_index = _first_positions(present_codes)
        take = np.full(count, -1, dtype=np.int64)
        take[present_codes[first_index]] = rows[present][first_index]
        first = values.take(pa.array(take, mask=take < 0))
        pairs = pd.unique(present_codes.astype(np.int64) * (len(value_codes) + 1) + value_codes)
        distinct = np.bincount(pairs // (len(value_codes) + 1), minlength=count)
        return first, distinct

    name_first, name_count = first_and_distinct(name_text)
    jaargroep_first, jaargroep_count = first_and_distinct(jaargroep_text)
    summary = pa.table(
        {
            "groepskey": key_text.take(pa.array(first_row)),
            "groepsnaam_first": name_first,
            "groepsnaam_count_distinct": pa.array(name_count),
            "jaargroep_first": jaargroep_first,
            "jaargroep_count_distinct": pa.array(jaargroep_count),
            "line_min": pa.array(line_min),
        }
    )
    count = summary.num_rows
    # A group whose pupils are in different jaargroepen is a combinatiegroep (EDEXML C).
    combined = pc.greater(summary["jaargroep_count_distinct"], 1)
    groups = as_series(
        {
            "groepskey": summary["groepskey"],
            "groepsnaam": summary["groepsnaam_first"],
            "jaargroep": pc.if_else(
                combined, pa.scalar("C", TEXT), summary["jaargroep_first"].cast(TEXT)
            ),
            "soort": pa.repeat(pa.scalar("groep", TEXT), count),
            "omschrijving": pa.nulls(count, TEXT),
            SOURCE_FILE: pa.repeat(pa.scalar(label, TEXT), count),
        }
    )
    frame = pd.DataFrame(groups)
    frame[SOURCE_LINE] = pd.Series(summary["line_min"].to_numpy(), dtype="int64")
    notes = []
    renamed = summary["groepskey"].filter(pc.greater(summary["groepsnaam_count_distinct"], 1))
    if len(renamed):
        notes.append(
            _("groepscode {value}: meer dan één groepsnaam; de eerste wordt gebruikt").format(
                value=shown([str(key) for key in renamed.to_pylist()]),
            )
        )
    return frame, notes
