"""Reason codes for pupils that are not passed on, as fixed in ARCHITECTURE.md."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Reason"]


class Reason(StrEnum):
    """Why a valid pupil was withheld from a supplier. One per pupil, first that applies."""

    ERASED = "erased"  # a parent's erasure request (sluis vergeet)
    LEFT_SCHOOL = "left_school"
    OUT_OF_SCOPE = "out_of_scope"  # jaargroep or vestiging outside the agreement
    NO_CONSENT = "no_consent"  # consent-based agreement and no current "ja"
    NO_IDENTIFIER = "no_identifier"  # the identifier policy cannot be met
    # the supplier's format needs a value the pupil lacks (OneRoster: a familyName)
    INCOMPLETE_FOR_FORMAT = "incomplete_for_format"
