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

import pandas as pd

from connectors.errors import ConfigurationError
from connectors.formats.base import (
    AgreementAsk,
    DataFile,
    Format,
    FormatSpec,
    RenderRequest,
    check_frame,
)
from connectors.formats.oneroster_arrays import Table
from connectors.formats.oneroster_columns import (
    FORMAT,
    HEADERS,
    IDENTIFIER_FIELDS,
    MANIFEST_FILES,
    NEEDED_FIELDS,
    NEEDED_TEACHER_FIELDS,
    ONEROSTER_VERSION,
    PUPIL_NEEDS,
    REMOVED_NAME,
    TEACHER_IDS,
    TEACHER_NEEDS,
)
from connectors.formats.oneroster_package import Package, csv_file
from connectors.i18n import _

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


# The writer's tests reach these by the names they had before the module was split.
_csv = csv_file
_Table = Table


class OneRosterFormat(Format):
    """Renders the delivered pupils of one school as a OneRoster 1.2 CSV zip.

    It takes no options and needs the RenderContext: the school header, the run's
    timestamp, the mode (full is OneRoster bulk, delta is delta), the groups, the
    teachers and the identifier policy. See the module docstring for the mapping.
    """

    spec = FormatSpec(
        name=FORMAT,
        flat=False,
        # Delta rows say tobedeleted for a removed pupil.
        expresses_deletions=True,
        # A bulk package without users cannot say that nobody is left: users.csv is then
        # absent, which tells an importer nothing.
        needs_a_pupil=frozenset({None}),
        pupil_needs=PUPIL_NEEDS,
        teacher_needs=TEACHER_NEEDS,
    )

    def write(self, frame: pd.DataFrame, request: RenderRequest) -> list[DataFile]:
        """Render the pupils (and the context's groups and teachers) as one OneRoster zip.

        Args:
            frame: the delivered pupils, one row each, columns the agreement's fields;
                it is not mutated.
            request: the basename (file name without extension), no options (OneRoster
                has none), and the context, required: the school, run timestamp, mode,
                changes, groups, teachers and identifier policy.

        Returns:
            One data file, `<basename>.zip`; its rows are the pupils' users records.

        Raises:
            ConfigurationError: an option, no context, an unknown mode or identifier
                policy, a frame without the columns OneRoster needs, or delta changes
                that do not line up with the frame.
            InputError: the school header has no BRIN code or school year, pupils lack
                their identifier or share one, or a text value is not valid Unicode.
        """
        basename, context = request.basename, request.context
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
            package = Package.build(frame, context)
            content = package.zip()
        except UnicodeEncodeError:
            raise self.not_unicode(basename) from None
        return [DataFile(name=f"{basename}.zip", content=content, rows=package.students)]

    def problems_of(self, ask: AgreementAsk) -> list[str]:
        """What an agreement lacks for OneRoster, one line per problem, key first.

        Pupils need roepnaam and achternaam (givenName and familyName are required),
        groepskey (classes and enrollments) and brincode (the org), plus the columns of
        the identifier policy: eckid; eckid and leerlingkey; leerlingkey; pseudoniem.
        Teachers, when listed, need leerkrachtkey or eckid, roepnaam, achternaam and
        groepen. OneRoster has no profiles; full and delta are both fine. Fields without
        a OneRoster column are no problem: they go to metadata.* columns of users.csv.
        """
        problems = []
        listed = set(ask.fields)
        fix = _("voeg het toe aan fields, of gebruik format csv of parquet")
        for name, why in NEEDED_FIELDS:
            if name not in listed:
                problems.append(
                    _("fields: {format} heeft {name} nodig ({why}); {fix}").format(
                        format=FORMAT, name=name, why=_(why), fix=fix
                    )
                )
        needed = IDENTIFIER_FIELDS.get(ask.identifier)
        if needed is None:
            problems.append(
                _(
                    "identifier: {format} kent het identifierbeleid {identifier} niet; "
                    "toegestaan: {allowed}"
                ).format(
                    format=FORMAT,
                    identifier=repr(ask.identifier),
                    allowed=", ".join(IDENTIFIER_FIELDS),
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
                        ).format(format=FORMAT, identifier=ask.identifier, name=name)
                    )
        if ask.mode not in ("full", "delta"):
            problems.append(
                _("mode: {format} kent full (bulk) en delta, niet {mode}").format(
                    format=FORMAT, mode=repr(ask.mode)
                )
            )
        if ask.teacher_fields:
            listed_teacher = set(ask.teacher_fields)
            if not listed_teacher & set(TEACHER_IDS):
                problems.append(
                    _(
                        "teacher_fields: {format} heeft leerkrachtkey of eckid nodig (de "
                        "sourcedId van een leerkracht wordt ervan gemaakt); voeg er een toe aan "
                        "teacher_fields"
                    ).format(format=FORMAT)
                )
            for name, why in NEEDED_TEACHER_FIELDS:
                if name not in listed_teacher:
                    problems.append(
                        _(
                            "teacher_fields: {format} heeft {name} nodig ({why}); voeg het toe "
                            "aan teacher_fields, of noem geen leerkrachtvelden"
                        ).format(format=FORMAT, name=name, why=_(why))
                    )
        if ask.profile is not None:
            problems.append(
                _("format.profile: {format} heeft geen profielen; verwijder profile").format(
                    format=FORMAT
                )
            )
        return problems
