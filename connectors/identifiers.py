"""Identifiers as people type them: one canonical form of a BRIN, a leerlingkey and an id.

Every entry point (an export's school header, the consent file, `--school`, a key on the
command line, a run or delivery id) goes through these functions, so "11nu", " 11NU" and
"11NU" are one school everywhere, and a key copied with a trailing space is still the key.

- BRIN: surrounding space ignored, upper case; a BRIN is two digits, two letters and up
  to two more digits (the EDEXML brincode, with the SchoolReferentieType suffix form).
- leerlingkey: surrounding space ignored; case is kept (EDEXKeyType is case-sensitive).
- run ids, supplier ids and delivery folder names: surrounding space ignored, lower case.

Also here, because every layer needs them: which keys cannot be read (control or invisible
characters), and which look like a BSN (they pass the elfproef).
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import pandas as pd

from connectors.quoting import MAX_QUOTED
from connectors.quoting import quote as quoted

__all__ = [
    "BRIN_PATTERN",
    "MAX_QUOTED",
    "canonical_brin",
    "canonical_id",
    "canonical_key",
    "canonical_keys",
    "is_brin",
    "passes_elfproef",
    "quoted",
    "readable_keys",
    "unreadable_keys",
]

BRIN_PATTERN: Final = re.compile(r"\d{2}[A-Z]{2}\d{0,2}")
# A BRIN is at most 6 characters; anything longer is not judged character by character.
_BRIN_MAX: Final = 6

# Characters no key is typed with, that make two keys look the same and differ: C0 and C1
# controls (NUL included), DEL, format characters (zero-width space, BOM, direction marks,
# soft hyphen) and every space but the plain one (no-break, thin, ideographic, line and
# paragraph separators).
_UNREADABLE_IN_KEY: Final = (
    "[\x00-\x1f\x7f-\x9f\xa0\xad\u1680\u180e\u2000-\u200f\u2028-\u202f"
    "\u205f-\u206f\u3000\ufeff\ufff9-\ufffb]"
)
_UNREADABLE_RE: Final = re.compile(_UNREADABLE_IN_KEY)

# Elfproef weights of a BSN: 9 down to 2 for the first eight digits, -1 for the last.
_ELFPROEF_WEIGHTS: Final = np.array([9, 8, 7, 6, 5, 4, 3, 2, -1], dtype=np.int64)


def canonical_brin(value: str | None) -> str | None:
    """The BRIN as Sluis stores it: stripped and upper case; None when empty."""
    if value is None:
        return None
    text = value.strip().upper()
    return text or None


def is_brin(value: str | None) -> bool:
    """Whether a value, as typed, is a BRIN (after `canonical_brin`)."""
    text = canonical_brin(value[: _BRIN_MAX + 64] if value is not None else None)
    return text is not None and len(text) <= _BRIN_MAX and BRIN_PATTERN.fullmatch(text) is not None


def canonical_key(value: str) -> str:
    """A leerlingkey as Sluis matches it: surrounding space removed, case kept."""
    return value.strip()


def canonical_keys(values: pd.Series) -> pd.Series:
    """`canonical_key` of every value of a string column (missing stays missing)."""
    return values.str.strip()


def canonical_id(value: str) -> str:
    """A run id, supplier id or delivery folder name: stripped, lower case."""
    return value.strip().lower()


def unreadable_keys(values: pd.Series) -> pd.Series:
    """True where a key holds a control, invisible or unusual space character."""
    return values.str.contains(_UNREADABLE_IN_KEY, regex=True, na=False)


def readable_keys(values: pd.Series) -> pd.Series:
    """The keys without those characters, stripped: the pupil a garbled key probably means."""
    return values.str.replace(_UNREADABLE_IN_KEY, "", regex=True).str.strip()


def passes_elfproef(values: pd.Series) -> pd.Series:
    """True where a value is a number that passes the BSN elfproef.

    Nine digits, or eight (a BSN whose leading zero a spreadsheet dropped); the weighted
    sum 9..2 of the first eight digits minus the last is a multiple of 11; all zeros is
    not a BSN.
    """
    text = values.astype("str")
    candidate = text.str.fullmatch(r"[0-9]{8,9}", na=False).to_numpy(dtype=bool)
    result = np.zeros(len(values), dtype=bool)
    if candidate.any():
        padded = text[candidate].str.zfill(9)
        raw = np.frombuffer("".join(padded).encode("ascii"), dtype=np.uint8)
        digits = raw.reshape(-1, 9).astype(np.int64) - ord("0")
        total = digits @ _ELFPROEF_WEIGHTS
        result[candidate] = (total % 11 == 0) & digits.any(axis=1)
    return pd.Series(result, index=values.index, dtype=bool)
