"""Pseudonyms and generalisations: values a supplier can use without knowing the pupil."""

from __future__ import annotations

import hmac

import pandas as pd

__all__ = ["NON_PERSISTENT_PREFIX", "birth_year", "is_persistent_key", "pseudonym"]

# EDEXML: a key starting with '#' is a dummy the administration may change at any time.
NON_PERSISTENT_PREFIX = "#"


def is_persistent_key(keys: pd.Series) -> pd.Series:
    """True where a LAS key may be used across deliveries."""
    return keys.notna() & ~keys.str.startswith(NON_PERSISTENT_PREFIX, na=False)


def pseudonym(keys: pd.Series, secret: bytes) -> pd.Series:
    """HMAC-SHA256 of each key under a per-supplier secret, as hex.

    Different suppliers get different secrets, so their pseudonyms cannot be linked.
    pyarrow has no keyed hash kernel, so this one column is hashed value by value in C
    through hmac; it runs only over the pupils actually delivered.
    """
    if len(secret) < 16:
        raise ValueError("pseudonym secret must be at least 16 bytes")
    # hmac.digest is the one-shot C path; a list of Python strings iterates faster than
    # an Arrow-backed Series does.
    digests = [hmac.digest(secret, key.encode("utf-8"), "sha256").hex() for key in keys.tolist()]
    return pd.Series(digests, index=keys.index, dtype="str")


def birth_year(dates: pd.Series) -> pd.Series:
    """Generalise ISO birth dates to the year."""
    return dates.str.slice(0, 4)
