"""EDEXML 2.1 writer: a frame's columns as trimmed Arrow text, and the keys made of them."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.formats.base import arrow_text
from connectors.formats.edexml_schema import NON_PERSISTENT, NOT_XML_RE2, TEXT, count_true
from connectors.sources.base import GROUP_KEY_SEPARATOR

Values = list[str | None]
_NULL_TEXT = pa.scalar(None, TEXT)
CONTEXT_GROUP_COLUMNS = ("groepskey", "soort", "groepsnaam", "jaargroep")


class Columns:
    """Some columns of one frame as Arrow text: trimmed, blank made missing.

    A school is a few hundred rows and a run writes thousands of schools, so the fixed
    cost per call matters more than the cost per value: the columns are laid end to end
    and each step is one pyarrow.compute call for all of them (a pandas string call
    costs about a millisecond each, whatever the size).

    Attributes:
        rows: rows per column (after `keep`).
        unsafe: names of the columns holding a character XML cannot hold.
    """

    def __init__(
        self, frame: pd.DataFrame | None, names: tuple[str, ...], *, keep: pa.Array | None = None
    ) -> None:
        present = [name for name in names if frame is not None and name in frame.columns]
        rows = len(frame) if frame is not None else 0
        self.rows = rows if keep is None else count_true(keep)
        self._arrays: dict[str, pa.Array] = {}
        self.unsafe: tuple[str, ...] = ()
        if frame is None or not present:
            return
        joined = pa.concat_arrays([arrow_text(frame[name]) for name in present])
        if keep is not None:
            joined = pc.filter(joined, pa.concat_arrays([keep] * len(present)))
        trimmed = pc.utf8_trim_whitespace(joined)
        cleaned = pc.if_else(pc.equal(trimmed, ""), _NULL_TEXT, trimmed)
        size = self.rows
        self._arrays = {name: cleaned.slice(at * size, size) for at, name in enumerate(present)}
        if pc.any(pc.match_substring_regex(cleaned, NOT_XML_RE2)).as_py():
            # Only now, on the way to an error, is each column looked at on its own.
            self.unsafe = tuple(
                name
                for name, array in self._arrays.items()
                if pc.any(pc.match_substring_regex(array, NOT_XML_RE2)).as_py()
            )

    def __contains__(self, name: str) -> bool:
        return name in self._arrays

    def get(self, name: str) -> pa.Array:
        """The column, or an all-missing one when the frame does not have it."""
        array = self._arrays.get(name)
        return pa.nulls(self.rows, TEXT) if array is None else array


def filled_keys(values: Values) -> list[str]:
    """Keys after `persistent_keys`, which leaves none missing (typed as such)."""
    return [value or "" for value in values]


def split_keys(value: str | None) -> tuple[str, ...]:
    """The keys of a joined group-key cell, stripped, once each, in the given order."""
    if value is None:
        return ()
    keys = (key.strip() for key in value.split(GROUP_KEY_SEPARATOR))
    # Once each, in the given order.
    return tuple(dict.fromkeys(key for key in keys if key))


def persistent_keys(given: pa.Array, numbers: pa.Array) -> pa.Array:
    """Persistent keys as given; missing and '#' keys become '#<number>'."""
    persistent = pc.and_(
        pc.is_valid(given), pc.invert(pc.fill_null(pc.starts_with(given, NON_PERSISTENT), False))
    )
    hashed = pc.binary_join_element_wise(
        pa.scalar(NON_PERSISTENT, TEXT), numbers.cast(TEXT), pa.scalar("", TEXT)
    )
    return pc.if_else(persistent, given, hashed)


def row_numbers(rows: int) -> pa.Array:
    """The numbers 1 to `rows`, for non-persistent keys."""
    return pa.array(range(1, rows + 1), pa.int64())
