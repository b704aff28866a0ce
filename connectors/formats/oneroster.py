"""OneRoster 1.2 CSV output: one zip per school holding manifest.csv and the rostering files.

The package follows the CSV binding as PEERS.md section 2 sums it up (after the strict
validator LongsightGroup/oneroster): manifest.csv and the data files at the zip root;
headers in the spec's order and case; UTF-8 without a byte order mark, CRLF line ends
(RFC 4180); every one of the 21 `file.<name>` manifest keys present (absent, bulk or
delta); extra columns only as `metadata.*` after the spec's columns; lists comma-separated
inside one quoted cell; `status` and `dateLastModified` blank in bulk, filled in delta
(`active`/`tobedeleted`, `YYYY-MM-DDTHH:MM:SS.sssZ` in UTC).

Files written: orgs, academicSessions, courses, classes, users, roles, enrollments, and
demographics only when the agreement lists geboortedatum or geslacht, each only when it
has a row: a file without rows is left out and `absent` in the manifest, as the CSV
binding allows (a strict importer refuses a declared file with a header only). The other
13 files are always `absent`.

Mapping from the canonical columns:

====================== ===================================================================
OneRoster              from
====================== ===================================================================
orgs                   one org of type school: sourcedId, name and identifier from the
                       school header's brincode (schoolkey when there is none). No school
                       name travels: the header has none, and the BRIN code is listed.
academicSessions       one schoolYear: title "Schooljaar 2026-2027", 1 August - 31 July,
                       schoolYear the year it ends (2027), as the OneRoster source reads it.
courses                one per jaargroep of the delivered classes ("Jaargroep 3",
                       combination groups "Combinatiegroepen"); classes without a jaargroep
                       (samengestelde groepen, or jaargroep not listed) share one course
                       "Groepen". courseCode and grades are the jaargroep code.
classes                one per stamgroep (classType homeroom) and samengestelde groep
                       (scheduled) of the pupils written as active; title the groepsnaam
                       when listed, else the groepskey; grades the group's jaargroep
                       (blank for a combination group: its pupils carry their own);
                       termSourcedIds the school year.
users (students)       sourcedId from the identifier policy (below); username the
                       gebruikersnaam when listed, else the sourcedId, so that an app has
                       a stable login name without getting anything the agreement does not
                       list; givenName the roepnaam; familyName the achternaam with the
                       voorvoegsel in front ("van Dijk") when voorvoegsel is listed, the
                       way Dutch names are written and the way the OneRoster source reads
                       it back (middleName is an English second given name, not a
                       tussenvoegsel); identifier the leerlingkey when listed;
                       userMasterIdentifier the eckid when listed (it is the chain-wide
                       identifier the field is for); email the emailadres; grades the
                       jaargroep code (Dutch, not CEDS: "3" is groep 3); enabledUser true
                       (false on a tobedeleted row); primaryOrgSourcedId the school.
                       No name is made up: a pupil without roepnaam or achternaam is
                       withheld by policy (incomplete_for_format, see PUPIL_NEEDS), and
                       the writer refuses an active row without them.
users (teachers)       when the context has teachers: sourcedId "leerkracht-" + the
                       leerkrachtkey (the eckid when no key is listed), so it cannot meet
                       a pupil's; names, identifier, userMasterIdentifier and email as
                       for pupils. Policy leaves out a teacher without that identifier
                       or a name (TEACHER_NEEDS).
roles                  one primary role per user at the school: student or teacher;
                       beginDate/endDate the instroomdatum/uitstroomdatum when listed.
enrollments            student in the class of its groepskey (primary true) and of each
                       samengestelde groep (primary false); teacher in each of its groepen
                       that is a class of the delivered pupils (context.groups) or of
                       this package.
demographics           birthDate the geboortedatum, sex from geslacht: 1 male, 2 female,
                       any other code unspecified, missing blank. The race, ethnicity and
                       birthplace columns stay empty, always.
metadata.<field>       on users.csv: every listed field OneRoster has no column for
                       (geboortejaar, toestemming_<categorie>, voorletters, ...). The
                       supplier then receives exactly the fields the agreement lists,
                       which the delivery manifest and the parents' data map say it does;
                       dropping them would make both wrong, and refusing them would push
                       a legitimate need (a consent flag for photos) into a second format.
====================== ===================================================================

Identifiers: a pupil's sourcedId is, per the agreement's policy, the eckid, the eckid or
else the leerlingkey, the leerlingkey, or the pseudoniem. OneRoster sourcedIds are GUIDs
of 1-255 characters from 0-9 A-Z a-z . - _ / @; a value that is not (every ECK iD, a key
with a space) becomes "sha256-" + 40 hex digits of its SHA-256, the same every time.
The value itself still travels where the agreement lists it (userMasterIdentifier,
identifier). Classes are "<org>.<groepskey>", courses "<org>.jaargroep-<code>", the
school year "<org>.<schooljaar>", all scoped by the school because a supplier keeps the
packages of many schools side by side and "3a" exists at most of them. Roles are
"<user>.student" / "<user>.teacher". An enrollment is "enr-" + a hash of its class and
user: joining two ids that may hold "." or "-" could make two enrollments one.

Delta (mode "delta"): added and changed pupils are written whole as `active`; a removed
pupil gets `tobedeleted` users, roles and demographics rows and a `tobedeleted`
enrollment in the class of the groepskey it still has; a pupil whose stamgroep changed
gets a `tobedeleted` enrollment in its previous class, and one in each samengestelde
groep it left (context.left_groups; for a removed pupil, every one it was in). Teachers
follow the same rules by context.teacher_changes and context.teacher_left_groups: an
added or changed teacher is `active` (unchanged ones are not in the context), a removed
one `tobedeleted` with its enrollments in the groepen it had. OneRoster requires names
on every users row, also a `tobedeleted` one, and Sluis keeps no names of the people a
supplier holds: those rows carry REMOVED_NAME, which names no one.

Every enrollment's class and every class's course is in the package, so that references
resolve inside it, as a strict importer checks for every row: the school, the school year
and the classes of the package's enrollments are repeated as `active` when they are still
groups of delivered pupils (context.groups), with their courses. A class that is not (its
last delivered pupil left it) is `tobedeleted`, titled by its key under the course
"Groepen", which is itself `tobedeleted` when no delivered group is in it.

Every row gets the run's created_at as dateLastModified (never the clock); bulk leaves
both lifecycle columns blank. Rows are sorted by sourcedId, the zip entries are in a fixed
order with a fixed 1980-01-01 timestamp and a fixed deflate level, so the same input gives
the same bytes. Text cells (names, titles, codes, metadata) that a spreadsheet would run
as a formula get a leading single quote, as in the CSV format; sourcedIds, enumerations
and dates are never changed (a GUID cannot hold a formula: no parentheses, no operators
but "-", "." and "/").
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import ClassVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors import oneroster_spec as spec
from connectors.errors import ConfigurationError, InputError
from connectors.formats.base import (
    CHANGE_KINDS,
    CHANGE_REMOVED,
    DataFile,
    FieldNeed,
    RenderContext,
    arrow_text,
    check_frame,
    check_options,
    clean_text,
)
from connectors.formats.csv import join_cells
from connectors.i18n import N_, _
from connectors.sources.base import GROUP_KEY_SEPARATOR

__all__ = [
    "HEADERS",
    "IDENTIFIER_FIELDS",
    "MANIFEST_FILES",
    "ONEROSTER_VERSION",
    "PUPIL_NEEDS",
    "REMOVED_NAME",
    "TEACHER_NEEDS",
    "OneRosterFormat",
]

FORMAT = "oneroster"
ONEROSTER_VERSION = "1.2"
_MANIFEST_VERSION = "1.0"
_SYSTEM_NAME = "Sluis"

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
_TEXT_COLUMNS: Mapping[str, frozenset[str]] = MappingProxyType(
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
_NEEDED_FIELDS = (
    ("roepnaam", N_("users.givenName is verplicht")),
    ("achternaam", N_("users.familyName is verplicht")),
    ("groepskey", N_("elke leerling is ingeschreven in de klas van zijn stamgroep")),
    ("brincode", N_("orgs.csv noemt de school bij haar BRIN-code")),
)
_TEACHER_IDS = ("leerkrachtkey", "eckid")
# What every users row needs and Sluis will not make up (givenName and familyName are
# required; a teacher's sourcedId is made from its key or ECK iD). A pupil the
# administration knows by one name only (EDEXML allows that) cannot go to OneRoster.
PUPIL_NEEDS = (
    FieldNeed(("roepnaam",), N_("users.givenName is verplicht")),
    FieldNeed(("achternaam",), N_("users.familyName is verplicht")),
)
TEACHER_NEEDS = (
    *PUPIL_NEEDS,
    FieldNeed(_TEACHER_IDS, N_("de sourcedId van een leerkracht wordt ervan gemaakt")),
)
_NEEDED_TEACHER_FIELDS = (
    ("roepnaam", N_("users.givenName is verplicht")),
    ("achternaam", N_("users.familyName is verplicht")),
    ("groepen", N_("een leerkracht is ingeschreven in de klassen van zijn groepen")),
)
# Pupil fields with a OneRoster column of their own; pseudoniem only as the identifier.
_PUPIL_MAPPED = frozenset(
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
_TEACHER_MAPPED = frozenset(
    {"leerkrachtkey", "eckid", "achternaam", "voorvoegsel", "roepnaam", "emailadres", "groepen"}
)
_METADATA_PREFIX = "metadata."
# Canonical field names, so a metadata header never needs quoting.
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")

# OneRoster GUID: 1-255 characters from this set (the validator's pattern).
_GUID = r"^[0-9A-Za-z./@_-]{1,255}$"
_HASHED = "sha256-"
_HASH_DIGITS = 40  # 160 bits: no collision among a country's pupils
_ENROLLMENT = "enr-"

_GROUP_STAM = "groep"
_GROUP_COMPOSITE = "samengestelde_groep"
_COMBINATION = "C"
_SCHOOLJAAR = re.compile(r"(\d{4})-(\d{4})")

_EOL = "\r\n"  # RFC 4180, which the CSV binding follows
# Fixed so that the same package has the same bytes on every run and machine.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_ZIP_LEVEL = 6
_UNIX = 3
_FILE_MODE = 0o100644 << 16

# OWASP "CSV injection", as connectors/formats/csv.py: a spreadsheet runs a cell starting
# with one of these (tab and carriage return because Excel strips them first).

_NO_OPTIONS: Mapping[str, str] = MappingProxyType({})


class OneRosterFormat:
    """Renders the delivered pupils of one school as a OneRoster 1.2 CSV zip.

    It takes no options and needs the RenderContext: the school header, the run's
    timestamp, the mode (full is OneRoster bulk, delta is delta), the groups, the
    teachers and the identifier policy. See the module docstring for the mapping.
    """

    # Delta rows say tobedeleted for a removed pupil.
    expresses_deletions: ClassVar[bool] = True
    profiles: ClassVar[tuple[str, ...]] = ()
    flat: ClassVar[bool] = False
    # A bulk package without users cannot say that nobody is left: users.csv is then
    # absent, which tells an importer nothing.
    needs_a_pupil: ClassVar[frozenset[str | None]] = frozenset({None})
    pupil_needs: ClassVar[tuple[FieldNeed, ...]] = PUPIL_NEEDS
    teacher_needs: ClassVar[tuple[FieldNeed, ...]] = TEACHER_NEEDS

    def render(
        self,
        frame: pd.DataFrame,
        *,
        basename: str,
        options: Mapping[str, str] = _NO_OPTIONS,
        context: RenderContext | None = None,
    ) -> list[DataFile]:
        """Render the pupils (and the context's groups and teachers) as one OneRoster zip.

        Args:
            frame: the delivered pupils, one row each, columns the agreement's fields;
                it is not mutated.
            basename: file name without extension.
            options: must be empty; OneRoster has no options.
            context: the school, run timestamp, mode, changes, groups, teachers and
                identifier policy; required.

        Returns:
            One data file, `<basename>.zip`; its rows are the pupils' users records.

        Raises:
            ConfigurationError: an option, no context, an unknown mode or identifier
                policy, a frame without the columns OneRoster needs, or delta changes
                that do not line up with the frame.
            InputError: the school header has no BRIN code or school year, pupils lack
                their identifier or share one, or a text value is not valid Unicode.
        """
        check_options(options, format_name=FORMAT, known=())
        if context is None:
            raise ConfigurationError(
                _(
                    "{format} {basename}: heeft de RenderContext nodig (school, "
                    "created_at, mode, groepen, identifier); geef context= mee"
                ).format(
                    format=FORMAT,
                    basename=repr(basename),
                )
            )
        check_frame(frame, format_name=FORMAT)
        teachers = context.teachers
        teacher_fields = tuple(map(str, teachers.columns)) if teachers is not None else ()
        problems = self.agreement_problems(
            tuple(map(str, frame.columns)),
            teacher_fields=teacher_fields,
            identifier=context.identifier,
            mode=context.mode,
            profile=context.profile,
        )
        if problems:
            raise ConfigurationError(
                _("{format} {basename}: {problems}").format(
                    format=FORMAT, basename=repr(basename), problems="; ".join(problems)
                )
            )
        try:
            package = _Package.build(frame, context)
            content = package.zip()
        except UnicodeEncodeError:
            # from None: the codec error quotes the offending text.
            raise InputError(
                _(
                    "{format} {basename}: een tekstwaarde is geen geldige Unicode (een "
                    "losse surrogate); er is niets geleverd"
                ).format(
                    format=FORMAT,
                    basename=repr(basename),
                )
            ) from None
        return [DataFile(name=f"{basename}.zip", content=content, rows=package.students)]

    def agreement_problems(
        self,
        fields: tuple[str, ...],
        *,
        teacher_fields: tuple[str, ...],
        identifier: str,
        mode: str,
        profile: str | None,
    ) -> list[str]:
        """What an agreement lacks for OneRoster, one line per problem, key first.

        Pupils need roepnaam and achternaam (givenName and familyName are required),
        groepskey (classes and enrollments) and brincode (the org), plus the columns of
        the identifier policy: eckid; eckid and leerlingkey; leerlingkey; pseudoniem.
        Teachers, when listed, need leerkrachtkey or eckid, roepnaam, achternaam and
        groepen. OneRoster has no profiles; full and delta are both fine. Fields without
        a OneRoster column are no problem: they go to metadata.* columns of users.csv.
        """
        problems = []
        listed = set(fields)
        fix = _("voeg het toe aan fields, of gebruik format csv of parquet")
        for name, why in _NEEDED_FIELDS:
            if name not in listed:
                problems.append(
                    _("fields: {format} heeft {name} nodig ({why}); {fix}").format(
                        format=FORMAT, name=name, why=_(why), fix=fix
                    )
                )
        needed = IDENTIFIER_FIELDS.get(identifier)
        if needed is None:
            problems.append(
                _(
                    "identifier: {format} kent het identifierbeleid {identifier} niet; "
                    "toegestaan: {allowed}"
                ).format(
                    format=FORMAT, identifier=repr(identifier), allowed=", ".join(IDENTIFIER_FIELDS)
                )
            )
        else:
            for name in needed:
                if name not in listed:
                    problems.append(
                        _(
                            "fields: {format} met identifier {identifier} heeft {name} nodig "
                            "(de sourcedId van de leerlingen wordt ervan gemaakt); voeg het toe "
                            "aan fields, of kies een ander identifierbeleid"
                        ).format(format=FORMAT, identifier=identifier, name=name)
                    )
        if mode not in ("full", "delta"):
            problems.append(
                _("mode: {format} kent full (bulk) en delta, niet {mode}").format(
                    format=FORMAT, mode=repr(mode)
                )
            )
        if teacher_fields:
            listed_teacher = set(teacher_fields)
            if not listed_teacher & set(_TEACHER_IDS):
                problems.append(
                    _(
                        "teacher_fields: {format} heeft leerkrachtkey of eckid nodig (de "
                        "sourcedId van een leerkracht wordt ervan gemaakt); voeg er een toe aan "
                        "teacher_fields"
                    ).format(format=FORMAT)
                )
            for name, why in _NEEDED_TEACHER_FIELDS:
                if name not in listed_teacher:
                    problems.append(
                        _(
                            "teacher_fields: {format} heeft {name} nodig ({why}); voeg het toe "
                            "aan teacher_fields, of noem geen leerkrachtvelden"
                        ).format(format=FORMAT, name=name, why=_(why))
                    )
        if profile is not None:
            problems.append(
                _("format.profile: {format} heeft geen profielen; verwijder profile").format(
                    format=FORMAT
                )
            )
        return problems


# -- the package -----------------------------------------------------------------------------
#
# Every column is an Arrow large_string array (bool for the activity flag) and every step
# is a pyarrow.compute call over a whole column: a school is rendered in a few
# milliseconds, and only groups (a few dozen per school) are ever handled one by one.

_STR = pa.large_string()


@dataclass(frozen=True)
class _School:
    """The org and school year every record points to."""

    org: str
    brincode: str
    session: str
    schooljaar: str
    first_year: int
    last_year: int


@dataclass(frozen=True)
class _Table:
    """The rows of one file: some of its header's columns, and whether each row is active."""

    length: int
    columns: Mapping[str, pa.Array]
    active: pa.Array

    @classmethod
    def of(
        cls, length: int, active: pa.Array | bool, columns: Mapping[str, pa.Array | str | None]
    ) -> _Table:
        """A table from arrays and constants (a str fills the column, None leaves it out)."""
        filled = {
            name: _const(value, length) if isinstance(value, str) else value
            for name, value in columns.items()
            if value is not None
        }
        flags = pa.repeat(active, length) if isinstance(active, bool) else active
        return cls(length=length, columns=filled, active=flags)

    @classmethod
    def concat(cls, tables: Sequence[_Table]) -> _Table:
        """Rows of several tables one after the other; a column one lacks is blank there."""
        names = list(dict.fromkeys(name for table in tables for name in table.columns))
        columns = {
            name: pa.concat_arrays(
                [table.columns.get(name, _nulls(table.length)) for table in tables]
            )
            for name in names
        }
        return cls(
            length=sum(table.length for table in tables),
            columns=columns,
            active=pa.concat_arrays([table.active for table in tables]),
        )

    def take(self, indices: pa.Array) -> _Table:
        """The rows at `indices`, in that order."""
        return _Table(
            length=len(indices),
            columns={name: column.take(indices) for name, column in self.columns.items()},
            active=self.active.take(indices),
        )

    def where(self, mask: pa.Array) -> _Table:
        """The rows where `mask` is true."""
        return self.take(pc.indices_nonzero(pc.fill_null(mask, False)))


class _Columns:
    """The columns of a frame as Arrow text, blanks missing; converted once each."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.length = len(frame)
        self._done: dict[str, pa.Array] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.frame.columns

    def __getitem__(self, name: str) -> pa.Array:
        if name not in self._done:
            self._done[name] = (
                _blank_to_null(arrow_text(self.frame[name]))
                if name in self.frame.columns
                else _nulls(self.length)
            )
        return self._done[name]


@dataclass(frozen=True)
class _Package:
    """The data files of one delivery, before they become bytes."""

    delta: bool
    stamp: str  # dateLastModified of every delta row
    tables: Mapping[str, _Table]
    user_metadata: tuple[str, ...]
    students: int

    @classmethod
    def build(cls, frame: pd.DataFrame, context: RenderContext) -> _Package:
        """Turn the pupils and the context into the rows of every file."""
        delta = _is_delta(context)
        stamp = _stamp(context.created_at) if delta else ""
        school = _school(context.school)
        pupils = _Columns(frame)
        # Arrays are positional: the context's series are checked against the frame's
        # index and then lined up by position.
        active = pc.invert(_removed(frame, context, delta))
        _check_needs(frame, active, PUPIL_NEEDS, _("leerlingen"))
        users = _user_ids(pupils, context.identifier)

        enrollments = _student_enrollments(
            pupils,
            users,
            active,
            _previous(frame, context, delta),
            _left(frame, context, delta),
        )
        # A class is live while a delivered pupil is in it: every group of the context
        # (all the supplier holds after this package), and any of the package's pupils.
        live = _unique_keys(
            _context_keys(context.groups),
            enrollments.where(enrollments.active).columns["_groepskey"],
        )

        metadata = [
            name for name in map(str, frame.columns) if _is_metadata(name, context.identifier)
        ]
        student_users = _student_users(pupils, users, active, school, metadata)
        user_tables = [student_users]
        roles = [_roles(users, active, "student", school, pupils)]
        staff = _staff(context, delta)
        if staff is not None:
            teacher_metadata = [
                str(name) for name in staff.frame.columns if str(name) not in _TEACHER_MAPPED
            ]
            metadata += [name for name in teacher_metadata if name not in metadata]
            teacher_users, teacher_ids = _teacher_users(staff, school, teacher_metadata)
            user_tables.append(teacher_users)
            roles.append(_roles(teacher_ids, staff.active, "teacher", school, None))
            enrollments = _Table.concat(
                [enrollments, _teacher_enrollments(staff, teacher_ids, live)]
            )
        for name in metadata:
            if not _FIELD_NAME.fullmatch(name):
                raise ConfigurationError(
                    _(
                        "{format}: kolom {name} kan geen metadatakolom worden; veldnamen "
                        "bestaan uit kleine letters, cijfers en '_'"
                    ).format(
                        format=FORMAT,
                        name=repr(name),
                    )
                )
        all_users = _Table.concat(user_tables)
        _check_unique_users(all_users.columns["sourcedId"])

        # Every class an enrollment names is in the package, and so is its course.
        referenced = pc.unique(enrollments.columns["_groepskey"])
        kept = pc.is_in(referenced, value_set=live)
        groups = _groups(pupils, active, context.groups, live)
        classes, courses = _classes_and_courses(
            {key: groups[key] for key in referenced.filter(kept).to_pylist()},
            _ended_classes(enrollments, referenced.filter(pc.invert(kept))),
            {_course_id(group.jaargroep, school) for group in groups.values()},
            school,
        )

        tables = {
            "orgs": _orgs(school),
            "academicSessions": _sessions(school),
            "courses": courses,
            "classes": classes,
            "users": all_users,
            "roles": _Table.concat(roles),
            "enrollments": _finish_enrollments(enrollments, school),
        }
        if "geboortedatum" in pupils or "geslacht" in pupils:
            tables["demographics"] = _demographics(pupils, users, active)
        return cls(
            delta=delta,
            stamp=stamp,
            # A declared file must hold a row; one without rows is absent instead.
            tables={name: table for name, table in tables.items() if table.length},
            user_metadata=tuple(f"{_METADATA_PREFIX}{name}" for name in metadata),
            students=student_users.length,
        )

    def zip(self) -> bytes:
        """The package as zip bytes: manifest.csv first, then the data files by name."""
        entries = {"manifest.csv": self._manifest()}
        for name in sorted(self.tables):
            header = HEADERS[name]
            text = _TEXT_COLUMNS.get(name, frozenset())
            if name == "users":
                header = (*header, *self.user_metadata)
                text = text | frozenset(self.user_metadata)
            entries[f"{name}.csv"] = _csv(header, self._finished(self.tables[name]), text)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in entries.items():
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                # ZipInfo takes these from the platform; fixed, they cannot vary by worker.
                info.create_system = _UNIX
                info.external_attr = _FILE_MODE
                archive.writestr(info, data, compresslevel=_ZIP_LEVEL)
        return buffer.getvalue()

    def _manifest(self) -> bytes:
        mode = "delta" if self.delta else "bulk"
        rows = [
            ("manifest.version", _MANIFEST_VERSION),
            ("oneroster.version", ONEROSTER_VERSION),
            *(
                (f"file.{name}", mode if name in self.tables else "absent")
                for name in MANIFEST_FILES
            ),
            ("source.systemName", _SYSTEM_NAME),
        ]
        lines = ["propertyName,value", *(f"{key},{value}" for key, value in rows)]
        return (_EOL.join(lines) + _EOL).encode("utf-8")

    def _finished(self, table: _Table) -> _Table:
        """Lifecycle columns filled (delta) or left blank (bulk); rows sorted by sourcedId."""
        columns = {name: array for name, array in table.columns.items() if not name.startswith("_")}
        if self.delta:
            columns["status"] = pc.if_else(
                table.active, _large(spec.ACTIVE), _large(spec.TO_BE_DELETED)
            )
            columns["dateLastModified"] = _const(self.stamp, table.length)
        finished = _Table(length=table.length, columns=columns, active=table.active)
        return finished.take(pc.sort_indices(columns["sourcedId"]))


# -- context -----------------------------------------------------------------------------------


def _is_delta(context: RenderContext) -> bool:
    if context.mode not in ("full", "delta"):
        raise ConfigurationError(
            _("{format}: de modus moet full of delta zijn, niet {mode}").format(
                format=FORMAT,
                mode=repr(context.mode),
            )
        )
    return context.mode == "delta"


def _stamp(created_at: str) -> str:
    """The run's start as OneRoster dateLastModified: YYYY-MM-DDTHH:MM:SS.sssZ in UTC."""
    try:
        moment = datetime.fromisoformat(created_at)
    except (TypeError, ValueError):
        raise ConfigurationError(
            _("{format}: created_at {created_at} is geen ISO 8601-tijdstip").format(
                format=FORMAT,
                created_at=repr(created_at),
            )
        ) from None
    # The context promises UTC; a naive timestamp is read as such, not as local time.
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _school(header: Mapping[str, str | None]) -> _School:
    brincode = clean_text(header.get("brincode")) or clean_text(header.get("schoolkey"))
    if brincode is None:
        raise InputError(
            _(
                "{format}: de schoolkop heeft geen brincode of schoolkey, dus de "
                "org heeft geen sourcedId; controleer de schoolkop van de export"
            ).format(
                format=FORMAT,
            )
        )
    schooljaar = clean_text(header.get("schooljaar")) or ""
    match = _SCHOOLJAAR.fullmatch(schooljaar)
    if match is None or int(match[2]) != int(match[1]) + 1:
        raise InputError(
            _(
                "{format}: de schoolkop heeft geen schooljaar zoals 2026-2027, dat "
                "academicSessions.csv nodig heeft; controleer de schoolkop van de "
                "export"
            ).format(
                format=FORMAT,
            )
        )
    org = _guid_one(brincode)
    return _School(
        org=org,
        brincode=brincode,
        session=_guid_one(f"{org}.{schooljaar}"),
        schooljaar=schooljaar,
        first_year=int(match[1]),
        last_year=int(match[2]),
    )


def _removed(frame: pd.DataFrame, context: RenderContext, delta: bool) -> pa.Array:
    """Per pupil (by position) whether the row is a removal."""
    changes = context.changes
    if changes is None:
        if delta:
            raise ConfigurationError(
                _(
                    "{format}: een delta heeft context.changes nodig (added, changed "
                    "of removed per rij)"
                ).format(
                    format=FORMAT,
                )
            )
        return pa.repeat(False, len(frame))
    _check_aligned(changes, frame, "changes")
    known = changes.isin(CHANGE_KINDS)
    if not bool(known.all()):
        raise ConfigurationError(
            _("{format}: context.changes bevat {value} waarden die niet {value2} zijn").format(
                format=FORMAT,
                value=int((~known).sum()),
                value2=", ".join(CHANGE_KINDS),
            )
        )
    removed = (changes == CHANGE_REMOVED).to_numpy(dtype=bool)
    if not delta and removed.any():
        raise ConfigurationError(
            _(
                "{format}: een volledige (bulk-)levering kan geen verwijderde "
                "rijen bevatten; bulk zegt wie er is, dus laat verwijderde "
                "leerlingen weg of gebruik modus delta"
            ).format(
                format=FORMAT,
            )
        )
    return pa.array(removed, pa.bool_())


def _previous(frame: pd.DataFrame, context: RenderContext, delta: bool) -> pa.Array | None:
    """Delta: per pupil the stamgroep the supplier had before, where it changed."""
    return _delta_groups(frame, context.previous_groups, delta, "previous_groups")


def _left(frame: pd.DataFrame, context: RenderContext, delta: bool) -> pa.Array | None:
    """Delta: per pupil the samengestelde groepen the supplier had it in and should not."""
    return _delta_groups(frame, context.left_groups, delta, "left_groups")


def _delta_groups(
    frame: pd.DataFrame, groups: pd.Series | None, delta: bool, name: str
) -> pa.Array | None:
    """A context series of group keys as an array lined up with the frame; delta only."""
    if not delta or groups is None:
        return None
    _check_aligned(groups, frame, name)
    return _blank_to_null(arrow_text(groups))


def _check_aligned(series: pd.Series, frame: pd.DataFrame, name: str) -> None:
    if not series.index.equals(frame.index):
        raise ConfigurationError(
            _(
                "{format}: context.{name} moet de index van de tabel hebben (één waarde per rij)"
            ).format(
                format=FORMAT,
                name=name,
            )
        )


# -- values ------------------------------------------------------------------------------------


def _blank_to_null(array: pa.Array) -> pa.Array:
    blank = pc.equal(pc.utf8_trim_whitespace(array), _large(""))
    return pc.if_else(blank, pa.scalar(None, _STR), array)


def _nulls(length: int) -> pa.Array:
    return pa.nulls(length, type=_STR)


def _const(text: str, length: int) -> pa.Array:
    return pa.repeat(_large(text), length)


def _large(text: str) -> pa.Scalar:
    """A large_string scalar: the string kernels want every argument of the cells' type."""
    return pa.scalar(text, type=_STR)


def _join(*parts: pa.Array | str) -> pa.Array:
    """Parts joined end to end; missing where any part is missing."""
    return pc.binary_join_element_wise(
        *(_large(part) if isinstance(part, str) else part for part in parts), _large("")
    )


def _hashed(value: str) -> str:
    return _HASHED + hashlib.sha256(value.encode("utf-8")).hexdigest()[:_HASH_DIGITS]


def _guid(values: pa.Array) -> pa.Array:
    """Each value as a OneRoster GUID: itself when it is one, else its stable hash.

    The pattern is checked in Arrow; only values that are not GUIDs (every ECK iD) are
    hashed one by one, as the pseudonyms are.
    """
    other = pc.invert(pc.fill_null(pc.match_substring_regex(values, _GUID), True))
    if not pc.any(other).as_py():
        return values
    hashed = pa.array([_hashed(value) for value in values.filter(other).to_pylist()], _STR)
    return pc.replace_with_mask(values, other, hashed)


def _guid_one(value: str) -> str:
    return value if re.fullmatch(_GUID, value) else _hashed(value)


def _split_keys(joined: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Keys joined by ";": one key per element, and the position of the row it came from."""
    lists = pc.split_pattern(joined, GROUP_KEY_SEPARATOR)
    keys = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    rows = pc.list_parent_indices(lists)
    keep = pc.not_equal(keys, _large(""))
    return keys.filter(keep), rows.filter(keep)


def _user_ids(pupils: _Columns, identifier: str) -> pa.Array:
    """Each pupil's sourcedId under the agreement's identifier policy."""
    # The first of the policy's fields that a pupil has (eckid_or_key: ECK iD, else key).
    values = pc.coalesce(*(pupils[name] for name in IDENTIFIER_FIELDS[identifier]))
    missing = values.null_count
    if missing:
        raise InputError(
            _(
                "{format}: {missing} leerlingen hebben geen waarde voor "
                "identificatiebeleid {identifier}; het beleid houdt zulke "
                "leerlingen achter, dus dit is een fout eerder in Sluis; er is "
                "niets geleverd"
            ).format(
                format=FORMAT,
                missing=missing,
                identifier=identifier,
            )
        )
    users = _guid(values)
    doubled = len(users) - pc.count_distinct(users).as_py()
    if doubled:
        raise InputError(
            _(
                "{format}: {doubled} leerlingen delen hun "
                "{identifier}-identificatie met een andere leerling; verbeter de "
                "export; er is niets geleverd"
            ).format(
                format=FORMAT,
                doubled=doubled,
                identifier=identifier,
            )
        )
    return users


def _is_metadata(name: str, identifier: str) -> bool:
    if name == "pseudoniem":
        return identifier != "pseudoniem"
    return name not in _PUPIL_MAPPED


def _family_name(people: _Columns) -> pa.Array:
    """The achternaam with the voorvoegsel in front when there is one: "van Dijk"."""
    achternaam = people["achternaam"]
    voorvoegsel = pc.utf8_trim_whitespace(people["voorvoegsel"])
    return _removed_name(pc.coalesce(_join(voorvoegsel, " ", achternaam), achternaam))


def _removed_name(names: pa.Array) -> pa.Array:
    """Names as given; REMOVED_NAME only where none is (a tobedeleted row: see _check_needs)."""
    return pc.coalesce(names, _large(REMOVED_NAME))


def _check_needs(
    frame: pd.DataFrame, active: pa.Array, needs: Sequence[FieldNeed], what: str
) -> None:
    """Refuse active rows that lack what OneRoster needs: policy withholds those."""
    written = active.to_numpy(zero_copy_only=False)
    for need in needs:
        count = int((need.unmet(frame).to_numpy() & written).sum())
        if count:
            raise ConfigurationError(
                _(
                    "{format}: {count} {what} die als actief geschreven moeten worden "
                    "hebben geen {value} ({why}); het beleid houdt ze achter "
                    "(incomplete_for_format), dus dit is een fout eerder in Sluis; er "
                    "is niets geleverd"
                ).format(
                    format=FORMAT,
                    count=count,
                    what=what,
                    value=(" " + _("of") + " ").join(need.fields),
                    why=_(need.why),
                )
            )


# -- files -------------------------------------------------------------------------------------


def _orgs(school: _School) -> _Table:
    return _Table.of(
        1,
        True,
        {
            "sourcedId": school.org,
            "name": school.brincode,
            "type": "school",
            "identifier": school.brincode,
        },
    )


def _sessions(school: _School) -> _Table:
    # The Dutch school year runs from 1 August to 31 July (WPO); schoolYear names the
    # year it ends, as the OneRoster source reads it.
    return _Table.of(
        1,
        True,
        {
            "sourcedId": school.session,
            "title": f"Schooljaar {school.schooljaar}",
            "type": "schoolYear",
            "startDate": f"{school.first_year:04d}-08-01",
            "endDate": f"{school.last_year:04d}-07-31",
            "schoolYear": f"{school.last_year:04d}",
        },
    )


def _student_users(
    pupils: _Columns,
    users: pa.Array,
    active: pa.Array,
    school: _School,
    metadata: Sequence[str],
) -> _Table:
    columns: dict[str, pa.Array | str | None] = {
        "sourcedId": users,
        "enabledUser": pc.if_else(active, _large("true"), _large("false")),
        "username": pc.coalesce(pupils["gebruikersnaam"], users),
        "givenName": _removed_name(pupils["roepnaam"]),
        "familyName": _family_name(pupils),
        "identifier": pupils["leerlingkey"],
        "email": pupils["emailadres"],
        "grades": pupils["jaargroep"],
        "userMasterIdentifier": pupils["eckid"],
        "primaryOrgSourcedId": school.org,
    }
    columns.update({f"{_METADATA_PREFIX}{name}": pupils[name] for name in metadata})
    return _Table.of(len(users), active, columns)


@dataclass(frozen=True)
class _Staff:
    """The context's teachers: columns, which rows are active, and groups a row left."""

    frame: pd.DataFrame
    columns: _Columns
    active: pa.Array
    left: pa.Array | None


def _staff(context: RenderContext, delta: bool) -> _Staff | None:
    """The teachers to write, checked like the pupils; None when there are none."""
    teachers = context.teachers
    if teachers is None or not len(teachers):
        return None
    changes = context.teacher_changes if delta else None
    if changes is None:
        active = pa.repeat(True, len(teachers))
    else:
        _check_aligned(changes, teachers, "teacher_changes")
        known = changes.isin(CHANGE_KINDS)
        if not bool(known.all()):
            raise ConfigurationError(
                _(
                    "{format}: context.teacher_changes bevat {value} waarden die niet {value2} zijn"
                ).format(
                    format=FORMAT,
                    value=int((~known).sum()),
                    value2=", ".join(CHANGE_KINDS),
                )
            )
        active = pa.array((changes != CHANGE_REMOVED).to_numpy(dtype=bool), pa.bool_())
    _check_needs(teachers, active, TEACHER_NEEDS, _("leerkrachten"))
    left = _delta_groups(teachers, context.teacher_left_groups, delta, "teacher_left_groups")
    return _Staff(frame=teachers, columns=_Columns(teachers), active=active, left=left)


def _teacher_users(
    staff: _Staff, school: _School, metadata: Sequence[str]
) -> tuple[_Table, pa.Array]:
    """Users rows of the teachers, and their sourcedIds (lined up with the teachers)."""
    people = staff.columns
    ids = _guid(_join("leerkracht-", pc.coalesce(people["leerkrachtkey"], people["eckid"])))
    if ids.null_count:
        raise ConfigurationError(
            _(
                "{format}: {null_count} verwijderde leerkrachten hebben geen "
                "leerkrachtkey of eckid om ze mee te noemen; dit is een fout "
                "eerder in Sluis; er is niets geleverd"
            ).format(
                format=FORMAT,
                null_count=ids.null_count,
            )
        )
    columns: dict[str, pa.Array | str | None] = {
        "sourcedId": ids,
        "enabledUser": pc.if_else(staff.active, _large("true"), _large("false")),
        "username": ids,
        "givenName": _removed_name(people["roepnaam"]),
        "familyName": _family_name(people),
        "identifier": people["leerkrachtkey"],
        "email": people["emailadres"],
        "userMasterIdentifier": people["eckid"],
        "primaryOrgSourcedId": school.org,
    }
    columns.update({f"{_METADATA_PREFIX}{name}": people[name] for name in metadata})
    return _Table.of(people.length, staff.active, columns), ids


def _check_unique_users(ids: pa.Array) -> None:
    # Pupils were checked among themselves already: a clash now involves a teacher.
    doubled = len(ids) - pc.count_distinct(ids).as_py()
    if doubled:
        raise InputError(
            _(
                "{format}: {doubled} leerkrachten delen een sourcedId met een "
                "leerling of een andere leerkracht; controleer de sleutels van de "
                "leerkrachten in de export; er is niets geleverd"
            ).format(
                format=FORMAT,
                doubled=doubled,
            )
        )


def _roles(
    users: pa.Array,
    active: pa.Array | bool,
    role: str,
    school: _School,
    pupils: _Columns | None,
) -> _Table:
    return _Table.of(
        len(users),
        active,
        {
            "sourcedId": _guid(_join(users, f".{role}")),
            "userSourcedId": users,
            "roleType": "primary",
            "role": role,
            "beginDate": pupils["instroomdatum"] if pupils is not None else None,
            "endDate": pupils["uitstroomdatum"] if pupils is not None else None,
            "orgSourcedId": school.org,
        },
    )


def _demographics(pupils: _Columns, users: pa.Array, active: pa.Array) -> _Table:
    geslacht = pc.utf8_trim_whitespace(pupils["geslacht"])
    # NEN-ISO 5218 0 (onbekend) and 9 (niet gespecificeerd) have no OneRoster twin;
    # a missing geslacht stays blank (a null condition gives null).
    sex = pc.if_else(
        pc.equal(geslacht, _large("1")),
        _large("male"),
        pc.if_else(pc.equal(geslacht, _large("2")), _large("female"), _large("unspecified")),
    )
    return _Table.of(
        len(users),
        active,
        {"sourcedId": users, "birthDate": pupils["geboortedatum"], "sex": sex},
    )


def _student_enrollments(
    pupils: _Columns,
    users: pa.Array,
    active: pa.Array,
    previous: pa.Array | None,
    left: pa.Array | None,
) -> _Table:
    """Student enrollments: stamgroep, samengestelde groepen, and in delta the old ones.

    In delta, the previous stamgroep and every samengestelde groep the pupil left become
    `tobedeleted` enrollments.

    The class is still a groepskey (_groepskey); _finish_enrollments makes the ids.
    """
    count = len(users)
    parts = [
        _Table.of(
            count,
            active,
            {"_groepskey": pupils["groepskey"], "userSourcedId": users, "primary": "true"},
        )
    ]
    # Only pupils written as active are (still) in their samengestelde groepen.
    joined = pc.if_else(active, pupils["samengestelde_groepen"], pa.scalar(None, _STR))
    parts.append(_secondary_enrollments(joined, users, active=True))
    if previous is not None:
        parts.append(
            _Table.of(
                count,
                False,
                {"_groepskey": previous, "userSourcedId": users, "primary": "true"},
            )
        )
    if left is not None:
        parts.append(_secondary_enrollments(left, users, active=False))
    table = _Table.concat(parts)
    table = table.where(pc.is_valid(table.columns["_groepskey"]))
    return _Table.of(table.length, table.active, {**table.columns, "role": "student"})


def _secondary_enrollments(joined: pa.Array, users: pa.Array, *, active: bool) -> _Table:
    """One non-primary enrollment per key of each pupil's joined samengestelde groepen."""
    keys, rows = _split_keys(joined)
    return _Table.of(
        len(keys),
        active,
        {"_groepskey": keys, "userSourcedId": users.take(rows), "primary": "false"},
    )


def _teacher_enrollments(staff: _Staff, ids: pa.Array, live: pa.Array) -> _Table:
    """A teacher in each of its live groups; in delta, the groups it left are ended.

    An active teacher is enrolled in the groepen that are classes of delivered pupils; a
    removed one's groepen (those the supplier had) and a changed one's left groups become
    `tobedeleted` enrollments.
    """
    keys, rows = _split_keys(staff.columns["groepen"])
    active = staff.active.take(rows)
    keep = pc.or_(pc.invert(active), pc.is_in(keys, value_set=live))
    parts = [
        _Table.of(len(keys), active, {"_groepskey": keys, "userSourcedId": ids.take(rows)}).where(
            keep
        )
    ]
    if staff.left is not None:
        left_keys, left_rows = _split_keys(staff.left)
        parts.append(
            _Table.of(
                len(left_keys),
                False,
                {"_groepskey": left_keys, "userSourcedId": ids.take(left_rows)},
            )
        )
    table = _Table.concat(parts)
    return _Table.of(table.length, table.active, {**table.columns, "role": "teacher"})


def _finish_enrollments(table: _Table, school: _School) -> _Table:
    """Class ids and enrollment ids; one row per class and user, an active one first."""
    classes = _guid(_join(school.org, ".", table.columns["_groepskey"]))
    pairs = _join(classes, "\x1f", table.columns["userSourcedId"]).to_pylist()
    ids = pa.array(
        [
            _ENROLLMENT + hashlib.sha256(pair.encode("utf-8")).hexdigest()[:_HASH_DIGITS]
            for pair in pairs
        ],
        _STR,
    )
    order = pc.sort_indices(
        pa.table({"id": ids, "active": table.active}),
        sort_keys=[("id", "ascending"), ("active", "descending")],
    )
    ids = ids.take(order)
    # Sorted, the first row of each id is the one to keep (an active one when there is).
    first = (
        pa.concat_arrays([pa.array([True]), pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1))])
        if len(ids)
        else pa.array([], pa.bool_())
    )
    table = table.take(order)
    columns = {
        **table.columns,
        "sourcedId": ids,
        "classSourcedId": classes.take(order),
        "schoolSourcedId": school.org,
    }
    return _Table.of(table.length, table.active, columns).where(first)


