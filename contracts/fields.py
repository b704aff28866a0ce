"""Shared helpers to declare contract fields with a description and a classification."""

from __future__ import annotations

from typing import Any

import pandera.pandas as pa

from contracts.classification import CLASSIFICATION_KEY, DESCRIPTION_NL_KEY, Classification

__all__ = ["ISO_DATE", "declared"]

# Dates stay ISO strings in the canonical frames: every output format writes them as such,
# and a string compares and hashes the same on every platform.
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"


def declared(
    description: str,
    classification: Classification,
    omschrijving: str,
    *,
    nullable: bool = True,
    **checks: Any,
) -> Any:
    """Return a pandera Field that states what it holds, in English and in plain Dutch.

    Args:
        description: what the field is, for developers.
        classification: what kind of personal data it is; drives the deny-list.
        omschrijving: the same in plain Dutch, for parents (data map, inzage).
        nullable: whether the field may be missing.
        **checks: pandera built-in checks (isin=, str_matches=, unique=, ...).
    """
    return pa.Field(
        description=description,
        nullable=nullable,
        metadata={CLASSIFICATION_KEY: classification, DESCRIPTION_NL_KEY: omschrijving},
        **checks,
    )
