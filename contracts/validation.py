"""Validate schools' raw exports against the contracts; split valid rows from quarantine.

Pandera runs lazily so every problem of every row is found in one pass. The quarantine
report is built from pandera's failure cases *without* their value column: it says file,
line, leerlingkey, column, rule and what to fix, never what the value was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from connectors.errors import SourceFormatError
from connectors.i18n import _
from connectors.identifiers import passes_elfproef, readable_keys
from connectors.sources.base import GROUP_KEY_SEPARATOR, SOURCE_FILE, SOURCE_LINE, SchoolExport
from contracts.codes import JAARGROEP_COMBINATIE
from contracts.consent_spelling import normalise_consents
from contracts.consents import ConsentRecord
from contracts.groups import GROUP_KIND_COMPOSITE, GROUP_KIND_STAM, GroupRecord
from contracts.pupils import ECKID_LEGACY, ECKID_MODERN, PupilRecord
from contracts.rules import hint_for
from contracts.school_header import checked_school
from contracts.unreadable_consents import no_unreadable_consents, unreadable_consents

__all__ = [
    "PROBLEM_COLUMNS",
    "ConsentValidation",
    "SchoolHeader",
    "ValidatedSchool",
    "reference_peildatum",
    "rule_name",
    "validate_consents",
    "validate_school",
    "validate_schools",
]

PROBLEM_COLUMNS = (
    "subject",  # leerling, groep or toestemming
    SOURCE_FILE,
    SOURCE_LINE,
    "leerlingkey",
    "column",
    "rule",
    "severity",  # error: the row is quarantined; warning: it goes on, but look at it
    "hint",
)

# Primary education runs from about 4 to 12; peutergroepen start at 2, and pupils in
# special education or held back stay until 14. Outside that, the date is a typo.
MIN_AGE_YEARS = 2
MAX_AGE_YEARS = 14

DATE_COLUMNS = ("geboortedatum", "start_ondw_jgr3", "instroomdatum", "uitstroomdatum")

# A dataframe-level check reports every column of a failing row; this says which column
# the coordinator has to look at.
_DATAFRAME_CHECK_COLUMN = {"name_rule": "achternaam", "stamgroep_jaargroep": "jaargroep"}


class SchoolHeader:
    """The names a school goes by, read from its header (`school`): BRIN and school year."""

    school: dict[str, str | None]

    @property
    def brincode(self) -> str:
        """The school's BRIN (canonical): used in folder names, lineage and locks."""
        return self.school["brincode"] or ""

    @property
    def schooljaar(self) -> str:
        """The export's school year, e.g. 2026-2027."""
        return self.school.get("schooljaar") or ""


@dataclass(frozen=True)
class ValidatedSchool(SchoolHeader):
    """One school after validation.

    Attributes:
        export: the raw export it came from (path, hash, school header).
        school: the school header.
        pupils: valid pupils, PupilRecord columns.
        groups: valid groups, GroupRecord columns.
        consents: valid consent rows, ConsentRecord columns (all years; policy picks).
        unreadable_consents: the withdrawals refused consent rows stand for (see
            contracts.unreadable_consents); policy withholds those pupils.
        problems: the quarantine report rows, PROBLEM_COLUMNS, no values.
        input_pupils: number of pupil rows in the export.
        quarantined_pupils: number of pupils withheld from every supplier as invalid.
        reference_date: the date 'not in the future' was judged against.
    """

    export: SchoolExport
    school: dict[str, str | None]
    pupils: pd.DataFrame
    groups: pd.DataFrame
    consents: pd.DataFrame
    problems: pd.DataFrame
    input_pupils: int
    quarantined_pupils: int
    reference_date: date
    unreadable_consents: pd.DataFrame = field(default_factory=no_unreadable_consents)


def reference_peildatum(school: dict[str, str | None]) -> pd.Timestamp:
    """Return the date ages are judged at: the peildatum, else 1 October of the school year."""
    peildatum = school.get("peildatum")
    if peildatum:
        parsed = pd.to_datetime(peildatum, format="%Y-%m-%d", errors="coerce")
        if not pd.isna(parsed):
            return pd.Timestamp(parsed)
    first_year = int((school.get("schooljaar") or "1970-1971")[:4])
    return pd.Timestamp(year=first_year, month=10, day=1)


