"""Read a OneRoster 1.1 or 1.2 CSV package (a zip or a folder) into raw string frames.

A package is `manifest.csv` plus one CSV file per kind of record, at the root of the zip
or folder. The manifest says per file whether it is `bulk` (the whole picture, `status`
and `dateLastModified` blank), `delta` (only what changed: both filled in, `status` is
`active` or `tobedeleted`) or `absent`. The reader checks the package's structure
strictly and its values not at all: typing and checking values is the contracts' job, so
that one bad value quarantines one pupil instead of refusing the school.

What is refused, with one line naming the file inside the package, the line, the rule and
the fix (never a value from a row; structural rules of every file are checked before any
row rule): no manifest.csv; a file in the package twice (also in another case); a
file, or all files together, unpacking beyond a size or ratio limit (counted while
unpacking); a manifest value that is not
absent/bulk/delta; a file the manifest lists but the package lacks (names are
case-sensitive); a header not in the spec's order and case, or an extra column not named
`metadata.*` after the spec's columns; a line with more or fewer values than its header;
not UTF-8; a quote left open; a bulk row with `status` or `dateLastModified`; a delta row
without them, with another status, or with a date-time not like 2026-09-01T08:00:00.000Z;
a blank or repeated `sourcedId`, a blank role or classType, or a classType other than
homeroom/scheduled; no school org or more than one; no school year or more than one.
Lenient, as the spec allows or as nothing is lost: a UTF-8 byte order mark, `metadata.*`
columns (never read), CRLF or LF line ends, blank lines, missing `file.*` manifest keys
(absent), the case of enumerated values (`Scheduled`).

Mapping to the canonical columns (ARCHITECTURE.md names them after EDEXML):

=================== =======================================================================
canonical           OneRoster
=================== =======================================================================
brincode            the org of type school: its `identifier` (a BRIN; upper case, without
                    surrounding space). With no org of type school (1.1 producers are
                    known to type it `department`), the single org that classes and
                    enrollments name as their school; noted. schoolkey is the org's
                    sourcedId, never a stand-in for the BRIN.
schooljaar          academicSessions, those of type schoolYear if any: the Dutch school
                    year (1 August to 31 July) that holds the middle of startDate..endDate;
                    when the dates are missing, schoolYear read as the year the school
                    year ends (2027 -> 2026-2027). Producers disagree on which year
                    schoolYear names (the Moodle 1.2 sample writes the starting year), so
                    the dates win, and a disagreement is noted. peildatum stays empty: the
                    contracts then use 1 October of the school year.
pupils              users with role student: 1.1 users.role; 1.2 roles.csv rows with role
                    student (any roleType).
leerlingkey         users.identifier (the school's own pupil number, which the consent
                    export uses), else the sourcedId; pupils keyed by sourcedId are counted
                    in the notes.
eckid               1.2 userMasterIdentifier when it is an ECK iD URL (https://ketenid.nl/
                    or the older https://id.school/), else empty and counted in the notes:
                    another identifier must never travel as an ECK iD. 1.1 has none.
achternaam          familyName. OneRoster has no tussenvoegsel: voorvoegsel stays empty
                    and "van der Linden" arrives as one familyName if the producer wrote
                    it so.
roepnaam            1.2 preferredGivenName, else givenName.
voornamen           empty: middleName is an English-style second given name that cannot be
voorletters         told apart from a tussenvoegsel; it is not read, and counted in notes.
gebruikersnaam      username.
emailadres          email.
geboortedatum       demographics.birthDate (joined on the user's sourcedId).
geslacht            demographics.sex: male 1, female 2, other and unspecified 9 (NEN-ISO
                    5218 "niet gespecificeerd"), blank empty; anything else as written.
jaargroep           users.grades read as the Dutch jaargroep code: "01".."08" and "1".."8"
                    are groep 1..8; anything else stays as written, so that US codes such
                    as KG, PK or 09 are quarantined by the contract rather than guessed (a
                    producer writing US grades would have every number off by two, so
                    mapping KG alone would only hide that). Beware that US grades 11 and 12
                    are also EDEXML codes (speciaal onderwijs). Several values stay as
                    written too: a pupil has one jaargroep.
groepskey           the sourcedId of the pupil's homeroom class (via enrollments with role
                    student); with several, those marked primary; still several: all,
                    joined by ";", which the contract quarantines (counted in notes).
samengestelde_      the sourcedIds of the pupil's scheduled classes, joined by ";".
groepen
instroomdatum       1.2 the student role's beginDate and endDate (the primary one if the
uitstroomdatum      pupil has several), so that pupils who left are recognised; 1.1 has
                    no such dates.
mutatiedatum        dateLastModified (delta only; bulk leaves it blank).
groups              classes: homeroom -> soort "groep", jaargroep from classes.grades
                    (one value mapped as for pupils, several "C", none empty);
                    scheduled -> "samengestelde_groep" without jaargroep. groepskey is the
                    sourcedId, groepsnaam the title.
teachers            users with role teacher (1.1 users.role, 1.2 roles.csv); leerkrachtkey,
                    eckid, achternaam, roepnaam and emailadres as for pupils; groepen the
                    classes of their enrollments with role teacher. OneRoster has no Dutch
                    role code: rollen stays empty.
=================== =======================================================================

Never read, so never in memory as a column: passwords, phone and sms numbers, userIds,
agents, pronouns, and every demographics column but birthDate and sex (the US race and
ethnicity flags, country, state and city of birth). The deny-list would drop them anyway.

Provenance: every row's source_file is the package path (the zip or the folder), like the
EDEXML source's file path, because contracts/validation.py pairs pupils with their groups
and the school's peildatum by source_file, per export. source_line is the line in
users.csv for pupils and teachers and the line in classes.csv for groups; the line where
the record starts, also when a quoted value spans lines.

Delta packages hold only what changed. Records marked tobedeleted are left out (users,
student and teacher roles, classes, enrollments, demographics, orgs, sessions); pupils,
student roles, classes and enrollments left out are counted in the notes. Pupils the delta
does not mention are not in the export at all, and a note says so: a delta package is not
a picture of the whole school.

The CSV is read with pandas in one call per file; the line of every record is found with
numpy in the raw bytes (double quotes counted, so a line break inside a quoted value does
not start a record), and per-pupil lists are joined by pyarrow, so no Python loop runs per
row.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import io
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import pandas_dtype

from connectors.errors import ConfigurationError, SourceFormatError, shorten
from connectors.i18n import N_, _, at_line, ngettext
from connectors.identifiers import canonical_brin
from connectors.oneroster_spec import (
    ACTIVE,
    MANIFEST_FILES,
    TO_BE_DELETED,
)
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
from connectors.sources.base import (
    GROUP_COLUMNS,
    GROUP_KEY_SEPARATOR,
    PUPIL_COLUMNS,
    SCHOOL_FIELDS,
    SOURCE_FILE,
    SOURCE_LINE,
    TEACHER_COLUMNS,
    SchoolExport,
    sha256_of_file,
)

__all__ = ["MANIFEST_FILES", "ONEROSTER_SOURCE", "SPEC_HEADERS", "VERSIONS", "OneRosterSource"]

FORMAT = "oneroster"
MANIFEST = "manifest.csv"
VERSIONS = ("1.1", "1.2")

BULK = "bulk"
DELTA = "delta"
ABSENT = "absent"
_MODES = (ABSENT, BULK, DELTA)

# One school's package is a few MB (a board of 20,000 pupils about 6 MB); reading takes
# some eight times a file's size in memory, so these bound what a zip bomb or a wrong file
# can cost to well under 1 GB. Sizes are counted while unpacking, never taken from the
# zip's own header, which can say anything.
MAX_FILE_BYTES = 32 << 20
MAX_PACKAGE_BYTES = 64 << 20
# Deflated CSV shrinks some 5 to 20 times; a zip bomb a thousand times and more. The ratio
# is checked once a file has unpacked past _RATIO_FROM_BYTES (a small file may shrink to
# almost nothing).
MAX_RATIO = 100
_RATIO_FROM_BYTES = 1 << 20
_UNPACK_CHUNK_BYTES = 1 << 20
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
_NEEDED = {
    "1.1": ("orgs", "academicSessions", "users"),
    "1.2": ("orgs", "academicSessions", "users", "roles"),
}

# The columns that are read into memory at all; everything else is skipped by the parser.
_KEEP: dict[str, tuple[str, ...]] = {
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
_REQUIRED: dict[str, tuple[str, ...]] = {
    "users": ("role",),  # 1.1 only; 1.2 has no users.role
    "roles": ("userSourcedId", "role"),
    "classes": ("classType",),
    "enrollments": ("classSourcedId", "userSourcedId", "role"),
}

_STR = pandas_dtype("str")  # the dtype of every raw value column, as the EDEXML source has it
_LINE = "_line"  # the line each record starts on, kept beside the columns while reading

_METADATA_PREFIX = "metadata."
_DATE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})$"
_ECKID = r"^https://(?:ketenid\.nl|id\.school)/\S+$"
_ZERO_PADDED_GROEP = r"^0([1-8])$"
_SEX = {"male": "1", "female": "2", "other": "9", "unspecified": "9"}
_HOMEROOM = "homeroom"
_SCHEDULED = "scheduled"
_STUDENT = "student"
_TEACHER = "teacher"
_COMBINATION = "C"
# The Dutch school year runs from 1 August to 31 July (WPO).
_SCHOOL_YEAR_FIRST_MONTH = 8

_QUOTE = ord('"')
_COMMA = ord(",")
_LF = ord("\n")
_CR = ord("\r")

_REEXPORT = N_("exporteer het OneRoster-pakket opnieuw uit de leerlingadministratie")


def _reexport() -> str:
    """The usual fix, in the current language."""
    return _(_REEXPORT)


# The limits named in the rules' texts.
_LIMITS = {
    "file_mib": MAX_FILE_BYTES >> 20,
    "package_mib": MAX_PACKAGE_BYTES >> 20,
    "ratio": MAX_RATIO,
    "entries": MAX_ENTRIES,
}

# Rule ids in messages, with what the rule says; tests and people can grep for the id.
_RULES = {
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


def _error(where: str, problem: str, rule: str, fix: str) -> SourceFormatError:
    """One line: where, what is wrong, the rule (id and text) and the fix; never a value."""
    return SourceFormatError(
        _("{where}: {problem} (controle {rule}: {value}); {fix}").format(
            where=where,
            problem=problem,
            rule=rule,
            value=_(_RULES[rule]).format(**_LIMITS),
            fix=fix,
        )
    )


class OneRosterSource:
    """Source for OneRoster 1.1 and 1.2 CSV packages; `extract` is the whole interface."""

    format = FORMAT

    def extract(self, path: Path) -> SchoolExport:
        """Read one OneRoster CSV package into raw frames with provenance.

        Args:
            path: the package: a zip file, or a folder holding manifest.csv.

        Returns:
            The school header, pupils, groups and teachers as raw string frames; notes
            count what was left out and why.

        Raises:
            ConfigurationError: the path does not exist or cannot be read.
            SourceFormatError: the package breaks a structural rule of the OneRoster CSV
                binding, or names no single school or school year.
        """
        path = Path(path)
        if not path.exists():
            raise ConfigurationError(
                _("{path}: het OneRoster-pakket bestaat niet; controleer het bronpad").format(
                    path=path,
                )
            )
        try:
            with _Package.open(path) as package:
                reader = _Reader(package)
                return reader.read()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigurationError(
                _(
                    "{path}: het OneRoster-pakket kan niet gelezen worden ({reason}); "
                    "controleer het pad en de rechten"
                ).format(
                    path=path,
                    reason=reason,
                )
            ) from None


ONEROSTER_SOURCE = OneRosterSource()


# -- the package: a folder or a zip -------------------------------------------------------


class _Package:
    """The files at the root of a zip or folder, read whole, each at most MAX_FILE_BYTES."""

    def __init__(self, path: Path, archive: zipfile.ZipFile | None) -> None:
        self.path = path
        self.archive = archive
        self.unpacked = 0  # bytes read so far, against MAX_PACKAGE_BYTES
        if archive is None:
            root = [p.name for p in path.iterdir() if p.is_file()]
            nested: list[str] = []
        else:
            entries = archive.infolist()
            if len(entries) > MAX_ENTRIES:
                raise _error(str(path), _("de zip bevat te veel items"), "entries", _reexport())
            files = [info.filename for info in entries if not info.is_dir()]
            root = [name for name in files if "/" not in name]
            nested = sorted(name for name in files if name.endswith("/" + MANIFEST))
        self._refuse_twice(root)
        self.names = frozenset(root)
        if MANIFEST not in self.names:
            fix = _("{reexport}, met zijn manifest.csv").format(reexport=_reexport())
            if nested:
                fix = _(
                    "manifest.csv staat in {nested}: zip de bestanden zelf, niet de map "
                    "waar ze in staan"
                ).format(nested=nested[0])
            elif any(name.lower() == MANIFEST for name in self.names):
                fix = _("noem het bestand manifest.csv, in kleine letters")
            raise _error(str(path), _("manifest.csv ontbreekt"), "package", fix)

    @classmethod
    def open(cls, path: Path) -> _Package:
        """Open a folder or a zip; anything else is not a OneRoster package."""
        if path.is_dir():
            return cls(path, None)
        if not zipfile.is_zipfile(path):
            raise _error(
                str(path),
                _("geen zipbestand en geen map"),
                "package",
                _(
                    "geef de zip die de leerlingadministratie maakte, of de map met zijn "
                    "CSV-bestanden"
                ),
            )
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise _error(str(path), _("de zip is beschadigd"), "package", _reexport()) from None
        try:
            return cls(path, archive)
        except BaseException:
            archive.close()
            raise

    def _refuse_twice(self, names: list[str]) -> None:
        """Refuse a file that is in the package twice, also in another case.

        A zip can hold two entries of one name (zipfile then reads the last), and a
        folder can hold users.csv beside Users.csv: either way pupils would vanish
        without a word, or differ between a zip and its unpacked folder.
        """
        seen: dict[str, str] = {}
        for name in names:
            first = seen.setdefault(name.casefold(), name)
            if first is name:
                continue
            problem = (
                _("het pakket bevat dit bestand twee keer")
                if first == name
                else _("het pakket bevat dit bestand twee keer (ook als {first})").format(
                    first=shorten(first)
                )
            )
            raise _error(
                self.label(name),
                problem,
                "file_once",
                _("{reexport}; een pakket bevat elk bestand één keer").format(reexport=_reexport()),
            )

    def __enter__(self) -> _Package:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.archive is not None:
            self.archive.close()

    def label(self, name: str) -> str:
        """How messages name a file in the package: folder/users.csv or package.zip!users.csv."""
        name = shorten(name)
        return str(self.path / name) if self.archive is None else f"{self.path}!{name}"

    def read(self, name: str) -> bytes:
        """The bytes of one file at the package root, counted against the package's limit."""
        data = self._read(name)
        self.unpacked += len(data)
        if self.unpacked > MAX_PACKAGE_BYTES:
            raise _error(
                self.label(name),
                _("de bestanden van het pakket pakken samen uit tot meer dan {mib} MiB").format(
                    mib=MAX_PACKAGE_BYTES >> 20
                ),
                "package_size",
                _reexport(),
            )
        return data

    def _read(self, name: str) -> bytes:
        if self.archive is None:
            with (self.path / name).open("rb") as handle:
                # Read one byte past the limit instead of trusting a size taken earlier.
                data = handle.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                raise _error(
                    self.label(name), _("het bestand is te groot"), "file_size", _reexport()
                )
            return data
        info = self.archive.getinfo(name)
        if info.file_size > MAX_FILE_BYTES:
            raise _error(self.label(name), _("het bestand is te groot"), "file_size", _reexport())
        if info.flag_bits & 0x1:
            raise _error(
                self.label(name),
                _("het bestand is versleuteld"),
                "package",
                _("zip het pakket zonder wachtwoord"),
            )
        try:
            with self.archive.open(info) as handle:
                return self._unpack(name, handle, info.compress_size)
        except (zipfile.BadZipFile, NotImplementedError, EOFError, zlib.error):
            raise _error(
                self.label(name), _("het bestand kan niet uitgepakt worden"), "package", _reexport()
            ) from None

    def _unpack(self, name: str, handle: IO[bytes], packed: int) -> bytes:
        """Unpack in chunks, counting what comes out: the header's sizes can lie."""
        chunks: list[bytes] = []
        size = 0
        while chunk := handle.read(_UNPACK_CHUNK_BYTES):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise _error(
                    self.label(name),
                    _("het bestand is te groot: het pakt uit tot meer dan {mib} MiB").format(
                        mib=MAX_FILE_BYTES >> 20
                    ),
                    "file_size",
                    _reexport(),
                )
            if size > _RATIO_FROM_BYTES and size > MAX_RATIO * max(packed, 1):
                raise _error(
                    self.label(name),
                    _(
                        "het bestand pakt uit tot meer dan {ratio} keer zijn ingepakte grootte, "
                        "zoals een zipbom doet"
                    ).format(ratio=MAX_RATIO),
                    "file_ratio",
                    _reexport(),
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def digest(self, names: Iterable[str]) -> str:
        """SHA-256 for lineage: of the zip file, or of a folder's files by name and content."""
        if self.archive is not None:
            return sha256_of_file(self.path)
        digest = hashlib.sha256()
        for name in sorted(set(names)):
            digest.update(name.encode() + b"\t" + hashlib.sha256(self._read(name)).digest())
        return digest.hexdigest()


# -- one CSV file: records and lines --------------------------------------------------------


@dataclass(frozen=True)
class _Records:
    """Where each CSV record sits in the bytes: numpy arrays, one entry per record."""

    starts: npt.NDArray[np.int64]  # byte offset of the record
    stops: npt.NDArray[np.int64]  # byte offset of its line break (or the end of the data)
    lines: npt.NDArray[np.int64]  # 1-based line the record starts on
    widths: npt.NDArray[np.int64]  # number of values (commas outside quotes + 1)
    blank: npt.NDArray[np.bool_]  # an empty line


def _scan(body: bytes, label: str) -> _Records:
    """Split bytes into CSV records the way pandas' C parser does, without a Python loop.

    A byte is inside a quoted value when an odd number of double quotes precede it (RFC
    4180 doubles quotes inside a value, which keeps the count even). A line break outside
    quotes ends a record: LF, CRLF or a lone CR, all three of which pandas accepts. Counts
    are taken only at line breaks and commas (binary search in the quote positions), so
    memory stays a few bytes per byte of the file, not eight.
    """
    data = np.frombuffer(body, dtype=np.uint8)
    size = data.size
    quotes = np.flatnonzero(data == _QUOTE)
    lf = data == _LF
    lone_cr = (data == _CR) & ~np.append(lf[1:], False)
    breaks = np.flatnonzero(lf | lone_cr)
    if len(quotes) % 2:
        opened = int(quotes[-1])  # quotes pair up in order: the last one is never closed
        line = int(np.searchsorted(breaks, opened)) + 1
        raise _error(
            at_line(label, line),
            _("een waarde tussen aanhalingstekens wordt nooit afgesloten"),
            "quoting",
            _(
                "sluit het aanhalingsteken, of verdubbel een aanhalingsteken dat bij de "
                "waarde hoort"
            ),
        )
    ends = breaks[np.searchsorted(quotes, breaks) % 2 == 0].astype(np.int64)
    commas = np.flatnonzero(data == _COMMA)
    commas = commas[np.searchsorted(quotes, commas) % 2 == 0]
    starts = np.concatenate(([0], ends + 1)).astype(np.int64)
    stops = np.append(ends, size).astype(np.int64)
    if starts[-1] >= size:  # the data ends with a line break: no record after it
        starts, stops = starts[:-1], stops[:-1]
    length = stops - starts
    first = data[np.minimum(starts, max(size - 1, 0))] if size else np.zeros(0, np.uint8)
    return _Records(
        starts=starts,
        stops=stops,
        lines=(np.searchsorted(breaks, starts) + 1).astype(np.int64),
        widths=(np.searchsorted(commas, stops) - np.searchsorted(commas, starts) + 1).astype(
            np.int64
        ),
        blank=(length == 0) | ((length == 1) & (first == _CR)),
    )


@dataclass
class _File:
    """One CSV file of the package after the structural pass: header checked, not parsed."""

    name: str  # e.g. "users" (the manifest's file.<name>)
    label: str
    mode: str
    body: bytes  # without a byte order mark
    records: _Records
    header: list[str]


@dataclass(frozen=True)
class _Table:
    """One CSV file parsed: the kept columns as strings ("" when blank), plus _LINE."""

    name: str
    label: str
    mode: str
    frame: pd.DataFrame

    def active(self) -> pd.DataFrame:
        """Rows not marked tobedeleted (in bulk: all rows)."""
        return self.frame.loc[self.frame["status"] != TO_BE_DELETED]

    def deleted(self) -> pd.DataFrame:
        """Rows marked tobedeleted (delta only)."""
        return self.frame.loc[self.frame["status"] == TO_BE_DELETED]

    def first(self, bad: pd.Series, problem: str, rule: str, fix: str) -> None:
        """Raise for the first row where `bad` holds, saying how many more there are."""
        if not bool(bad.any()):
            return
        lines = self.frame.loc[bad, _LINE]
        more = len(lines) - 1
        if more:
            problem += " " + ngettext(
                "(en op {more} andere regel)", "(en op {more} andere regels)", more
            ).format(more=more)
        raise _error(at_line(self.label, int(lines.iloc[0])), problem, rule, fix)


def _decode(body: bytes, label: str) -> None:
    """Refuse anything that is not UTF-8, naming the line of the first bad byte."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        raise _error(
            at_line(label, line),
            _("het bestand is geen UTF-8"),
            "encoding",
            _("sla het bestand op als UTF-8 (in Excel: CSV UTF-8)"),
        ) from None


def _header(body: bytes, records: _Records) -> list[str]:
    text = body[int(records.starts[0]) : int(records.stops[0])].decode("utf-8")
    return next(csv.reader([text.rstrip("\r")]), [])


def _check_header(file: _File, expected: tuple[str, ...], version: str) -> None:
    """Spec order and case; extra columns only at the end, as metadata.*, each once."""
    actual = file.header
    where = at_line(file.label, 1)
    for position, name in enumerate(expected, start=1):
        found = actual[position - 1] if position <= len(actual) else None
        if found == name:
            continue
        if found is None:
            problem = _("kolom {position} ({name}) ontbreekt").format(position=position, name=name)
        elif found.startswith(_METADATA_PREFIX):
            raise _error(
                where,
                _("kolom {position} is {found} waar OneRoster {version} {name} heeft").format(
                    position=position, found=repr(found), version=version, name=repr(name)
                ),
                "metadata_column",
                _("zet de metadata-kolommen na de kolommen van de specificatie"),
            )
        else:
            problem = _("kolom {position} is {found} waar OneRoster {version} {name} heeft").format(
                position=position, found=_describe(found, name), version=version, name=repr(name)
            )
        other = _other_version(file.name, version)
        if other is not None and tuple(actual[: len(other)]) == other:
            fix = _(
                "dit is een kopregel van OneRoster {other}: zet oneroster.version in "
                "manifest.csv op die versie, of exporteer opnieuw"
            ).format(other=_OTHER[version])
        else:
            fix = _("{reexport}, of verbeter de kopregel").format(reexport=_reexport())
        raise _error(where, problem, "header", fix)
    extra = actual[len(expected) :]
    seen: set[str] = set()
    for position, name in enumerate(extra, start=len(expected) + 1):
        if not name.startswith(_METADATA_PREFIX) or len(name) == len(_METADATA_PREFIX):
            raise _error(
                where,
                _("kolom {position} is {found} na de kolommen van de specificatie").format(
                    position=position, found=_describe(name, None)
                ),
                "metadata_column",
                _("noem extra kolommen metadata.<iets>, of laat ze weg"),
            )
        if name in seen:
            raise _error(
                where,
                _("kolom {position} ({name}) staat er twee keer").format(
                    position=position, name=repr(name)
                ),
                "metadata_column",
                _("geef elke metadata-kolom een eigen naam"),
            )
        seen.add(name)


_OTHER = {"1.1": "1.2", "1.2": "1.1"}
_SPEC_NAMES = frozenset(
    name.lower()
    for version in SPEC_HEADERS.values()
    for header in version.values()
    for name in header
)


def _other_version(name: str, version: str) -> tuple[str, ...] | None:
    header = SPEC_HEADERS[_OTHER[version]].get(name)
    return header if header != SPEC_HEADERS[version].get(name) else None


def _describe(found: str, expected: str | None) -> str:
    """Quote a header cell only when it is clearly a column name, never possibly a value.

    Without a header line, the first row of pupils sits where the header belongs; its
    cells must not reach a message. A cell is quoted when it is a OneRoster column name
    (in any case) or a near miss of the expected one (a typo such as prefferedGivenName).
    """
    if not found:
        return _("naamloos")
    close = expected is not None and difflib.SequenceMatcher(None, found, expected).ratio() >= 0.8
    if found.lower() in _SPEC_NAMES or found.startswith(_METADATA_PREFIX) or close:
        return repr(found)
    return _("geen OneRoster-kolomnaam")


def _check_width(file: _File) -> None:
    """Every line as many values as the header: a shifted value lands in the wrong column."""
    records = file.records
    width = len(file.header)
    data_lines = records.lines[1:]
    wrong = (records.widths[1:] != width) & ~records.blank[1:]
    if wrong.any():
        index = int(np.flatnonzero(wrong)[0])
        more = int(wrong.sum()) - 1
        problem = _("de regel heeft {found} waarden waar de kopregel er {width} heeft").format(
            found=int(records.widths[1:][index]), width=width
        )
        if more:
            problem += " " + ngettext(
                "(en op {more} andere regel)", "(en op {more} andere regels)", more
            ).format(more=more)
        raise _error(
            at_line(file.label, int(data_lines[index])),
            problem,
            "row_width",
            _(
                "zoek een ontbrekende of extra komma, of een waarde met een komma die niet tussen "
                "aanhalingstekens staat"
            ),
        )


def _parse(file: _File, keep: tuple[str, ...]) -> _Table:
    """Parse the rows of a structurally checked file: one pandas call, lines from numpy."""
    _check_width(file)
    records = file.records
    data_lines = records.lines[1:]
    data_blank = records.blank[1:]
    start = int(records.starts[1]) if len(records.starts) > 1 else len(file.body)
    wanted = [name for name in keep if name in file.header]
    frame = pd.read_csv(
        io.BytesIO(file.body[start:]),
        header=None,
        names=file.header,
        usecols=wanted,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=False,
        index_col=False,
        encoding="utf-8",
        engine="c",
    )
    if len(frame) != len(data_lines):
        # Only a quote in the middle of an unquoted value makes pandas and the scan differ.
        raise _error(
            file.label,
            _("de regels zijn niet van elkaar te onderscheiden"),
            "quoting",
            _(
                "zet elke waarde met een dubbel aanhalingsteken tussen aanhalingstekens, en "
                "verdubbel het aanhalingsteken erin"
            ),
        )
    frame[_LINE] = data_lines
    values = frame[wanted]
    empty = data_blank | (values == "").all(axis=1).to_numpy()
    frame = frame.loc[~empty].reset_index(drop=True)
    for name in keep:
        if name not in frame:
            frame[name] = ""  # a column the other version does not have
    return _Table(name=file.name, label=file.label, mode=file.mode, frame=frame)


# -- the whole package ----------------------------------------------------------------------


class _Reader:
    """One read of one package: manifest, structure, rows, then the frames."""

    def __init__(self, package: _Package) -> None:
        self.package = package
        self.notes: list[str] = []

    def read(self) -> SchoolExport:
        version, modes, mode_lines = self._manifest()
        self._check_listed(version, modes, mode_lines)
        files = self._structure(version, modes)
        tables = {name: self._rows(file, version) for name, file in files.items()}
        school, school_line = self._school(tables)
        pupils, teachers, groups = self._people(tables, version)
        digest = self.package.digest(
            [MANIFEST, *(f"{name}.csv" for name, mode in modes.items() if mode != ABSENT)]
        )
        delta = sorted(name for name, table in tables.items() if table.mode == DELTA)
        kind = "delta" if delta else "bulk"
        summary = _(
            "{name}: {pupils} leerlingen, {groups} groepen, {teachers} leerkrachten gelezen "
            "(OneRoster {version} {kind}, schooljaar {schooljaar})"
        ).format(
            name=self.package.path.name,
            pupils=len(pupils),
            groups=len(groups),
            teachers=len(teachers),
            version=version,
            kind=kind,
            schooljaar=school["schooljaar"],
        )
        notes = [summary]
        if delta:
            notes.append(
                _(
                    "deltapakket ({value}): het bevat alleen de gewijzigde records; "
                    "leerlingen die het niet noemt staan niet in deze export"
                ).format(
                    value=", ".join(delta),
                )
            )
        return SchoolExport(
            path=self.package.path,
            sha256=digest,
            format=FORMAT,
            school=school,
            school_line=school_line,
            pupils=pupils,
            groups=groups,
            teachers=teachers,
            encoding="utf-8",
            notes=(*notes, *self.notes),
        )

    # -- manifest -----------------------------------------------------------------------

    def _manifest(self) -> tuple[str, dict[str, str], dict[str, int]]:
        label = self.package.label(MANIFEST)
        body = _strip_bom(self.package.read(MANIFEST))
        _decode(body, label)
        records = _scan(body, label)
        if not len(records.starts) or records.blank[0]:
            raise _error(
                at_line(label, 1),
                _("de kopregel ontbreekt"),
                "manifest_header",
                _("begin manifest.csv met de regel propertyName,value"),
            )
        header = _header(body, records)
        if header != ["propertyName", "value"]:
            raise _error(
                at_line(label, 1),
                _("de kopregel is niet propertyName,value"),
                "manifest_header",
                _("begin manifest.csv met de regel propertyName,value"),
            )
        file = _File("manifest", label, BULK, body, records, header)
        frame = _parse(file, ("propertyName", "value")).frame
        names = frame["propertyName"].str.strip()
        values = frame["value"].str.strip()
        twice = names.duplicated()
        if twice.any():
            first = int(np.flatnonzero(twice.to_numpy())[0])
            raise _error(
                at_line(label, int(frame[_LINE].iloc[first])),
                _("{prop} staat er een tweede keer").format(prop=_property(names.iloc[first])),
                "manifest_property",
                _("houd één regel per eigenschap"),
            )
        lines = dict(zip(names, frame[_LINE].astype(int), strict=True))
        props = dict(zip(names, values, strict=True))
        version = props.get("oneroster.version")
        if version not in VERSIONS:
            where = (
                at_line(label, lines["oneroster.version"])
                if "oneroster.version" in lines
                else label
            )
            problem = (
                _("oneroster.version ontbreekt")
                if version is None
                else _("oneroster.version is niet 1.1 of 1.2")
            )
            raise _error(
                where,
                problem,
                "manifest_version",
                _("{reexport} als OneRoster 1.1 of 1.2").format(reexport=_reexport()),
            )
        if props.get("manifest.version") != "1.0":
            where = (
                at_line(label, lines["manifest.version"]) if "manifest.version" in lines else label
            )
            raise _error(
                where,
                _("manifest.version ontbreekt of is niet 1.0"),
                "manifest_version",
                _("zet manifest.version op 1.0"),
            )
        modes: dict[str, str] = {}
        mode_lines: dict[str, int] = {}
        known = MANIFEST_FILES[version]
        for prop in sorted((p for p in props if p.startswith("file.")), key=lines.__getitem__):
            name = prop.removeprefix("file.")
            if name not in known:
                continue  # another version's file, or a vendor's: not read
            mode = props[prop]
            if mode not in _MODES:
                problem = (
                    _("{prop} heeft geen waarde").format(prop=prop)
                    if not mode
                    else _("{prop} is niet absent, bulk of delta").format(prop=prop)
                )
                raise _error(
                    at_line(label, lines[prop]),
                    problem,
                    "file_mode",
                    _("zet {prop} op absent, bulk of delta").format(prop=prop),
                )
            modes[name] = mode
            mode_lines[name] = lines[prop]
        for name in known:
            modes.setdefault(name, ABSENT)  # a missing key lists no file
        return version, modes, mode_lines

    def _check_listed(self, version: str, modes: dict[str, str], lines: dict[str, int]) -> None:
        label = self.package.label(MANIFEST)
        names = self.package.names
        for name in sorted((n for n in modes if modes[n] != ABSENT), key=lines.__getitem__):
            wanted = f"{name}.csv"
            if wanted in names:
                continue
            alike = sorted(n for n in names if n.lower() == wanted.lower())
            fix = (
                _("hernoem {alike} naar {wanted}").format(alike=alike[0], wanted=wanted)
                if alike
                else _("voeg {wanted} toe, of zet file.{name} op absent").format(
                    wanted=wanted, name=name
                )
            )
            raise _error(
                at_line(label, lines[name]),
                _("file.{name} is {mode}, maar {wanted} staat niet in het pakket").format(
                    name=name, mode=modes[name], wanted=wanted
                ),
                "file_listed",
                fix,
            )
        for name in _NEEDED[version]:
            if modes[name] == ABSENT:
                where = at_line(label, lines[name]) if name in lines else label
                raise _error(
                    where,
                    _("file.{name} is absent").format(name=name),
                    "file_needed",
                    _("{reexport}, met {name}.csv (bulk of delta)").format(
                        reexport=_reexport(), name=name
                    ),
                )

    # -- structure and rows -------------------------------------------------------------

    def _structure(self, version: str, modes: dict[str, str]) -> dict[str, _File]:
        """Encoding, quoting, header and line widths of every file Sluis reads, before any row."""
        files: dict[str, _File] = {}
        for name, expected in SPEC_HEADERS[version].items():
            if modes[name] == ABSENT:
                continue
            label = self.package.label(f"{name}.csv")
            body = _strip_bom(self.package.read(f"{name}.csv"))
            _decode(body, label)
            records = _scan(body, label)
            if not len(records.starts) or records.blank[0]:
                raise _error(
                    at_line(label, 1),
                    _("de kopregel ontbreekt"),
                    "header",
                    _("{reexport}; elk bestand begint met zijn kopregel").format(
                        reexport=_reexport()
                    ),
                )
            file = _File(name, label, modes[name], body, records, _header(body, records))
            _check_header(file, expected, version)
            _check_width(file)
            files[name] = file
        return files

    def _rows(self, file: _File, version: str) -> _Table:
        table = _parse(file, _KEEP[file.name])
        frame = table.frame
        status = frame["status"]
        modified = frame["dateLastModified"]
        if table.mode == BULK:
            fix = _(
                "maak status en dateLastModified leeg in {name}.csv, of zet file.{name} op "
                "delta in manifest.csv"
            ).format(name=file.name)
            table.first(
                status != "",
                _("status is ingevuld, maar manifest.csv noemt {name} bulk").format(name=file.name),
                "bulk_lifecycle",
                fix,
            )
            table.first(
                modified != "",
                _("dateLastModified is ingevuld, maar manifest.csv noemt {name} bulk").format(
                    name=file.name
                ),
                "bulk_lifecycle",
                fix,
            )
        else:
            fix = _(
                "{reexport}; elke deltaregel zegt of hij active of tobedeleted is, en sinds wanneer"
            ).format(reexport=_reexport())
            table.first(status == "", _("status is leeg in een deltabestand"), "delta_status", fix)
            table.first(
                ~status.isin([ACTIVE, TO_BE_DELETED]),
                _("status is niet active of tobedeleted"),
                "delta_status",
                fix,
            )
            table.first(
                modified == "", _("dateLastModified is leeg in een deltabestand"), "delta_date", fix
            )
            table.first(
                ~modified.str.match(_DATE_TIME),
                _("dateLastModified is geen tijdstip zoals 2026-09-01T08:00:00.000Z"),
                "delta_date",
                fix,
            )
        table.first(
            frame["sourcedId"].str.strip() == "",
            _("sourcedId is leeg"),
            "required",
            _("{reexport}; elk record heeft een sourcedId").format(reexport=_reexport()),
        )
        table.first(
            frame["sourcedId"].duplicated(),
            _("deze sourcedId staat ook op een eerdere regel"),
            "unique",
            _("{reexport}; houd één record per sourcedId").format(reexport=_reexport()),
        )
        required = _REQUIRED.get(file.name, ())
        if file.name == "users" and version != "1.1":
            required = ()
        for column in required:
            table.first(
                frame[column].str.strip() == "",
                _("{column} is leeg").format(column=column),
                "required",
                _("{reexport}; vul {column} op elke regel in").format(
                    reexport=_reexport(), column=column
                ),
            )
        if file.name == "classes":
            kind = frame["classType"].str.strip().str.lower()
            table.first(
                ~kind.isin([_HOMEROOM, _SCHEDULED]),
                _("classType is niet homeroom of scheduled"),
                "class_type",
                _("gebruik homeroom voor een stamgroep en scheduled voor elke andere groep"),
            )
        return table

    # -- school ---------------------------------------------------------------------------

    def _school(self, tables: dict[str, _Table]) -> tuple[dict[str, str | None], int]:
        orgs = tables["orgs"]
        active = orgs.active()
        schools = active.loc[active["type"].str.strip().str.lower() == "school"]
        if len(schools) > 1:
            lines = ", ".join(str(n) for n in schools[_LINE].head(3))
            raise _error(
                at_line(orgs.label, int(schools[_LINE].iloc[1])),
                _("{count} orgs van type school (regels {lines}{more})").format(
                    count=len(schools), lines=lines, more=", ..." if len(schools) > 3 else ""
                ),
                "school",
                _("exporteer één pakket per school"),
            )
        if len(schools) == 0:
            schools = self._school_by_reference(tables, active)
        org = schools.iloc[0]
        school: dict[str, str | None] = dict.fromkeys(SCHOOL_FIELDS)
        identifier = org["identifier"]
        school["brincode"] = canonical_brin(identifier if isinstance(identifier, str) else None)
        school["schoolkey"] = str(org["sourcedId"])
        school["schooljaar"] = self._school_year(tables["academicSessions"])
        return school, int(org[_LINE])

    def _school_by_reference(self, tables: dict[str, _Table], orgs: pd.DataFrame) -> pd.DataFrame:
        """No org of type school: the one org every class and enrollment calls its school."""
        named = [
            tables[name].active()["schoolSourcedId"]
            for name in ("classes", "enrollments")
            if name in tables
        ]
        keys = pd.concat(named).str.strip() if named else pd.Series([], dtype="str")
        keys = keys.loc[keys != ""].drop_duplicates()
        found = orgs.loc[_isin(orgs["sourcedId"], keys)]
        if len(keys) != 1 or len(found) != 1:
            raise _error(
                tables["orgs"].label,
                _("geen org heeft type school"),
                "school",
                _("geef de org van de school het type school"),
            )
        self.notes.append(
            _(
                "orgs.csv: geen org heeft type school; de org op regel {value} "
                "wordt als de school gelezen, omdat classes en enrollments haar "
                "als hun school noemen"
            ).format(
                value=int(found[_LINE].iloc[0]),
            )
        )
        return found

    def _school_year(self, sessions: _Table) -> str:
        active = sessions.active()
        year_type = active["type"].str.strip().str.lower() == "schoolyear"
        rows = active.loc[year_type] if year_type.any() else active
        by_dates = _school_year_by_dates(rows["startDate"], rows["endDate"])
        by_column = _school_year_by_column(rows["schoolYear"])
        year = by_dates.fillna(by_column)
        missing = year.isna()
        if len(rows) == 0 or (year_type.any() and missing.any()):
            where = (
                at_line(sessions.label, int(rows.loc[missing, _LINE].iloc[0]))
                if len(rows)
                else sessions.label
            )
            raise _error(
                where,
                _("er is geen schooljaar te lezen (startDate en endDate, of schoolYear)"),
                "school_year",
                _("geef de schooljaarsessie haar startDate en endDate"),
            )
        years = year.dropna().unique()
        if len(years) == 0:
            raise _error(
                sessions.label,
                _("geen sessie noemt haar datums of schooljaar"),
                "school_year",
                _("exporteer de schooljaarsessie met haar startDate en endDate"),
            )
        if len(years) > 1:
            raise _error(
                sessions.label,
                _("de sessies bevatten de schooljaren {years}").format(
                    years=", ".join(sorted(years))
                ),
                "school_year",
                _("exporteer het pakket voor één schooljaar"),
            )
        disagree = by_dates.notna() & by_column.notna() & (by_dates != by_column)
        if disagree.any():
            self.notes.append(
                _(
                    "academicSessions.csv: schoolYear zegt {value} maar de datums "
                    "zeggen {value2}; de datums worden gevolgd"
                ).format(
                    value=by_column.loc[disagree].iloc[0],
                    value2=years[0],
                )
            )
        return str(years[0])

    # -- pupils, teachers, groups -------------------------------------------------------

    def _people(
        self, tables: dict[str, _Table], version: str
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        users = tables["users"]
        source_file = str(self.package.path)
        active = users.active()
        student_ids, teacher_ids, role_dates = self._roles(tables, version, users)

        students = active.loc[_isin(active["sourcedId"], student_ids)]
        teachers = active.loc[_isin(active["sourcedId"], teacher_ids)]
        gone = _isin(users.deleted()["sourcedId"], student_ids)
        if gone.any():
            self.notes.append(
                _("users.csv: {value} leerlingen met tobedeleted zijn weggelaten").format(
                    value=int(gone.sum()),
                )
            )
        missing = ~_isin(student_ids, users.frame["sourcedId"])
        if missing.any():
            self.notes.append(
                _(
                    "roles.csv: {value} leerlingrollen noemen een gebruiker die niet "
                    "in users.csv staat; die leerlingen worden niet gelezen"
                ).format(
                    value=int(missing.sum()),
                )
            )

        groups, kinds = self._groups(tables, source_file)
        enrolled = self._enrollments(tables, kinds)

        pupils = self._pupils(students, tables, role_dates, enrolled, version)
        teacher_frame = self._teachers(teachers, enrolled, version)
        return (
            _frame(pupils, PUPIL_COLUMNS, source_file, students[_LINE]),
            _frame(teacher_frame, TEACHER_COLUMNS, source_file, teachers[_LINE]),
            groups,
        )

    def _roles(
        self, tables: dict[str, _Table], version: str, users: _Table
    ) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
        """Who is a student, who a teacher; in 1.2 also the student role's dates."""
        if version == "1.1":
            role = users.frame["role"].str.strip().str.lower()
            ids = users.frame["sourcedId"]
            empty = pd.DataFrame({"sourcedId": [], "beginDate": [], "endDate": []}, dtype="str")
            return ids.loc[role == _STUDENT], ids.loc[role == _TEACHER], empty
        roles = tables["roles"]
        role = roles.frame["role"].str.strip().str.lower()
        gone = roles.deleted()
        gone_students = int((gone["role"].str.strip().str.lower() == _STUDENT).sum())
        if gone_students:
            self.notes.append(
                _(
                    "roles.csv: {gone_students} leerlingrollen met tobedeleted zijn weggelaten"
                ).format(
                    gone_students=gone_students,
                )
            )
        active = roles.frame.loc[roles.frame["status"] != TO_BE_DELETED]
        active_role = role.loc[active.index]
        student_rows = active.loc[active_role == _STUDENT]
        teacher_rows = active.loc[active_role == _TEACHER]
        # The primary role first, then file order: one row (and one pair of dates) per pupil.
        ordered = student_rows.assign(
            _secondary=student_rows["roleType"].str.strip().str.lower() != "primary"
        ).sort_values(["_secondary", _LINE], kind="stable")
        dates = ordered.drop_duplicates("userSourcedId")[["userSourcedId", "beginDate", "endDate"]]
        dates = dates.rename(columns={"userSourcedId": "sourcedId"})
        return (
            student_rows["userSourcedId"].drop_duplicates(),
            teacher_rows["userSourcedId"].drop_duplicates(),
            dates,
        )

    def _groups(
        self, tables: dict[str, _Table], source_file: str
    ) -> tuple[pd.DataFrame, pd.Series]:
        """Groups from classes.csv, and each active class's kind (homeroom/scheduled)."""
        if "classes" not in tables:
            empty = pd.DataFrame({name: pd.Series([], dtype="str") for name in GROUP_COLUMNS})
            return (
                _frame(empty, GROUP_COLUMNS, source_file, pd.Series([], dtype="int64")),
                pd.Series([], dtype="str"),
            )
        classes = tables["classes"]
        gone = len(classes.deleted())
        if gone:
            self.notes.append(
                _("classes.csv: {gone} klassen met tobedeleted zijn weggelaten").format(
                    gone=gone,
                )
            )
        active = classes.active().reset_index(drop=True)
        kind = active["classType"].str.strip().str.lower()
        homeroom = kind == _HOMEROOM
        jaargroep, count = _jaargroepen(active["grades"])
        jaargroep = jaargroep.mask(count > 1, _COMBINATION).where(homeroom)
        frame = pd.DataFrame(
            {
                "groepskey": active["sourcedId"],
                "groepsnaam": active["title"],
                "jaargroep": jaargroep,
                "soort": homeroom.map({True: "groep", False: "samengestelde_groep"}),
                "omschrijving": None,
            }
        )
        kinds = pd.Series(kind.to_numpy(), index=active["sourcedId"].to_numpy(), dtype="str")
        return _frame(frame, GROUP_COLUMNS, source_file, active[_LINE]), kinds

    def _enrollments(self, tables: dict[str, _Table], kinds: pd.Series) -> pd.DataFrame:
        """Active student and teacher enrollments in classes the package holds."""
        columns = ["userSourcedId", "classSourcedId", "role", "kind", "primary"]
        if "enrollments" not in tables:
            # The dtypes of the frame built below: `primary` is a flag, and "str" | bool
            # raises where the pupils' homerooms are picked.
            return pd.DataFrame(
                {
                    name: pd.Series([], dtype="bool" if name == "primary" else "str")
                    for name in columns
                }
            )
        enrollments = tables["enrollments"]
        gone = len(enrollments.deleted())
        if gone:
            self.notes.append(
                _("enrollments.csv: {gone} inschrijvingen met tobedeleted zijn weggelaten").format(
                    gone=gone,
                )
            )
        active = enrollments.active()
        role = active["role"].str.strip().str.lower()
        active = active.loc[role.isin([_STUDENT, _TEACHER])].assign(role=role)
        known = _isin(active["classSourcedId"], kinds.index)
        if (~known).any():
            self.notes.append(
                _(
                    "enrollments.csv: {value} inschrijvingen noemen een klas die niet "
                    "in classes.csv staat; ze worden niet gelezen"
                ).format(
                    value=int((~known).sum()),
                )
            )
        active = active.loc[known]
        active = active.assign(
            kind=active["classSourcedId"].map(kinds),
            primary=active["primary"].str.strip().str.lower() == "true",
        )
        return active[columns]

    def _pupils(
        self,
        students: pd.DataFrame,
        tables: dict[str, _Table],
        role_dates: pd.DataFrame,
        enrolled: pd.DataFrame,
        version: str,
    ) -> pd.DataFrame:
        # Positional from here on: every column below is built from this order.
        students = students.reset_index(drop=True)
        ids = students["sourcedId"]
        own = enrolled.loc[(enrolled["role"] == _STUDENT) & _isin(enrolled["userSourcedId"], ids)]
        homeroom = own.loc[own["kind"] == _HOMEROOM]
        # Several homerooms: the ones marked primary, if any are.
        has_primary = homeroom.groupby("userSourcedId")["primary"].transform("any")
        homeroom = homeroom.loc[homeroom["primary"] | ~has_primary.astype(bool)]
        groepskey, count = _joined(homeroom, "userSourcedId", "classSourcedId")
        several = int((count > 1).sum())
        if several:
            self.notes.append(
                _(
                    "enrollments.csv: {several} leerlingen zitten in meer dan één "
                    "stamgroep; hun groepskey noemt ze allemaal, dus het contract "
                    "houdt ze tegen"
                ).format(
                    several=several,
                )
            )
        scheduled, _rest = _joined(
            own.loc[own["kind"] == _SCHEDULED], "userSourcedId", "classSourcedId"
        )

        key = _blank_to_na(students["identifier"])
        by_sourced_id = int(key.isna().sum())
        if by_sourced_id:
            self.notes.append(
                _(
                    "users.csv: {by_sourced_id} leerlingen hebben geen identifier; hun "
                    "sourcedId is hun leerlingkey"
                ).format(
                    by_sourced_id=by_sourced_id,
                )
            )
        middle = int((students["middleName"].str.strip() != "").sum())
        if middle:
            self.notes.append(
                _(
                    "users.csv: middleName van {middle} leerlingen wordt niet gelezen "
                    "(een tussenvoegsel of tweede voornaam is er niet uit op te maken)"
                ).format(
                    middle=middle,
                )
            )
        eckid, others = _eckids(students["userMasterIdentifier"])
        if others:
            self.notes.append(
                _(
                    "users.csv: userMasterIdentifier van {others} leerlingen is geen "
                    "ECK iD en wordt niet gelezen"
                ).format(
                    others=others,
                )
            )

        demographics = (
            tables["demographics"].active()[["sourcedId", "birthDate", "sex"]]
            if "demographics" in tables
            else pd.DataFrame({"sourcedId": [], "birthDate": [], "sex": []}, dtype="str")
        )
        joined = pd.DataFrame({"sourcedId": ids.to_numpy()}).merge(
            demographics, on="sourcedId", how="left", validate="one_to_one"
        )
        joined = joined.merge(role_dates, on="sourcedId", how="left", validate="one_to_one")
        jaargroep, grades = _jaargroepen(students["grades"])
        # Every column has the students' RangeIndex, so they line up by position.
        return pd.DataFrame(
            {
                "leerlingkey": key.fillna(ids),
                "eckid": eckid,
                "achternaam": students["familyName"],
                "roepnaam": _first_given(students, version),
                "gebruikersnaam": students["username"],
                "emailadres": students["email"],
                "geboortedatum": joined["birthDate"],
                "geslacht": _geslacht(joined["sex"]),
                # Several grades stay as written: a pupil has one jaargroep.
                "jaargroep": jaargroep.mask(grades > 1, students["grades"]),
                "groepskey": ids.map(groepskey),
                "samengestelde_groepen": ids.map(scheduled),
                "instroomdatum": joined["beginDate"],
                "uitstroomdatum": joined["endDate"],
                "mutatiedatum": students["dateLastModified"],
            }
        )

    def _teachers(
        self, teachers: pd.DataFrame, enrolled: pd.DataFrame, version: str
    ) -> pd.DataFrame:
        teachers = teachers.reset_index(drop=True)
        ids = teachers["sourcedId"]
        own = enrolled.loc[(enrolled["role"] == _TEACHER) & _isin(enrolled["userSourcedId"], ids)]
        groepen, _ = _joined(own, "userSourcedId", "classSourcedId")
        eckid, _ = _eckids(teachers["userMasterIdentifier"])
        return pd.DataFrame(
            {
                "leerkrachtkey": _blank_to_na(teachers["identifier"]).fillna(ids),
                "eckid": eckid,
                "achternaam": teachers["familyName"],
                "roepnaam": _first_given(teachers, version),
                "emailadres": teachers["email"],
                "groepen": ids.map(groepen),
            }
        )


# -- value helpers (vectorised) ---------------------------------------------------------------


def _isin(values: pd.Series, allowed: pd.Series | pd.Index) -> pd.Series:
    """Series.isin for strings, in C++: pandas' own converts every allowed value in Python."""
    text = pa.large_string()
    found = pc.is_in(pa.array(values, type=text), value_set=pa.array(allowed, type=text))
    return pd.Series(
        pc.fill_null(found, False).to_numpy(zero_copy_only=False), index=values.index, dtype=bool
    )


def _strip_bom(data: bytes) -> bytes:
    return data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data


def _property(name: str) -> str:
    # Manifest property names are not pupil data, but keep a broken line short.
    return repr(name if len(name) <= 40 else name[:39] + "…")


def _blank_to_na(values: pd.Series) -> pd.Series:
    stripped = values.astype("str").str.strip()
    return stripped.mask(stripped == "").reset_index(drop=True)


def _first_given(users: pd.DataFrame, version: str) -> pd.Series:
    given = _blank_to_na(users["givenName"])
    if version == "1.1":
        return given
    return _blank_to_na(users["preferredGivenName"]).fillna(given)


def _eckids(values: pd.Series) -> tuple[pd.Series, int]:
    """ECK iDs kept; anything else dropped and counted."""
    stripped = _blank_to_na(values)
    looks = stripped.str.match(_ECKID).fillna(False).astype(bool)
    return stripped.where(looks), int((stripped.notna() & ~looks).sum())


def _geslacht(sex: pd.Series) -> pd.Series:
    stripped = _blank_to_na(sex)
    return stripped.str.lower().map(_SEX).fillna(stripped)


def _jaargroepen(grades: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Per row: the mapped jaargroep when all grades agree, and how many distinct there are.

    grades is a comma-separated list. "01".."08" and "1".."8" become "1".."8"; every other
    code stays as written. With no grade the jaargroep is missing and the count is 0.
    """
    grades = grades.astype("str").reset_index(drop=True)
    parts = grades.str.split(",").explode().str.strip()
    parts = parts.loc[parts.notna() & (parts != "")]
    # A regex replace runs in Arrow; str.extract would call Python's re once per value.
    mapped = parts.str.replace(_ZERO_PADDED_GROEP, r"\1", regex=True)
    count = mapped.groupby(level=0).nunique().reindex(grades.index, fill_value=0)
    first = mapped.groupby(level=0).first().reindex(grades.index)
    return first.where(count == 1).astype("str"), count.astype("int64")


def _joined(frame: pd.DataFrame, key: str, value: str) -> tuple[pd.Series, pd.Series]:
    """Distinct values per key, in file order, joined by ';'; and how many there are.

    pyarrow groups and joins in C++: no Python call per pupil. Without threads, group_by
    keeps the input order within each list.
    """
    pairs = frame[[key, value]].drop_duplicates()
    if pairs.empty:
        return pd.Series([], dtype="str"), pd.Series([], dtype="int64")
    table = pa.Table.from_pandas(pairs.astype("str"), preserve_index=False)
    grouped = table.group_by(key, use_threads=False).aggregate([(value, "list")])
    lists = grouped.column(f"{value}_list")
    keys = grouped.column(key).to_pandas()
    # The separator must have the type of the list items (pandas "str" is large_string).
    separator = pa.scalar(GROUP_KEY_SEPARATOR, type=lists.type.value_type)
    joined = pc.binary_join(lists, separator).to_pandas()
    counts = pc.list_value_length(lists).to_pandas()
    return (
        pd.Series(joined.to_numpy(), index=keys.to_numpy(), dtype="str"),
        pd.Series(counts.to_numpy(), index=keys.to_numpy(), dtype="int64"),
    )


def _school_year_by_dates(start: pd.Series, end: pd.Series) -> pd.Series:
    """The Dutch school year (1 August - 31 July) that holds the middle of each session."""
    first = pd.to_datetime(start.str.strip(), format="%Y-%m-%d", errors="coerce")
    last = pd.to_datetime(end.str.strip(), format="%Y-%m-%d", errors="coerce")
    middle = first + (last - first) / 2
    middle = middle.where(last >= first)
    year = middle.dt.year - (middle.dt.month < _SCHOOL_YEAR_FIRST_MONTH).astype("int64")
    text = year.astype("Int64").astype("str")
    following = (year + 1).astype("Int64").astype("str")
    return (text + "-" + following).where(middle.notna()).astype("str")


def _school_year_by_column(column: pd.Series) -> pd.Series:
    """The schoolYear column read as the year the school year ends: 2027 -> 2026-2027."""
    stripped = column.str.strip()
    valid = stripped.str.fullmatch(r"\d{4}").fillna(False).astype(bool)
    ending = pd.to_numeric(stripped.where(valid), errors="coerce")
    text = (ending - 1).astype("Int64").astype("str") + "-" + ending.astype("Int64").astype("str")
    return text.where(valid).astype("str")


def _frame(
    values: pd.DataFrame, names: tuple[str, ...], source_file: str, lines: pd.Series
) -> pd.DataFrame:
    """The raw frame: every canonical column as "str" with blanks missing, plus provenance."""
    count = len(lines)
    columns: dict[str, pd.Series] = {}
    for name in names:
        if name in values:
            column = values[name].reset_index(drop=True).astype("str").str.strip()
            columns[name] = column.mask(column == "")
        else:
            columns[name] = _nulls(count)
    frame = pd.DataFrame(columns, index=pd.RangeIndex(count))
    frame[SOURCE_FILE] = pd.Series([source_file] * count, dtype="str")
    frame[SOURCE_LINE] = pd.Series(lines.to_numpy(), dtype="int64")
    return frame


def _nulls(count: int) -> pd.Series:
    # A missing column straight from Arrow: no Python object per row.
    text = pa.large_string()
    return pd.Series(pa.nulls(count, type=text).to_pandas(types_mapper={text: _STR}.get))
