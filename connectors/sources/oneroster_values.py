"""OneRoster values to Sluis' raw columns, whole columns at a time."""

from __future__ import annotations

import codecs

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.sources.base import (
    GROUP_KEY_SEPARATOR,
    SOURCE_FILE,
    SOURCE_LINE,
)
from connectors.sources.oneroster_rules import (
    ECKID,
    SCHOOL_YEAR_FIRST_MONTH,
    SEX,
    STR,
    ZERO_PADDED_GROEP,
)


def isin(values: pd.Series, allowed: pd.Series | pd.Index) -> pd.Series:
    """Series.isin for strings, in C++: pandas' own converts every allowed value in Python."""
    text = pa.large_string()
    found = pc.is_in(pa.array(values, type=text), value_set=pa.array(allowed, type=text))
    return pd.Series(
        pc.fill_null(found, False).to_numpy(zero_copy_only=False), index=values.index, dtype=bool
    )


def strip_bom(data: bytes) -> bytes:
    """Return the bytes without a UTF-8 byte order mark."""
    return data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data


def property_name(name: str) -> str:
    """Return a manifest property name as a message shows it, cut short."""
    # Manifest property names are not pupil data, but keep a broken line short.
    return repr(name if len(name) <= 40 else name[:39] + "…")


def blank_to_na(values: pd.Series) -> pd.Series:
    """Return the values stripped, missing where blank, with a fresh index."""
    stripped = values.astype("str").str.strip()
    return stripped.mask(stripped == "").reset_index(drop=True)


def first_given(users: pd.DataFrame, version: str) -> pd.Series:
    """Return each user's given name: 1.2's preferredGivenName where filled, else givenName."""
    given = blank_to_na(users["givenName"])
    if version == "1.1":
        return given
    return blank_to_na(users["preferredGivenName"]).fillna(given)


def eckids(values: pd.Series) -> tuple[pd.Series, int]:
    """ECK iDs kept; anything else dropped and counted."""
    stripped = blank_to_na(values)
    looks = stripped.str.match(ECKID).fillna(False).astype(bool)
    return stripped.where(looks), int((stripped.notna() & ~looks).sum())


def sex_codes(sex: pd.Series) -> pd.Series:
    """Return OneRoster sex values as EDEXML gender codes; other values stay as they are."""
    stripped = blank_to_na(sex)
    return stripped.str.lower().map(SEX).fillna(stripped)


def jaargroepen(grades: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Per row: the mapped jaargroep when all grades agree, and how many distinct there are.

    grades is a comma-separated list. "01".."08" and "1".."8" become "1".."8"; every other
    code stays as written. With no grade the jaargroep is missing and the count is 0.
    """
    grades = grades.astype("str").reset_index(drop=True)
    parts = grades.str.split(",").explode().str.strip()
    parts = parts.loc[parts.notna() & (parts != "")]
    # A regex replace runs in Arrow; str.extract would call Python's re once per value.
    mapped = parts.str.replace(ZERO_PADDED_GROEP, r"\1", regex=True)
    count = mapped.groupby(level=0).nunique().reindex(grades.index, fill_value=0)
    first = mapped.groupby(level=0).first().reindex(grades.index)
    return first.where(count == 1).astype("str"), count.astype("int64")


def joined_by_key(frame: pd.DataFrame, key: str, value: str) -> tuple[pd.Series, pd.Series]:
    """Distinct values per key, in file order, joined by ';'; and how many there are.

    pyarrow groups and joins in C++: no Python call per pupil. Without threads, group_by
    keeps the input order within each list.
    """
    pairs = frame[[key, value]].drop_duplicates()
    if pairs.empty:
        return pd.Series([], dtype="str"), pd.Series([], dtype="int64")
    table = pa.Table.from_pandas(pairs.astype("str"), preserve_index=False)
    grouped = table.group_by(key, use_threads=False).aggregate([(value, "list")])
    lists = grouped.column(f"{value}_list")
    keys = grouped.column(key).to_pandas()
    # The separator must have the type of the list items (pandas "str" is large_string).
    separator = pa.scalar(GROUP_KEY_SEPARATOR, type=lists.type.value_type)
    joined = pc.binary_join(lists, separator).to_pandas()
    counts = pc.list_value_length(lists).to_pandas()
    return (
        pd.Series(joined.to_numpy(), index=keys.to_numpy(), dtype="str"),
        pd.Series(counts.to_numpy(), index=keys.to_numpy(), dtype="int64"),
    )


def school_year_by_dates(start: pd.Series, end: pd.Series) -> pd.Series:
    """The Dutch school year (1 August - 31 July) that holds the middle of each session."""
    first = pd.to_datetime(start.str.strip(), format="%Y-%m-%d", errors="coerce")
    last = pd.to_datetime(end.str.strip(), format="%Y-%m-%d", errors="coerce")
    middle = first + (last - first) / 2
    middle = middle.where(last >= first)
    year = middle.dt.year - (middle.dt.month < SCHOOL_YEAR_FIRST_MONTH).astype("int64")
    text = year.astype("Int64").astype("str")
    following = (year + 1).astype("Int64").astype("str")
    return (text + "-" + following).where(middle.notna()).astype("str")


def school_year_by_column(column: pd.Series) -> pd.Series:
    """The schoolYear column read as the year the school year ends: 2027 -> 2026-2027."""
    stripped = column.str.strip()
    valid = stripped.str.fullmatch(r"\d{4}").fillna(False).astype(bool)
    ending = pd.to_numeric(stripped.where(valid), errors="coerce")
    text = (ending - 1).astype("Int64").astype("str") + "-" + ending.astype("Int64").astype("str")
    return text.where(valid).astype("str")


def raw_frame(
    values: pd.DataFrame, names: tuple[str, ...], source_file: str, lines: pd.Series
) -> pd.DataFrame:
    """The raw frame: every canonical column as "str" with blanks missing, plus provenance."""
    count = len(lines)
    columns: dict[str, pd.Series] = {}
    for name in names:
        if name in values:
            column = values[name].reset_index(drop=True).astype("str").str.strip()
            columns[name] = column.mask(column == "")
        else:
            columns[name] = nulls(count)
    frame = pd.DataFrame(columns, index=pd.RangeIndex(count))
    frame[SOURCE_FILE] = pd.Series([source_file] * count, dtype="str")
    frame[SOURCE_LINE] = pd.Series(lines.to_numpy(), dtype="int64")
    return frame


def nulls(count: int) -> pd.Series:
    """Return a 'str' column of `count` missing values."""
    # A missing column straight from Arrow: no Python object per row.
    text = pa.large_string()
    return pd.Series(pa.nulls(count, type=text).to_pandas(types_mapper={text: STR}.get))
