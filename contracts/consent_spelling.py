"""The spellings of a consent row that exports and forms use, read into the canonical one.

One place turns what people type into what the consent contract checks:

- `schooljaar`: `2026-2027`, also with spaces around the dash, a slash (ParnasSys writes
  `2017 / 2018`), another dash character or a two-digit second year (`2026-27`);
- `categorie`: lower case, spaces and hyphens as underscores (`Beeldmateriaal website`);
- `waarde`: ja/j/yes/y/true/1 and nee/n/neen/no/false/0, in any case;
- `gewijzigd_op`: `jjjj-mm-dd` (with or without a time after `T` or a space, seconds, a
  fraction, and `Z` or a UTC offset) or `dd-mm-jjjj` / `dd/mm/jjjj` (with or without a
  time). A moment without an offset is Amsterdam time. The canonical form is the moment in
  UTC, `jjjj-mm-ddThh:mm:ss.ffffffZ`, so that moments compare as moments.

A value that cannot be read is left as it was: the contract then quarantines the row with
its rule, and policy counts the row against consent (it can withdraw, never give).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

import numpy as np
import pandas as pd

from connectors.identifiers import canonical_keys

__all__ = [
    "LOCAL_TIMEZONE",
    "MOMENT_FORMAT",
    "MOMENT_PATTERN",
    "NO_SPELLINGS",
    "SCHOOLJAAR_CANONICAL",
    "YES_SPELLINGS",
    "is_canonical_moment",
    "is_school_year",
    "normalise_consents",
]

YES_SPELLINGS: Final = ("ja", "j", "yes", "y", "true", "1")
NO_SPELLINGS: Final = ("nee", "n", "neen", "no", "false", "0")
_CONSENT_COLUMNS: Final = ("leerlingkey", "schooljaar", "categorie", "waarde", "gewijzigd_op")
_VALUES: Final = {**dict.fromkeys(YES_SPELLINGS, "ja"), **dict.fromkeys(NO_SPELLINGS, "nee")}

LOCAL_TIMEZONE: Final = "Europe/Amsterdam"
MOMENT_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"
MOMENT_PATTERN: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
SCHOOLJAAR_CANONICAL: Final = r"^(\d{4})-(\d{4})$"

# Hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus sign:
# spreadsheets turn one into another without asking.
_DASHES: Final = "\\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_SCHOOLJAAR: Final = rf"^\s*(\d{{4}})\s*[{_DASHES}/]\s*(\d{{4}}|\d{{2}})\s*$"
_CATEGORY_JOINERS: Final = rf"[\s_{_DASHES}]+"

_TIME: Final = (
    r"(?:[T\s]\s*(?P<H>\d{1,2})[:.](?P<M>\d{2})(?:[:.](?P<S>\d{2})(?:[.,](?P<F>\d{1,9}))?)?"
    r"\s*(?P<Z>Z|UTC|(?P<sign>[+\-\u2212])(?P<oh>\d{2}):?(?P<om>\d{2})?)?)?"
)
_YEAR_FIRST: Final = re.compile(
    rf"^(?P<y>\d{{4}})(?P<s>[-/.])(?P<m>\d{{1,2}})(?P=s)(?P<d>\d{{1,2}}){_TIME}$", re.IGNORECASE
)
# dd-mm-jjjj (or with / or .) is turned around first, so one pattern reads both.
_DAY_FIRST: Final = r"^(\d{1,2})([-/.])(\d{1,2})\2(\d{4})"
_DAY_FIRST_TURNED: Final = r"\4\2\3\2\1"
_NUMBERS: Final = ("y", "m", "d", "H", "M", "S", "oh", "om")


def normalise_consents(raw: pd.DataFrame) -> pd.DataFrame:
    """Return the consent rows with every readable value in its canonical spelling.

    Args:
        raw: rows as `connectors.sources.consents.read_consents` returns them.

    Returns:
        The same rows and columns, a copy; values that cannot be read are left as they
        were, for the contract to report.
    """
    out = raw.copy()
    for column in _CONSENT_COLUMNS:
        # Nothing but space is nothing: the contract then says the value is missing.
        out[column] = raw[column].where(raw[column].str.strip() != "").astype("str")
    raw = out.copy()
    out["leerlingkey"] = canonical_keys(raw["leerlingkey"])
    out["schooljaar"] = _each_distinct(_school_years, raw["schooljaar"])
    out["categorie"] = _each_distinct(_categories, raw["categorie"])
    out["waarde"] = _each_distinct(_values, raw["waarde"])
    # A moment reads by its value and by whether the row says "nee" (the hour that
    # occurs twice), so each distinct pair is read once.
    out["gewijzigd_op"] = _each_distinct(_moments, raw["gewijzigd_op"], out["waarde"] == "nee")
    return out


def _each_distinct(
    read: Callable[..., pd.Series], values: pd.Series, *more: pd.Series
) -> pd.Series:
    """`read` of each distinct value (with `more`'s values beside it), spread over the rows.

    Every reader here depends on the value alone, and a batch of 25 schools repeats a few
    school years, categories and spellings of ja/nee, and many moments, thousands of
    times: the regular expressions and date arithmetic then run once per distinct value,
    not once per row. The result keeps the rows' order and index.
    """
    columns = (values, *more)
    codes = np.zeros(len(values), dtype=np.int64)
    for column in columns:
        column_codes, uniques = pd.factorize(column, use_na_sentinel=False)
        codes = codes * max(len(uniques), 1) + column_codes
    distinct, first = np.unique(codes, return_index=True)
    where = np.searchsorted(distinct, codes)
    read_once = read(*(c.iloc[first].reset_index(drop=True) for c in columns))
    spread = read_once.iloc[where]
    spread.index = values.index
    return spread


def is_school_year(values: pd.Series) -> pd.Series:
    """True where a canonical school year names two consecutive years (`2026-2027`)."""
    return _each_distinct(_is_school_year, values)


def is_canonical_moment(values: pd.Series) -> pd.Series:
    """True where a value is a real moment in the canonical UTC spelling."""
    return _each_distinct(_is_canonical_moment, values)


def _is_school_year(values: pd.Series) -> pd.Series:
    parts = values.str.extract(SCHOOLJAAR_CANONICAL)
    first = pd.to_numeric(parts[0], errors="coerce")
    second = pd.to_numeric(parts[1], errors="coerce")
    return pd.Series((second - first == 1).fillna(False).to_numpy(dtype=bool), index=values.index)


def _is_canonical_moment(values: pd.Series) -> pd.Series:
    shaped = values.str.match(MOMENT_PATTERN, na=False)
    parsed = pd.to_datetime(values.where(shaped), format=MOMENT_FORMAT, errors="coerce")
    return pd.Series(parsed.notna().to_numpy(dtype=bool), index=values.index)


def _school_years(values: pd.Series) -> pd.Series:
    parts = values.str.extract(_SCHOOLJAAR)
    first = pd.to_numeric(parts[0], errors="coerce")
    second = pd.to_numeric(parts[1], errors="coerce")
    # A two-digit second year is the last two digits of the next year (2026-27, 1999-00).
    short = parts[1].str.len() == 2
    second = second.where(~short, first + 1 - (first + 1) % 100 + second)
    readable = (second - first == 1).fillna(False).to_numpy(dtype=bool)
    canonical = first.astype("Int64").astype("str") + "-" + second.astype("Int64").astype("str")
    return values.where(~readable, canonical).astype("str")


def _values(values: pd.Series) -> pd.Series:
    return values.str.strip().str.lower().map(_VALUES).fillna(values).astype("str")


def _categories(values: pd.Series) -> pd.Series:
    joined = values.str.strip().str.lower().str.replace(_CATEGORY_JOINERS, "_", regex=True)
    return joined.str.strip("_").astype("str")


def _moments(values: pd.Series, is_no: pd.Series) -> pd.Series:
    """Canonical UTC moments; the value itself where it is not a moment."""
    text = values.str.strip().str.replace(_DAY_FIRST, _DAY_FIRST_TURNED, regex=True)
    parts = text.str.extract(_YEAR_FIRST)
    n = {name: pd.to_numeric(parts[name], errors="coerce") for name in _NUMBERS}
    hour, minute, second = n["H"].fillna(0), n["M"].fillna(0), n["S"].fillna(0)
    offset_hours, offset_minutes = n["oh"].fillna(0), n["om"].fillna(0)
    fraction = pd.to_numeric(parts["F"].str.pad(9, side="right", fillchar="0"), errors="coerce")
    sane = (hour <= 23) & (minute <= 59) & (second <= 59)
    sane &= (offset_hours <= 14) & (offset_minutes <= 59)
    days = pd.to_datetime(
        pd.DataFrame({"year": n["y"], "month": n["m"], "day": n["d"]}).where(sane),
        errors="coerce",
    )
    clock = pd.to_timedelta(hour * 3600 + minute * 60 + second, unit="s") + pd.to_timedelta(
        fraction.fillna(0), unit="ns"
    )
    wall = days + clock
    has_offset = parts["Z"].notna()
    sign = np.where(parts["sign"].isin(["-", "\u2212"]), -1, 1)
    offset = pd.to_timedelta(sign * (offset_hours * 60 + offset_minutes), unit="min")
    # In the hour that occurs twice when summer time ends, a "nee" is read as the later
    # of the two moments and anything else as the earlier: doubt must not become consent.
    local = wall.where(~has_offset).dt.tz_localize(
        LOCAL_TIMEZONE,
        ambiguous=(~is_no).to_numpy(dtype=bool),
        nonexistent="shift_forward",
    )
    utc = local.dt.tz_convert("UTC")
    given = (wall - offset).where(has_offset).dt.tz_localize("UTC")
    moment = utc.where(~has_offset, given)
    canonical = moment.dt.strftime(MOMENT_FORMAT)
    return values.where(moment.isna(), canonical).astype("str")
