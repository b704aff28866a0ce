"""What a OneRoster package must hold: the files, their headers, the limits and the rules."""

from __future__ import annotations

from pandas.api.types import pandas_dtype

from connectors.errors import SourceFormatError
from connectors.i18n import N_, _
from connectors.oneroster_spec import (
    CLASSES as _CLASSES,
)
from connectors.oneroster_spec import (
    COMMON as _COMMON,
)
from connectors.oneroster_spec import (
    DEMOGRAPHICS as _DEMOGRAPHICS,
)
from connectors.oneroster_spec import (
    ENROLLMENTS as _ENROLLMENTS,
)
from connectors.oneroster_spec import (
    ORGS as _ORGS,
)
from connectors.oneroster_spec import (
    ROLES as _ROLES,
)
from connectors.oneroster_spec import (
    SESSIONS as _SESSIONS,
)
from connectors.oneroster_spec import (
    USERS_11 as _USERS_11,
)
from connectors.oneroster_spec import (
    USERS_12 as _USERS_12,
)

FORMAT = "oneroster"
MANIFEST = "manifest.csv"
VERSIONS = ("1.1", "1.2")

BULK = "bulk"
DELTA = "delta"
ABSENT = "absent"
MODES = (ABSENT, BULK, DELTA)

# One school's package is a few MB (a board of 20,000 pupils about 6 MB); reading takes
# some eight times a file's size in memory, so these bound what a zip bomb or a wrong file
# can cost to well under 1 GB. Sizes are counted while unpacking, never taken from the
# zip's own header, which can say anything.
MAX_FILE_BYTES = 32 << 20
MAX_PACKAGE_BYTES = 64 << 20
# Deflated CSV shrinks some 5 to 20 times; a zip bomb a thousand times and more. The ratio
# is checked once a file has unpacked past RATIO_FROM_BYTES (a small file may shrink to
# almost nothing).
MAX_RATIO = 100
RATIO_FROM_BYTES = 1 << 20
UNPACK_CHUNK_BYTES = 1 << 20
# OneRoster has a dozen files; a zip of thousands of entries is no export.
MAX_ENTRIES = 1000


# The files Sluis reads, in the order they are checked, with their spec headers (exact
# order and case, as the validator in PEERS.md [O1] and the Moodle plugin [O2] have them).
SPEC_HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "1.1": {
        "orgs": _ORGS,
        "academicSessions": _SESSIONS,
        "users": _USERS_11,
        "classes": _CLASSES,
        "enrollments": _ENROLLMENTS,
        "demographics": _DEMOGRAPHICS,
    },
    "1.2": {
        "orgs": _ORGS,
        "academicSessions": _SESSIONS,
        "users": _USERS_12,
        "roles": _ROLES,
        "classes": _CLASSES,
        "enrollments": _ENROLLMENTS,
        "demographics": _DEMOGRAPHICS,
    },
}
# Without these there is no school, no school year or no way to tell pupils apart.
NEEDED = {
    "1.1": ("orgs", "academicSessions", "users"),
    "1.2": ("orgs", "academicSessions", "users", "roles"),
}

# The columns that are read into memory at all; everything else is skipped by the parser.
KEEP: dict[str, tuple[str, ...]] = {
    "orgs": (*_COMMON, "type", "identifier"),
    "academicSessions": (*_COMMON, "type", "startDate", "endDate", "schoolYear"),
    "users": (
        *_COMMON,
        "role",
        "username",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "grades",
        "userMasterIdentifier",
        "preferredGivenName",
    ),
    "roles": (*_COMMON, "userSourcedId", "roleType", "role", "beginDate", "endDate"),
    "classes": (*_COMMON, "title", "grades", "classType", "schoolSourcedId"),
    "enrollments": (
        *_COMMON,
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
    ),
    "demographics": (*_COMMON, "birthDate", "sex"),
}
# Values Sluis cannot do without to build the frames; a blank one refuses the package.
REQUIRED: dict[str, tuple[str, ...]] = {
    "users": ("role",),  # 1.1 only; 1.2 has no users.role
    "roles": ("userSourcedId", "role"),
    "classes": ("classType",),
    "enrollments": ("classSourcedId", "userSourcedId", "role"),
}

STR = pandas_dtype("str")  # the dtype of every raw value column, as the EDEXML source has it
LINE = "_line"  # the line each record starts on, kept beside the columns while reading

