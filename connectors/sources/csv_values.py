"""The raw text table of an overzicht, its value normalisers, and names as messages show them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import pandas_dtype

from connectors.errors import shorten
from connectors.i18n import _

# Title lines above the header are skipped; a header further down than this is not one.
HEADER_SEARCH_LINES = 20

_DATE_COLUMNS = ("geboortedatum", "start_ondw_jgr3", "instroomdatum", "uitstroomdatum")


# Gender as schools write it, to the NEN-ISO 5218 code EDEXML uses (J = jongen).
_GENDER_CODES = {
    "0": "0",
    "1": "1",
    "2": "2",
    "9": "9",
    "m": "1",
    "j": "1",
    "man": "1",
    "jongen": "1",
    "v": "2",
    "vrouw": "2",
    "meisje": "2",
    "onbekend": "0",
}
# Dutch day-first dates, as Excel-NL writes them (05-08-2022, 5-8-2022, 05/08/2022), and
# ISO dates; either may carry a midnight time, as spreadsheets add one.
# (RE2 syntax: these run in Arrow, on whole columns.)
_MIDNIGHT = r"(?:[ T]0?0:00(?::00(?:\.0+)?)?)?"
_DUTCH_DATE = rf"^(?P<d>\d{{1,2}})[-/.](?P<m>\d{{1,2}})[-/.](?P<y>\d{{4}}){_MIDNIGHT}$"
_ISO_DATE = rf"^(?P<y>\d{{4}})-(?P<m>\d{{1,2}})-(?P<d>\d{{1,2}}){_MIDNIGHT}$"
# "Groep 3" or "03" for jaargroep 3; a single letter (b, c) is an EDEXML code in capitals.
_JAARGROEP_NUMBER = r"(?i)^(?:groep\s*)?0*(?P<n>\d+)$"
TEXT = pa.large_string()
_MAX_SHOWN = 200


def export_hint() -> str:
    """Return the fix most messages end with: export the overzicht again."""
    return _(
        "exporteer het overzicht opnieuw als CSV (gescheiden door ';' of ',', UTF-8 of "
        "Windows-1252) of als Excel (.xlsx)"
    )


@dataclass(frozen=True)
class Table:
    """The rows under the header, as raw text, before any mapping."""

    header: list[str]  # as written, one per column
    header_line: int
    values: dict[int, pa.Array]  # header index -> stripped text (null if empty), mapped only
    lines: npt.NDArray[np.int64]  # the real line (CSV) or row (XLSX) of each row
    encoding: str
    notes: tuple[str, ...]


def text_table(
    header: list[str],
    header_line: int,
    columns: dict[int, pa.Array],
    lines: npt.NDArray[np.int64],
    encoding: str,
    notes: tuple[str, ...],
) -> Table:
    """The table of the records with data; `lines` holds the line of each."""
    stripped = {i: strip_values(column) for i, column in columns.items()}
    # A row of separators only, or with values only in ignored columns, is no pupil.
    keep = any_value(stripped, len(lines))
    if not keep.all():
        mask = pa.array(keep)
        stripped = {i: column.filter(mask) for i, column in stripped.items()}
    return Table(
        header=header,
        header_line=header_line,
        values=stripped,
        lines=lines[keep].astype(np.int64),
        encoding=encoding,
        notes=notes,
    )


def shown(names: Sequence[str]) -> str:
    """Return names for a message: each cut like any quoted value, and the list too."""
    text = ", ".join(shorten(name) for name in names)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def any_value(columns: dict[int, pa.Array], count: int) -> npt.NDArray[np.bool_]:
    """Return whether each row holds a value (the columns are stripped, null if empty)."""
    found = np.zeros(count, dtype=bool)
    for column in columns.values():
        if column.null_count == 0:
            return np.ones(count, dtype=bool)
        found |= pc.is_valid(column).to_numpy(zero_copy_only=False)
    return found


def strip_values(column: pa.Array) -> pa.Array:
    """Return the values without surrounding white space, null where nothing is left."""
    values = pc.utf8_trim_whitespace(column)
    empty = pc.equal(pc.binary_length(values), 0)
    if not pc.any(empty).as_py():
        return values
    return pc.if_else(empty, pa.scalar(None, TEXT), values)


def normalised(name: str, values: pa.Array) -> pa.Array:
    """Return the values of canonical column `name` normalised (dates, gender, jaargroep)."""
    if name in _DATE_COLUMNS:
        return _iso_dates(values)
    if name == "geslacht":
        codes = pa.array(list(_GENDER_CODES.values()), type=TEXT)
        keys = pa.array(list(_GENDER_CODES), type=TEXT)
        found = pc.index_in(pc.utf8_lower(values), value_set=keys)
        return pc.coalesce(pc.take(codes, found), values)
    if name == "jaargroep":
        return _jaargroepen(values)
    return values


def to_arrow(values: pd.Series) -> pa.Array:
    """Return a pandas text column as an Arrow large_string array."""
    return pa.array(values, type=TEXT, from_pandas=True)


def as_series(columns: dict[str, pa.Array]) -> dict[str, pd.Series]:
    """Return Arrow text columns as pandas 'str' series, converted together."""
    if not columns:
        return {}
    table = pa.table({name: values.cast(TEXT) for name, values in columns.items()})
    frame = table.to_pandas(types_mapper={TEXT: pandas_dtype("str")}.get)
    return {name: frame[name] for name in columns}


def constant(value: str | None, count: int) -> pd.Series:
    """A "str" column holding one value (None: missing) in every row."""
    scalar = pa.scalar(value, TEXT)
    values = pa.nulls(count, TEXT) if value is None else pa.repeat(scalar, count)
    return as_series({"values": values})["values"]


def _iso_dates(text: pa.Array) -> pa.Array:
    """Dates as ISO yyyy-mm-dd; a value that is no real date stays as it was.

    Dates written as dd-mm-jjjj or jjjj-mm-dd, nearly all of them, are converted with numpy
    on their bytes; the other values go through `_any_iso_dates`.
    """
    missing = pc.is_null(text).to_numpy(zero_copy_only=False)
    converted = np.zeros(len(text), dtype=bool)
    result = text
    if len(text) and not missing.all():
        candidate, real = _fixed_dates(text, missing)
        converted[real] = True
        if len(real):
            result = pc.replace_with_mask(text, pa.array(converted), candidate)
    rest = ~converted & ~missing
    if not rest.any():
        return result
    mask = pa.array(rest)
    return pc.replace_with_mask(result, mask, _any_iso_dates(text.filter(mask)))


# Days per month in a leap year, by month number (0 is no month).
_MONTH_DAYS = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _fixed_dates(
    text: pa.Array, missing: npt.NDArray[np.bool_]
) -> tuple[pa.Array, npt.NDArray[np.intp]]:
    """ISO text of the real dates written as dd-mm-jjjj or jjjj-mm-dd, and their rows.

    Only years from 1000 count as real here; other years are left to `_any_iso_dates`.
    """
    count = len(text)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[
        text.offset : text.offset + count + 1
    ]
    rows = np.flatnonzero((np.diff(offsets) == 10) & ~missing)
    if not len(rows):
        return pa.array([], type=TEXT), rows
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)
    first = int(offsets[rows[0]])
    if len(rows) == count and int(offsets[-1]) - first == 10 * count:
        cells = data[first : first + 10 * count].reshape(count, 10)  # every value ten bytes
    else:
        cells = data[offsets[rows][:, None] + np.arange(10)]
    digit = (cells >= ord("0")) & (cells <= ord("9"))
    dash = cells == ord("-")
    dutch = digit[:, [0, 1, 3, 4, 6, 7, 8, 9]].all(axis=1) & dash[:, 2] & dash[:, 5]
    iso_form = digit[:, [0, 1, 2, 3, 5, 6, 8, 9]].all(axis=1) & dash[:, 4] & dash[:, 7]
    if dutch.all():
        year_bytes, month_bytes, day_bytes = cells[:, 6:10], cells[:, 3:5], cells[:, 0:2]
    else:
        flip = dutch[:, None]
        year_bytes = np.where(flip, cells[:, 6:10], cells[:, 0:4])
        month_bytes = np.where(flip, cells[:, 3:5], cells[:, 5:7])
        day_bytes = np.where(flip, cells[:, 0:2], cells[:, 8:10])
    year = (year_bytes.astype(np.int32) - ord("0")) @ np.array([1000, 100, 10, 1], dtype=np.int32)
    month = (month_bytes.astype(np.int32) - ord("0")) @ np.array([10, 1], dtype=np.int32)
    day = (day_bytes.astype(np.int32) - ord("0")) @ np.array([10, 1], dtype=np.int32)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days = _MONTH_DAYS[np.clip(month, 0, 12)] - ((month == 2) & ~leap)
    real = (
        (dutch | iso_form)
        & (year >= 1000)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= days)
    )
    found = int(real.sum())
    iso = np.empty((found, 10), dtype=np.uint8)
    iso[:, 0:4], iso[:, 5:7], iso[:, 8:10] = year_bytes[real], month_bytes[real], day_bytes[real]
    iso[:, 4] = iso[:, 7] = ord("-")
    ends = np.arange(0, 10 * found + 1, 10, dtype=np.int64)
    candidate = pa.Array.from_buffers(
        TEXT, found, [None, pa.py_buffer(ends), pa.py_buffer(iso.tobytes())]
    )
    return candidate, rows[real]


def _any_iso_dates(text: pa.Array) -> pa.Array:
    """`_iso_dates` for any value, by regular expressions in Arrow."""
    dutch = pc.extract_regex(text, pattern=_DUTCH_DATE)
    iso = pc.extract_regex(text, pattern=_ISO_DATE)

    def part(name: str, width: int) -> pa.Array:
        found = pc.coalesce(pc.struct_field(dutch, name), pc.struct_field(iso, name))
        return pc.utf8_lpad(found, width=width, padding="0")

    candidate = pc.binary_join_element_wise(
        part("y", 4), part("m", 2), part("d", 2), pa.scalar("-", TEXT)
    )
    # strptime rolls 31-02 over into March; a date that reads back the same is real.
    parsed = pc.strptime(candidate, format="%Y-%m-%d", unit="s", error_is_null=True)
    real = pc.fill_null(pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), candidate), False)
    return pc.if_else(real, candidate, text)


def _jaargroepen(text: pa.Array) -> pa.Array:
    # A plain number without leading zeros (nearly every value) is already the jaargroep.
    plain = pc.fill_null(pc.match_substring_regex(text, pattern=r"^[1-9][0-9]*$"), True)
    rest = pc.invert(plain)
    if not pc.any(rest).as_py():
        return text
    return pc.replace_with_mask(text, rest, _any_jaargroepen(text.filter(rest)))


def _any_jaargroepen(text: pa.Array) -> pa.Array:
    number = pc.struct_field(pc.extract_regex(text, pattern=_JAARGROEP_NUMBER), "n")
    letter = pc.if_else(
        pc.match_substring_regex(text, pattern=r"^[A-Za-z]$"), pc.utf8_upper(text), None
    )
    return pc.coalesce(number, letter, text)
