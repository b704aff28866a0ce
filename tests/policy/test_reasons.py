"""Reason codes: one list, in the order of precedence, the same wherever codes are checked."""

from __future__ import annotations

import pytest

from connectors.drops.base import REASON_CODES, check_counts
from connectors.errors import PolicyError
from lineage.inzage import _REASONS_NL
from policy.reasons import Reason


def test_every_reason_is_a_code_a_manifest_accepts_and_a_parent_can_read() -> None:
    assert {r.value for r in Reason} == set(REASON_CODES)
    assert {r.value for r in Reason} <= set(_REASONS_NL)


def test_precedence_is_erased_left_scope_unreadable_consent_identifier() -> None:
    assert [r.value for r in Reason][:6] == [
        "erased",
        "left_school",
        "out_of_scope",
        "consent_unreadable",
        "no_consent",
        "no_identifier",
    ]


def test_a_manifest_may_count_consent_unreadable_but_not_a_typo() -> None:
    counts = {"input": 3, "delivered": 1, "withheld": {"consent_unreadable": 2}, "quarantined": 0}
    check_counts(counts)  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match="onbekende redencode"):
        check_counts({**counts, "withheld": {"consent_unreadabel": 2}})  # type: ignore[arg-type]