@dataclass
class _Group:
    """What is known of one group; the first source that knows a value wins."""

    name: str | None = None
    jaargroep: str | None = None
    kind: str | None = None

    def learn(self, name: str | None, jaargroep: str | None, kind: str | None) -> None:
        """Fill in what is still unknown."""
        self.name = self.name or name
        self.jaargroep = self.jaargroep or jaargroep
        self.kind = self.kind or kind


def _groups(
    pupils: _Columns,
    active: pa.Array,
    context_groups: pd.DataFrame | None,
    class_keys: pa.Array,
) -> dict[str, _Group]:
    """Name, jaargroep and kind of every class, by groepskey, sorted.

    The context's groups come first; what they lack is taken from the active pupils:
    their groepsnaam, and the jaargroep of a stamgroep (C when its pupils are in
    several). A group's name and jaargroep are used only when the agreement lists them
    for the pupils. This loops over groups, a few dozen per school, never over pupils.
    """
    wanted = set(class_keys.to_pylist())
    groups = {key: _Group() for key in sorted(wanted)}
    if context_groups is not None and len(context_groups):
        given = _Columns(context_groups)
        rows = zip(
            given["groepskey"].to_pylist(),
            (given["groepsnaam"] if "groepsnaam" in pupils else _nulls(given.length)).to_pylist(),
            (given["jaargroep"] if "jaargroep" in pupils else _nulls(given.length)).to_pylist(),
            given["soort"].to_pylist(),
            strict=True,
        )
        for key, name, jaargroep, kind in rows:
            if key in groups:
                groups[key].learn(name, jaargroep, kind)
    stam = pa.table(
        {
            "key": pupils["groepskey"].filter(active),
            "name": pupils["groepsnaam"].filter(active),
            "jaargroep": pupils["jaargroep"].filter(active),
        }
    )
    summary = stam.group_by("key", use_threads=False).aggregate(
        [("name", "first"), ("jaargroep", "first"), ("jaargroep", "count_distinct")]
    )
    for row in summary.to_pylist():
        if row["key"] in groups:
            spread = row["jaargroep_count_distinct"]
            jaargroep = _COMBINATION if spread > 1 else row["jaargroep_first"]
            groups[row["key"]].learn(row["name_first"], jaargroep, _GROUP_STAM)
    for group in groups.values():
        # Only samengestelde groepen are left without a kind by now.
        group.learn(None, None, _GROUP_COMPOSITE)
    return groups


