"""Privacy classifications of fields, and the global deny-list computed from them.

Every contract field carries one classification in its pandera metadata. The deny-list is
not a list of column names someone has to keep up to date: it is every field whose
classification is denied, so a new sensitive column is denied the moment it is declared.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ALWAYS_DENIED",
    "CLASSIFICATION_KEY",
    "DESCRIPTION_NL_KEY",
    "LEGAL_DUTY_ONLY",
    "Classification",
    "denial_reason",
]

# Keys inside pandera Field(metadata=...).
CLASSIFICATION_KEY = "classification"
DESCRIPTION_NL_KEY = "omschrijving"


class Classification(StrEnum):
    """What kind of personal data a field holds."""

    IDENTIFIER = "identifier"  # keys and ECK iD: link records, say nothing by themselves
    NAME = "name"
    BIRTH_DATE = "birth_date"
    DEMOGRAPHIC = "demographic"  # gender
    CONTACT = "contact"  # e-mail address, user name
    SCHOOL_RECORD = "school_record"  # jaargroep, group, dates of entry and leaving
    ORGANISATION = "organisation"  # school identifiers: not about a pupil
    DERIVED = "derived"  # generalised or pseudonymised from another field
    CONSENT = "consent"
    TECHNICAL = "technical"  # mutation timestamps and the like
    PHOTO = "photo"
    NATIONAL_ID = "national_id"  # BSN, onderwijsnummer, sofinummer, BSN-4, rijksregisternummer
    LOCATION = "location"  # postcode
    ETHNICITY = "ethnicity"
    ORIGIN = "origin"  # country of birth of the pupil or the parents
    PUPIL_WEIGHT = "pupil_weight"  # leerlinggewicht: derived from the parents' education
    FREE_TEXT = "free_text"  # toevoegingen: may hold anything, including health data
    SPECIAL_CATEGORY = "special_category"  # health, diagnoses (dyslexia, ADHD), religion


# Never to any recipient, whatever an agreement says.
ALWAYS_DENIED = frozenset(
    {
        Classification.ETHNICITY,
        Classification.ORIGIN,
        Classification.PUPIL_WEIGHT,
        Classification.FREE_TEXT,
        Classification.SPECIAL_CATEGORY,
        Classification.PHOTO,
    }
)

# Only an authority with a legal duty and a named legal reference (WPO art. 178a for the
# PGN, the leerplichtwet for the address) may receive these.
LEGAL_DUTY_ONLY = frozenset({Classification.NATIONAL_ID, Classification.LOCATION})


def denial_reason(classification: Classification, *, legal_duty: bool) -> str | None:
    """Return why a field of this classification may not be shared, or None if it may.

    Args:
        classification: the field's classification.
        legal_duty: True when the recipient's legal basis is `wettelijke_plicht` with a
            legal reference.
    """
    if classification in ALWAYS_DENIED:
        return f"{classification.value} is on the global deny-list for every recipient"
    if classification in LEGAL_DUTY_ONLY and not legal_duty:
        return (
            f"{classification.value} may only go to an authority with a legal duty "
            "(legal_basis: wettelijke_plicht with a legal_reference)"
        )
    return None