METADATA_PREFIX = "metadata."
DATE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})$"
ECKID = r"^https://(?:ketenid\.nl|id\.school)/\S+$"
ZERO_PADDED_GROEP = r"^0([1-8])$"
SEX = {"male": "1", "female": "2", "other": "9", "unspecified": "9"}
HOMEROOM = "homeroom"
SCHEDULED = "scheduled"
STUDENT = "student"
TEACHER = "teacher"
COMBINATION = "C"
# The Dutch school year runs from 1 August to 31 July (WPO).
SCHOOL_YEAR_FIRST_MONTH = 8

QUOTE = ord('"')
COMMA = ord(",")
LF = ord("\n")
CR = ord("\r")

REEXPORT = N_("exporteer het OneRoster-pakket opnieuw uit de leerlingadministratie")


def reexport_fix() -> str:
    """The usual fix, in the current language."""
    return _(REEXPORT)


# The limits named in the rules' texts.
LIMITS = {
    "file_mib": MAX_FILE_BYTES >> 20,
    "package_mib": MAX_PACKAGE_BYTES >> 20,
    "ratio": MAX_RATIO,
    "entries": MAX_ENTRIES,
}

# Rule ids in messages, with what the rule says; tests and people can grep for the id.
RULES = {
    "package": N_("een OneRoster-CSV-pakket is een zip of map met manifest.csv in de hoofdmap"),
    "manifest_header": N_("manifest.csv begint met de kopregel propertyName,value"),
    "manifest_property": N_("elke eigenschap staat één keer in het manifest"),
    "manifest_version": N_("manifest.version is 1.0 en oneroster.version is 1.1 of 1.2"),
    "file_mode": N_("elke file.<naam> in manifest.csv is absent, bulk of delta"),
    "file_listed": N_(
        "elk bestand dat manifest.csv bulk of delta noemt, staat in het pakket, precies zo "
        "genoemd (hoofdletters tellen)"
    ),
    "file_needed": N_("Sluis heeft orgs, academicSessions en users nodig, en in 1.2 ook roles"),
    "file_size": N_("een bestand in het pakket is hoogstens {file_mib} MiB"),
    "package_size": N_("de bestanden van het pakket zijn samen hoogstens {package_mib} MiB"),
    "file_ratio": N_("een bestand pakt uit tot hoogstens {ratio} keer zijn ingepakte grootte"),
    "file_once": N_(
        "elk bestand staat één keer in het pakket (namen vergeleken zonder op hoofdletters te "
        "letten)"
    ),
    "entries": N_("een zippakket bevat hoogstens {entries} items"),
    "encoding": N_("OneRoster-CSV-bestanden zijn UTF-8"),
    "quoting": N_(
        "een waarde tussen aanhalingstekens eindigt met een dubbel aanhalingsteken; "
        "aanhalingstekens erin worden verdubbeld"
    ),
    "header": N_(
        "de kopregel heeft de kolommen van de specificatie, in dezelfde volgorde en schrijfwijze"
    ),
    "metadata_column": N_(
        "extra kolommen komen na de kolommen van de specificatie en heten metadata.*"
    ),
    "row_width": N_("elke regel heeft evenveel waarden als de kopregel"),
    "bulk_lifecycle": N_("bulkregels laten status en dateLastModified leeg"),
    "delta_status": N_("deltaregels hebben status active of tobedeleted"),
    "delta_date": N_("deltaregels hebben dateLastModified als YYYY-MM-DDTHH:MM:SS.sssZ"),
    "required": N_("deze waarde mag niet leeg zijn"),
    "unique": N_("een sourcedId staat één keer in een bestand"),
    "class_type": N_("classType is homeroom of scheduled"),
    "school": N_("het pakket bevat precies één school: één org van type school"),
    "school_year": N_("de academicSessions bevatten één schooljaar"),
}


def rule_error(where: str, problem: str, rule: str, fix: str) -> SourceFormatError:
    """One line: where, what is wrong, the rule (id and text) and the fix; never a value."""
    return SourceFormatError(
        _("{where}: {problem} (controle {rule}: {value}); {fix}").format(
            where=where,
            problem=problem,
            rule=rule,
            value=_(RULES[rule]).format(**LIMITS),
            fix=fix,
        )
    )