def _parsed(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, format="%Y-%m-%d", errors="coerce")


def _pupil_schema(
    pupils: pd.DataFrame,
    groups: pd.DataFrame,
    vestigingen: pd.DataFrame,
    peildatum: pd.Series,
    today: date,
) -> pa.DataFrameSchema:
    """The declared PupilRecord plus the checks that depend on this batch and this run.

    Args:
        pupils: the batch's pupils; checks look up each row's export through its index.
        groups: the batch's valid groups.
        vestigingen: the batch's vestigingen (school locations).
        peildatum: reference date per export file (index: source_file).
        today: the run date.
    """
    schema = PupilRecord.to_schema()
    today_ts = pd.Timestamp(today)
    file_of = pupils[SOURCE_FILE]
    row_peildatum = file_of.map(peildatum)
    latest_birth = row_peildatum - pd.DateOffset(years=MIN_AGE_YEARS)
    earliest_birth = row_peildatum - pd.DateOffset(years=MAX_AGE_YEARS + 1)
    stam = groups.loc[groups["soort"] == GROUP_KIND_STAM]
    composite = groups.loc[groups["soort"] == GROUP_KIND_COMPOSITE]
    stam_pairs = pd.MultiIndex.from_frame(stam[[SOURCE_FILE, "groepskey"]])
    composite_pairs = pd.MultiIndex.from_frame(composite[[SOURCE_FILE, "groepskey"]])
    vestiging_pairs = pd.MultiIndex.from_frame(vestigingen[[SOURCE_FILE, "vestigingkey"]])

    def known(pairs: pd.MultiIndex, keys: pd.Series) -> pd.Series:
        wanted = pd.MultiIndex.from_arrays([file_of.loc[keys.index], keys])
        return pd.Series(wanted.isin(pairs), index=keys.index)

    def composite_refs_exist(series: pd.Series) -> pd.Series:
        keys = series.str.split(GROUP_KEY_SEPARATOR).explode().str.strip()
        return known(composite_pairs, keys).groupby(level=0).all()

    def plausible(series: pd.Series) -> pd.Series:
        born = _parsed(series)
        too_young = born > latest_birth.loc[series.index]
        too_old = born <= earliest_birth.loc[series.index]
        return ~(too_young | too_old)

    extra: dict[str, list[pa.Check]] = {
        "geboortedatum": [
            pa.Check(lambda s: _parsed(s).notna(), name="date_valid"),
            pa.Check(lambda s: ~(_parsed(s) > today_ts), name="not_in_future"),
            pa.Check(plausible, name="plausible_age"),
        ],
        "jaargroep": [pa.Check(lambda s: s != JAARGROEP_COMBINATIE, name="jaargroep_per_pupil")],
        "groepskey": [pa.Check(lambda s: known(stam_pairs, s), name="group_reference")],
        "vestiging": [pa.Check(lambda s: known(vestiging_pairs, s), name="vestiging_reference")],
        "samengestelde_groepen": [pa.Check(composite_refs_exist, name="composite_group_reference")],
    }
    for column in DATE_COLUMNS[1:]:
        extra[column] = [pa.Check(lambda s: _parsed(s).notna(), name="date_valid")]
    return schema.update_columns(
        {
            column: {"checks": [*schema.columns[column].checks, *checks]}
            for column, checks in extra.items()
        }
    )


def rule_name(column: str, check: str) -> str:
    """Turn a pandera check name into a stable rule id for reports and lineage."""
    if check in _DATAFRAME_CHECK_COLUMN:
        return check
    builtin = {
        "not_nullable": "required",
        "field_uniqueness": "unique",
        "isin": "code",
        "str_matches": "format",
        "str_length": "length",
        "dtype": "type",
    }
    for prefix, suffix in builtin.items():
        if check.startswith(prefix):
            return f"{column}_{suffix}"
    return check


