"""OneRoster 1.2 writer: rows as Arrow columns (Table, Columns) and value helpers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.formats.base import arrow_text
from connectors.formats.oneroster_columns import GUID_PATTERN, HASH_DIGITS, HASHED
from connectors.sources.base import GROUP_KEY_SEPARATOR

# -- the package -----------------------------------------------------------------------------
#
# Every column is an Arrow large_string array (bool for the activity flag) and every step
# is a pyarrow.compute call over a whole column: a school is rendered in a few
# milliseconds, and only groups (a few dozen per school) are ever handled one by one.

STR = pa.large_string()


@dataclass(frozen=True)
class Table:
    """The rows of one file: some of its header's columns, and whether each row is active."""

    length: int
    columns: Mapping[str, pa.Array]
    active: pa.Array

    @classmethod
    def of(
        cls, length: int, active: pa.Array | bool, columns: Mapping[str, pa.Array | str | None]
    ) -> Table:
        """A table from arrays and constants (a str fills the column, None leaves it out)."""
        filled = {
            name: const(value, length) if isinstance(value, str) else value
            for name, value in columns.items()
            if value is not None
        }
        flags = pa.repeat(active, length) if isinstance(active, bool) else active
        return cls(length=length, columns=filled, active=flags)

    @classmethod
    def concat(cls, tables: Sequence[Table]) -> Table:
        """Rows of several tables one after the other; a column one lacks is blank there."""
        names = list(dict.fromkeys(name for table in tables for name in table.columns))
        columns = {
            name: pa.concat_arrays(
                [table.columns.get(name, null_text(table.length)) for table in tables]
            )
            for name in names
        }
        return cls(
            length=sum(table.length for table in tables),
            columns=columns,
            active=pa.concat_arrays([table.active for table in tables]),
        )

    def take(self, indices: pa.Array) -> Table:
        """The rows at `indices`, in that order."""
        return Table(
            length=len(indices),
            columns={name: column.take(indices) for name, column in self.columns.items()},
            active=self.active.take(indices),
        )

    def where(self, mask: pa.Array) -> Table:
        """The rows where `mask` is true."""
        return self.take(pc.indices_nonzero(pc.fill_null(mask, False)))


class Columns:
    """The columns of a frame as Arrow text, blanks missing; converted once each."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.length = len(frame)
        self._done: dict[str, pa.Array] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.frame.columns

    def __getitem__(self, name: str) -> pa.Array:
        if name not in self._done:
            self._done[name] = (
                blank_to_null(arrow_text(self.frame[name]))
                if name in self.frame.columns
                else null_text(self.length)
            )
        return self._done[name]


# -- values ------------------------------------------------------------------------------------


def blank_to_null(array: pa.Array) -> pa.Array:
    """The text array with blank cells missing."""
    blank = pc.equal(pc.utf8_trim_whitespace(array), large(""))
    return pc.if_else(blank, pa.scalar(None, STR), array)


def null_text(length: int) -> pa.Array:
    """A large_string array of `length` missing values."""
    return pa.nulls(length, type=STR)


def const(text: str, length: int) -> pa.Array:
    """A large_string array of `length` times `text`."""
    return pa.repeat(large(text), length)


def large(text: str) -> pa.Scalar:
    """A large_string scalar: the string kernels want every argument of the cells' type."""
    return pa.scalar(text, type=STR)


def join_text(*parts: pa.Array | str) -> pa.Array:
    """Parts joined end to end; missing where any part is missing."""
    return pc.binary_join_element_wise(
        *(large(part) if isinstance(part, str) else part for part in parts), large("")
    )


def _hashed(value: str) -> str:
    return HASHED + hashlib.sha256(value.encode("utf-8")).hexdigest()[:HASH_DIGITS]


def guid(values: pa.Array) -> pa.Array:
    """Each value as a OneRoster GUID: itself when it is one, else its stable hash.

    The pattern is checked in Arrow; only values that are not GUIDs (every ECK iD) are
    hashed one by one, as the pseudonyms are.
    """
    other = pc.invert(pc.fill_null(pc.match_substring_regex(values, GUID_PATTERN), True))
    if not pc.any(other).as_py():
        return values
    hashed = pa.array([_hashed(value) for value in values.filter(other).to_pylist()], STR)
    return pc.replace_with_mask(values, other, hashed)


def guid_one(value: str) -> str:
    """One value as a OneRoster GUID: itself when it is one, else its stable hash."""
    return value if re.fullmatch(GUID_PATTERN, value) else _hashed(value)


def split_keys(joined: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Keys joined by ";": one key per element, and the position of the row it came from."""
    lists = pc.split_pattern(joined, GROUP_KEY_SEPARATOR)
    keys = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    rows = pc.list_parent_indices(lists)
    keep = pc.not_equal(keys, large(""))
    return keys.filter(keep), rows.filter(keep)