def _context_keys(groups: pd.DataFrame | None) -> pa.Array:
    """The group keys of the context (the delivered pupils' groups)."""
    if groups is None or not len(groups):
        return _nulls(0)
    return _Columns(groups)["groepskey"]


def _unique_keys(*arrays: pa.Array) -> pa.Array:
    """The distinct keys of the arrays, missing ones left out."""
    keys = pc.unique(pa.concat_arrays([array.cast(_STR) for array in arrays]))
    return keys.filter(pc.is_valid(keys))


def _ended_classes(enrollments: _Table, keys: pa.Array) -> dict[str, str]:
    """The classType of each class that is no longer live, by key, sorted.

    Only ended enrollments name such a class; one that was a pupil's stamgroep (a
    primary enrollment) is a homeroom, any other a scheduled class.
    """
    if not len(keys):
        return {}
    named = enrollments.where(pc.is_in(enrollments.columns["_groepskey"], value_set=keys))
    primary = named.columns.get("primary", _nulls(named.length))
    homerooms = set(
        named.columns["_groepskey"]
        .filter(pc.fill_null(pc.equal(primary, _large("true")), False))
        .to_pylist()
    )
    return {
        key: "homeroom" if key in homerooms else "scheduled" for key in sorted(keys.to_pylist())
    }


