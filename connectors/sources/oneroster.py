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

This module is the source; the reading is split by seam: `oneroster_rules` (files,
headers, limits, rule ids and their error), `oneroster_package` (folder or zip, within
the limits), `oneroster_csv` (one file's records, lines, header and parse),
`oneroster_reader` (manifest, structure, rows, school and school year),
`oneroster_people` (pupils, teachers, groups) and `oneroster_values` (value mapping).
"""

from __future__ import annotations

from pathlib import Path

from connectors.errors import ConfigurationError
from connectors.i18n import _
from connectors.oneroster_spec import (
    MANIFEST_FILES,
)
from connectors.sources.base import SchoolExport, unreadable
from connectors.sources.oneroster_package import Package
from connectors.sources.oneroster_reader import OneRosterReader
from connectors.sources.oneroster_rules import FORMAT, SPEC_HEADERS, VERSIONS

__all__ = ["MANIFEST_FILES", "ONEROSTER_SOURCE", "SPEC_HEADERS", "VERSIONS", "OneRosterSource"]


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
            with Package.open(path) as package:
                reader = OneRosterReader(package)
                return reader.read()
        except OSError as exc:
            raise unreadable(path, exc, _("het OneRoster-pakket")) from None


ONEROSTER_SOURCE = OneRosterSource()
