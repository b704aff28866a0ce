"""Reason codes for pupils that are not passed on, as fixed in ARCHITECTURE.md."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Reason"]


class Reason(StrEnum):
    """Why a valid pupil was withheld from a supplier. One per pupil, first that applies.

    The order of the members is the precedence: what the parents or the school decided
    first (erased, left, outside the agreement), then consent (a row that cannot be read
    before a plain "no", so the coordinator sees what to correct), then what the supplier
    cannot be given (no usable identifier). Codes that come later go after these.
    """

    ERASED = "erased"  # a parent's erasure request (sluis vergeet)
    LEFT_SCHOOL = "left_school"
    OUT_OF_SCOPE = "out_of_scope"  # jaargroep or vestiging outside the agreement
    # A consent row about the pupil (or, without a key, about every pupil) for the
    # agreement's category could not be read: it counts as "nee" until it is corrected.
    CONSENT_UNREADABLE = "consent_unreadable"
    NO_CONSENT = "no_consent"  # consent-based agreement and no current "ja"
    # The identifier policy cannot be met, or the key the supplier would get is a BSN.
    NO_IDENTIFIER = "no_identifier"
    # the supplier's format needs a value the pupil lacks (OneRoster: a familyName)
    INCOMPLETE_FOR_FORMAT = "incomplete_for_format"