def _classes_and_courses(
    groups: Mapping[str, _Group],
    ended: Mapping[str, str],
    live_courses: set[str],
    school: _School,
) -> tuple[_Table, _Table]:
    """Classes: the live ones `active`, the ended ones `tobedeleted`; and their courses.

    An ended class is no longer a group of any delivered pupil, so what it was (its name,
    jaargroep and course) is not known any more: it is titled by its key under the
    "Groepen" course, which is only repeated as active while a live group is in it.
    """
    keys = list(groups)
    jaargroepen = [group.jaargroep for group in groups.values()]
    course_of = {code: _course_id(code, school) for code in dict.fromkeys(jaargroepen)}
    ended_keys = list(ended)
    if ended_keys:
        course_of.setdefault(None, _course_id(None, school))
    classes = _Table.of(
        len(keys) + len(ended_keys),
        pa.array([True] * len(keys) + [False] * len(ended_keys), pa.bool_()),
        {
            "sourcedId": _guid(
                pa.array([f"{school.org}.{key}" for key in (*keys, *ended_keys)], _STR)
            ),
            "title": pa.array(
                [group.name or key for key, group in groups.items()] + ended_keys, _STR
            ),
            "grades": pa.array([_grade(code) for code in jaargroepen] + [None] * len(ended), _STR),
            "courseSourcedId": pa.array(
                [course_of[code] for code in jaargroepen] + [_course_id(None, school)] * len(ended),
                _STR,
            ),
            "classType": pa.array(
                [
                    "scheduled" if group.kind == _GROUP_COMPOSITE else "homeroom"
                    for group in groups.values()
                ]
                + list(ended.values()),
                _STR,
            ),
            "schoolSourcedId": school.org,
            "termSourcedIds": school.session,
        },
    )
    codes = list(course_of)
    used = {course_of[code] for code in jaargroepen}
    courses = _Table.of(
        len(codes),
        pa.array(
            [course_of[code] in used or course_of[code] in live_courses for code in codes],
            pa.bool_(),
        ),
        {
            "sourcedId": pa.array(list(course_of.values()), _STR),
            "schoolYearSourcedId": school.session,
            "title": pa.array([_course_title(code) for code in codes], _STR),
            "courseCode": pa.array(codes, _STR),
            "grades": pa.array([_grade(code) for code in codes], _STR),
            "orgSourcedId": school.org,
        },
    )
    return classes, courses


def _course_id(code: str | None, school: _School) -> str:
    return _guid_one(f"{school.org}.jaargroep-{code}" if code else f"{school.org}.groepen")


def _course_title(code: str | None) -> str:
    if code is None:
        return "Groepen"
    return "Combinatiegroepen" if code == _COMBINATION else f"Jaargroep {code}"


def _grade(code: str | None) -> str | None:
    # A combination group's pupils carry their own grades; the group has no single one.
    return None if code == _COMBINATION else code


# -- bytes -------------------------------------------------------------------------------------


def _csv(header: Sequence[str], table: _Table, text: frozenset[str]) -> bytes:
    """One CSV file: the header, then one CRLF line per row, cells as the CSV format makes them."""
    head = ",".join(header) + _EOL
    arrays = [table.columns.get(name, _nulls(table.length)) for name in header]
    text_flags = [name in text for name in header]
    return head.encode("utf-8") + join_cells(arrays, text_flags, separator=",", eol=_EOL)
