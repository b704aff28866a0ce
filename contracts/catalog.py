"""Every field an agreement may name, with its description and classification.

Computed from the pupil contract plus the school header and the derived fields, so the
deny-list and the parents' data map can never drift from what the contracts declare.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from contracts.classification import CLASSIFICATION_KEY, DESCRIPTION_NL_KEY, Classification
from contracts.pupils import PupilRecord

__all__ = [
    "CONSENT_FLAG_PREFIX",
    "DERIVED_FROM",
    "FieldInfo",
    "field_catalog",
    "lookup_field",
    "lookup_teacher_field",
    "teacher_catalog",
]

CONSENT_FLAG_PREFIX = "toestemming_"
_CONSENT_FLAG = re.compile(r"^toestemming_[a-z0-9_]+$")

# Columns that are bookkeeping of the pipeline itself, never something to share.
_NOT_SHAREABLE = {"source_file", "source_line"}

# Derived fields and the canonical fields they come from (for lineage and the data map).
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "geboortejaar": ("geboortedatum",),
    "pseudoniem": ("leerlingkey",),
}


@dataclass(frozen=True)
class FieldInfo:
    """What a shareable field is."""

    name: str
    description: str
    omschrijving: str
    classification: Classification
    masked: bool = False  # generalised or pseudonymised: not the value itself


_SCHOOL_FIELDS = (
    FieldInfo(
        "brincode",
        "BRIN code of the school",
        "BRIN-nummer van de school",
        Classification.ORGANISATION,
    ),
    FieldInfo(
        "dependancecode",
        "Dependance code of the school location",
        "dependancecode",
        Classification.ORGANISATION,
    ),
    FieldInfo("schooljaar", "School year of the export", "schooljaar", Classification.ORGANISATION),
)

_DERIVED_FIELDS = (
    FieldInfo(
        "geboortejaar",
        "Year of birth (generalised birth date)",
        "geboortejaar",
        Classification.DERIVED,
        masked=True,
    ),
    FieldInfo(
        "pseudoniem",
        "Keyed hash of the pupil key, different for every supplier",
        "pseudoniem: een code per leverancier waaruit de leerling niet te herleiden is",
        Classification.DERIVED,
        masked=True,
    ),
)


@cache
def field_catalog() -> dict[str, FieldInfo]:
    """Return every fixed field name an agreement may refer to (consent flags aside)."""
    fields: dict[str, FieldInfo] = {}
    for name, column in PupilRecord.to_schema().columns.items():
        if name in _NOT_SHAREABLE:
            continue
        meta = column.metadata or {}
        fields[name] = FieldInfo(
            name=name,
            description=column.description or name,
            omschrijving=str(meta.get(DESCRIPTION_NL_KEY, name)),
            classification=Classification(meta[CLASSIFICATION_KEY]),
        )
    for info in (*_SCHOOL_FIELDS, *_DERIVED_FIELDS):
        fields[info.name] = info
    return fields


def lookup_field(name: str) -> FieldInfo | None:
    """Return the FieldInfo for a name, including `toestemming_<categorie>` flags."""
    known = field_catalog().get(name)
    if known is not None:
        return known
    if _CONSENT_FLAG.match(name):
        category = name.removeprefix(CONSENT_FLAG_PREFIX)
        return FieldInfo(
            name=name,
            description=f"Whether the parents consented to {category} this school year",
            omschrijving=f"toestemming voor {category.replace('_', ' ')} (ja of nee)",
            classification=Classification.CONSENT,
        )
    return None


# Teachers are staff, not pupils, but still people: the same classifications and the
# same deny-list apply. Only what a learning platform needs to put a teacher with a group.
_TEACHER_FIELDS = (
    FieldInfo(
        "leerkrachtkey",
        "Teacher key in the administration",
        "nummer van de leerkracht in de leerlingadministratie",
        Classification.IDENTIFIER,
    ),
    FieldInfo(
        "eckid", "ECK iD of the teacher", "ECK iD van de leerkracht", Classification.IDENTIFIER
    ),
    FieldInfo("achternaam", "Surname", "achternaam", Classification.NAME),
    FieldInfo(
        "voorvoegsel", "Surname prefix (tussenvoegsel)", "tussenvoegsel", Classification.NAME
    ),
    FieldInfo("voorletters", "Initials", "voorletters", Classification.NAME),
    FieldInfo("roepnaam", "First name in use", "roepnaam", Classification.NAME),
    FieldInfo(
        "emailadres", "School e-mail address", "e-mailadres van school", Classification.CONTACT
    ),
    FieldInfo(
        "groepen",
        "Keys of the delivered groups the teacher teaches",
        "groepen waarin de leerkracht lesgeeft",
        Classification.SCHOOL_RECORD,
    ),
)


@cache
def teacher_catalog() -> dict[str, FieldInfo]:
    """Return every teacher field name an agreement's teacher_fields may refer to."""
    return {info.name: info for info in _TEACHER_FIELDS}


def lookup_teacher_field(name: str) -> FieldInfo | None:
    """Return the FieldInfo of a teacher field, or None when the name is unknown."""
    return teacher_catalog().get(name)
