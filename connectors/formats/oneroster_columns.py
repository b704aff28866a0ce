"""OneRoster 1.2 writer: the files, headers and columns it writes, and what it needs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from connectors import oneroster_spec as spec
from connectors.formats.base import FieldNeed
from connectors.i18n import N_

FORMAT = "oneroster"
ONEROSTER_VERSION = "1.2"
MANIFEST_VERSION = "1.0"
SYSTEM_NAME = "Sluis"

# OneRoster requires givenName and familyName on every users row, also on a tobedeleted
# one, and Sluis keeps no names of the people a supplier holds. Only on those rows: it says
# what the row is, and names no one.
REMOVED_NAME = "verwijderd"

# Spec order and case of every file Sluis writes (OneRoster 1.2 CSV binding).
HEADERS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "academicSessions": spec.SESSIONS,
        "classes": spec.CLASSES,
        "courses": spec.COURSES,
        "demographics": spec.DEMOGRAPHICS,
        "enrollments": spec.ENROLLMENTS,
        "orgs": spec.ORGS,
        "roles": spec.ROLES,
        "users": spec.USERS_12,
    }
)
# Every data file a 1.2 manifest names; the validator wants each key, absent or not.
# Sorted as plain strings, the order the 1EdTech sample packages use.
MANIFEST_FILES: tuple[str, ...] = tuple(sorted(spec.FILES_12))
# Cells a person types (names, titles, codes): neutralised against formula injection.
# Ids, enumerations, booleans and dates are left exactly as the spec needs them.
TEXT_COLUMNS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "orgs": frozenset({"name", "identifier"}),
        "academicSessions": frozenset({"title"}),
        "courses": frozenset({"title", "courseCode", "grades"}),
        "classes": frozenset({"title", "grades"}),
        "users": frozenset(
            {
                "username",
                "givenName",
                "familyName",
                "identifier",
                "email",
                "grades",
                "userMasterIdentifier",
            }
        ),
    }
)

# The columns that make a pupil's sourcedId under each identifier policy.
IDENTIFIER_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "eckid": ("eckid",),
        "eckid_or_key": ("eckid", "leerlingkey"),
        "key": ("leerlingkey",),
        "pseudoniem": ("pseudoniem",),
    }
)
# What every package needs from the pupils' fields, and why (for agreement messages).
NEEDED_FIELDS = (
    ("roepnaam", N_("users.givenName is verplicht")),
    ("achternaam", N_("users.familyName is verplicht")),
    ("groepskey", N_("elke leerling is ingeschreven in de klas van zijn stamgroep")),
    ("brincode", N_("orgs.csv noemt de school bij haar BRIN-code")),
)
TEACHER_IDS = ("leerkrachtkey", "eckid")
# What every users row needs and Sluis will not make up (givenName and familyName are
# required; a teacher's sourcedId is made from its key or ECK iD). A pupil the
# administration knows by one name only (EDEXML allows that) cannot go to OneRoster.
PUPIL_NEEDS = (
    FieldNeed(("roepnaam",), N_("users.givenName is verplicht")),
    FieldNeed(("achternaam",), N_("users.familyName is verplicht")),
)
TEACHER_NEEDS = (
    *PUPIL_NEEDS,
    FieldNeed(TEACHER_IDS, N_("de sourcedId van een leerkracht wordt ervan gemaakt")),
)
NEEDED_TEACHER_FIELDS = (
    ("roepnaam", N_("users.givenName is verplicht")),
    ("achternaam", N_("users.familyName is verplicht")),
    ("groepen", N_("een leerkracht is ingeschreven in de klassen van zijn groepen")),
)
# Pupil fields with a OneRoster column of their own; pseudoniem only as the identifier.
PUPIL_MAPPED = frozenset(
    {
        "leerlingkey",
        "eckid",
        "achternaam",
        "voorvoegsel",
        "roepnaam",
        "gebruikersnaam",
        "emailadres",
        "jaargroep",
        "groepskey",
        "groepsnaam",
        "samengestelde_groepen",
        "geboortedatum",
        "geslacht",
        "brincode",
        "schooljaar",
        "instroomdatum",
        "uitstroomdatum",
    }
)
TEACHER_MAPPED = frozenset(
    {"leerkrachtkey", "eckid", "achternaam", "voorvoegsel", "roepnaam", "emailadres", "groepen"}
)
METADATA_PREFIX = "metadata."
# Canonical field names, so a metadata header never needs quoting.
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")

# OneRoster GUID: 1-255 characters from this set (the validator's pattern).
GUID_PATTERN = r"^[0-9A-Za-z./@_-]{1,255}$"
HASHED = "sha256-"
HASH_DIGITS = 40  # 160 bits: no collision among a country's pupils
ENROLLMENT = "enr-"

GROUP_STAM = "groep"
GROUP_COMPOSITE = "samengestelde_groep"
COMBINATION = "C"
SCHOOLJAAR = re.compile(r"(\d{4})-(\d{4})")

EOL = "\r\n"  # RFC 4180, which the CSV binding follows
# Fixed so that the same package has the same bytes on every run and machine.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_LEVEL = 6
UNIX = 3
FILE_MODE = 0o100644 << 16