def _run(
    schema: pa.DataFrameSchema, frame: pd.DataFrame, what: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate lazily; return (failing rows index, column, rule) and the valid frame."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        # The value lives in failure_case; it is dropped here, before anything else sees it.
        cases = cases.drop(columns=["failure_case"])
        structural = cases[cases["index"].isna()]
        if not structural.empty:
            first = structural.iloc[0]
            raise SourceFormatError(
                _(
                    "{what}: de kolom {column} past niet in het contract ({check}); dit is een "
                    "fout in de lezer, meld die alstublieft"
                ).format(what=what, column=first["column"], check=first["check"])
            ) from None
        cases = cases.assign(index=cases["index"].astype("int64"))
        columns = cases["check"].map(_DATAFRAME_CHECK_COLUMN).fillna(cases["column"])
        failures = pd.DataFrame(
            {
                "index": cases["index"].to_numpy(),
                "column": columns.astype("str").to_numpy(),
                "rule": [rule_name(c, k) for c, k in zip(columns, cases["check"], strict=True)],
            }
        ).drop_duplicates()
        return failures, frame.drop(index=failures["index"].unique())
    return pd.DataFrame({"index": [], "column": [], "rule": []}), frame


def _problems(
    subject: str, frame: pd.DataFrame, failures: pd.DataFrame, *, severity: str = "error"
) -> pd.DataFrame:
    rows = frame.loc[failures["index"].to_numpy()]
    key = rows["leerlingkey"] if "leerlingkey" in rows else pd.Series(pd.NA, index=rows.index)
    return pd.DataFrame(
        {
            "subject": subject,
            SOURCE_FILE: rows[SOURCE_FILE].to_numpy(),
            SOURCE_LINE: rows[SOURCE_LINE].to_numpy(),
            "leerlingkey": key.to_numpy(),
            "column": failures["column"].to_numpy(),
            "rule": failures["rule"].to_numpy(),
            "severity": severity,
            "hint": [hint_for(rule, subject) for rule in failures["rule"]],
        },
        columns=list(PROBLEM_COLUMNS),
    )


def _with_groups(pupils: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    """Add groepsnaam and fill a missing jaargroep from a stamgroep that is not combined."""
    stam = groups.loc[
        groups["soort"] == GROUP_KIND_STAM, [SOURCE_FILE, "groepskey", "groepsnaam", "jaargroep"]
    ].rename(columns={"jaargroep": "groep_jaargroep"})
    merged = pupils.merge(stam, on=[SOURCE_FILE, "groepskey"], how="left", validate="many_to_one")
    merged.index = pupils.index
    derivable = merged["groep_jaargroep"].where(merged["groep_jaargroep"] != JAARGROEP_COMBINATIE)
    merged["jaargroep"] = merged["jaargroep"].fillna(derivable)
    return merged.drop(columns=["groep_jaargroep"])


def _teacher_reference_failures(teachers: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    """Teachers linked to a group the export does not hold.

    A warning, not quarantine: teachers are not delivered, but a broken link usually means
    a group was left out of the export.
    """
    if teachers.empty:
        return pd.DataFrame({"index": [], "column": [], "rule": []})
    links = teachers["groepen"].str.split(GROUP_KEY_SEPARATOR).explode().dropna().str.strip()
    known = pd.MultiIndex.from_frame(groups[[SOURCE_FILE, "groepskey"]])
    wanted = pd.MultiIndex.from_arrays([teachers.loc[links.index, SOURCE_FILE], links])
    broken = links.index[~wanted.isin(known)].unique()
    return pd.DataFrame({"index": broken, "column": "groepen", "rule": "teacher_group_reference"})


def _concat(frames: list[pd.DataFrame]) -> tuple[pd.DataFrame, np.ndarray]:
    """One frame for the batch, and for each row the position of the school it belongs to."""
    owner = np.repeat(np.arange(len(frames)), [len(f) for f in frames])
    return pd.concat(frames, ignore_index=True), owner


def _split(frame: pd.DataFrame, owner: pd.Series, count: int) -> list[pd.DataFrame]:
    """Split a batch frame back into one frame per school, in school order."""
    groups = dict(tuple(frame.groupby(owner.loc[frame.index].to_numpy(), sort=False)))
    empty = frame.iloc[0:0]
    return [groups.get(i, empty).reset_index(drop=True) for i in range(count)]


@dataclass(frozen=True)
class ConsentValidation:
    """Consent rows after validation.

    Attributes:
        valid: the readable rows, ConsentRecord columns, in canonical spelling.
        unreadable: the withdrawals the refused rows stand for (UNREADABLE_COLUMNS).
        problems: the report rows of the refused ones, PROBLEM_COLUMNS.
        failures: the contract's failures: index (of the input), column, rule.
    """

    valid: pd.DataFrame
    unreadable: pd.DataFrame
    problems: pd.DataFrame
    failures: pd.DataFrame


def validate_consents(raw: pd.DataFrame) -> ConsentValidation:
    """Read consent rows in every accepted spelling and check them against the contract.

    Every spelling is turned into the canonical one first, so the contract refuses only
    what could not be read; each refused row may still withdraw consent (see
    contracts.unreadable_consents). The frame may hold the rows of several schools.

    Args:
        raw: rows as the consent reader returns them.
    """
    rows = normalise_consents(raw)
    failures, valid = _run(ConsentRecord.to_schema(), rows, "consents")
    # The report shows the key without its control characters: it is what to look for.
    shown = rows.assign(leerlingkey=readable_keys(rows["leerlingkey"]))
    return ConsentValidation(
        valid=valid,
        unreadable=unreadable_consents(rows, failures),
        problems=_problems("toestemming", shown, failures),
        failures=failures,
    )


def validate_schools(
    items: Sequence[tuple[SchoolExport, pd.DataFrame]], *, today: date
) -> list[ValidatedSchool]:
    """Validate a batch of schools' exports and consents in one pass per contract.

    One pandera call per contract for the whole batch instead of one per school: pandera's
    cost per call and per column is what dominates at a few hundred pupils per school.
    Every rule that is per school (keys, group references, ages) is partitioned by the
    export file, so the result is the same as validating each school alone.

    Args:
        items: (raw export, raw consent rows) per school.
        today: the run date; birth dates after it are errors.

    Returns:
        One ValidatedSchool per item, in the same order.
    """
    exports = [export for export, _ in items]
    # Which school an export is comes first: nothing is filed under anything but a BRIN.
    headers = [checked_school(export) for export in exports]
    count = len(exports)
    groups_raw, group_owner = _concat([e.groups for e in exports])
    group_failures, groups = _run(GroupRecord.to_schema(), groups_raw, "groups")
    group_problems = _problems("groep", groups_raw, group_failures)

    pupils_raw, pupil_owner_array = _concat([e.pupils for e in exports])
    pupil_owner = pd.Series(pupil_owner_array, index=pupils_raw.index)
    pupils_in = _with_groups(pupils_raw, groups)[list(PupilRecord.to_schema().columns)]
    # Sources write str(path) as every row's source_file.
    peildatum = pd.Series(
        [reference_peildatum(e.school) for e in exports],
        index=[str(e.path) for e in exports],
        dtype="datetime64[ns]",
    )
    vestigingen = pd.concat([e.vestigingen for e in exports], ignore_index=True)
    schema = _pupil_schema(pupils_in, groups, vestigingen, peildatum, today)
    pupil_failures, pupils = _run(schema, pupils_in, "pupils")
    pupil_problems = _problems("leerling", pupils_in, pupil_failures)
    # Name the combination group: the coordinator fixes it per group, and a group name is
    # the school's, not a pupil's.
    group_names = pupils_in["groepsnaam"].reindex(pupil_failures["index"].to_numpy()).to_numpy()
    combined = (pupil_problems["rule"] == "jaargroep_required").to_numpy() & pd.notna(group_names)
    if combined.any():
        pupil_problems.loc[combined, "hint"] = [
            f"{name} is een combinatiegroep: vul de jaargroep per leerling in."
            for name in group_names[combined]
        ]

    legacy = pupils["eckid"].notna() & ~pupils["eckid"].str.match(ECKID_MODERN, na=False)
    legacy &= pupils["eckid"].str.match(ECKID_LEGACY, na=False)
    warnings = pd.concat(
        [
            pd.DataFrame(
                {"index": pupils.index[legacy], "column": "eckid", "rule": "eckid_legacy"}
            ),
            # A key or user name that passes the elfproef is probably a BSN: suppliers that
            # would receive it do not get the pupil (policy), and the school should know.
            *(
                pd.DataFrame(
                    {
                        "index": pupils.index[passes_elfproef(pupils[column]).to_numpy()],
                        "column": column,
                        "rule": f"{column}_bsn",
                    }
                )
                for column in ("leerlingkey", "gebruikersnaam")
            ),
        ],
        ignore_index=True,
    )
    eckid_warnings = _problems("leerling", pupils, warnings, severity="warning")

    teachers_raw, teacher_owner_array = _concat([e.teachers for e in exports])
    teacher_refs = _teacher_reference_failures(teachers_raw, groups)
    teacher_problems = _problems("leerkracht", teachers_raw, teacher_refs, severity="warning")

    consents_raw, consent_owner_array = _concat([c for _, c in items])
    consent_owner = pd.Series(consent_owner_array, index=consents_raw.index)
    consented = validate_consents(consents_raw)
    consent_failures, consents = consented.failures, consented.valid
    unreadable, consent_problems = consented.unreadable, consented.problems

    quarantined = (
        pupil_owner.loc[pupil_failures["index"].unique()].value_counts()
        if len(pupil_failures)
        else pd.Series(dtype="int64")
    )
    problem_parts = [
        (group_problems, pd.Series(group_owner, index=groups_raw.index), group_failures),
        (pupil_problems, pupil_owner, pupil_failures),
        (eckid_warnings, pupil_owner, warnings),
        (
            teacher_problems,
            pd.Series(teacher_owner_array, index=teachers_raw.index),
            teacher_refs,
        ),
        (consent_problems, consent_owner, consent_failures),
    ]
    per_school_problems: list[list[pd.DataFrame]] = [[] for _ in range(count)]
    for problems, owner, failures in problem_parts:
        if problems.empty:
            continue
        owners = owner.loc[failures["index"].to_numpy()].to_numpy()
        for position, part in problems.groupby(owners, sort=False):
            per_school_problems[int(position)].append(part)

    pupils_by_school = _split(pupils, pupil_owner, count)
    groups_by_school = _split(groups, pd.Series(group_owner, index=groups_raw.index), count)
    consents_by_school = _split(consents, consent_owner, count)
    unreadable_by_school = _split(unreadable, consent_owner, count)
    empty_problems = pd.DataFrame(columns=list(PROBLEM_COLUMNS))
    return [
        ValidatedSchool(
            export=export,
            school=headers[i],
            pupils=pupils_by_school[i],
            groups=groups_by_school[i],
            consents=consents_by_school[i],
            problems=pd.concat(per_school_problems[i], ignore_index=True)
            if per_school_problems[i]
            else empty_problems,
            input_pupils=len(export.pupils),
            quarantined_pupils=int(quarantined.get(i, 0)),
            reference_date=today,
            unreadable_consents=unreadable_by_school[i],
        )
        for i, export in enumerate(exports)
    ]


def validate_school(
    export: SchoolExport, consents: pd.DataFrame, *, today: date
) -> ValidatedSchool:
    """Validate one school's export and consents (a batch of one)."""
    return validate_schools([(export, consents)], today=today)[0]


def problem_counts(problems: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Count problems by (column, rule, severity), for lineage: no keys, no lines."""
    if problems.empty:
        return []
    counts = problems.groupby(["column", "rule", "severity"], dropna=False).size()
    return [(col, rule, sev, int(n)) for (col, rule, sev), n in counts.items()]
