"""Validate one school's raw export against the contracts; split valid rows from quarantine.

Pandera runs lazily so every problem of every row is found in one pass. The quarantine
report is built from pandera's failure cases *without* their value column: it says file,
line, leerlingkey, column, rule and what to fix, never what the value was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
import pandera.pandas as pa

from connectors.errors import SourceFormatError
from connectors.sources.base import GROUP_KEY_SEPARATOR, SOURCE_FILE, SOURCE_LINE, SchoolExport
from contracts.codes import JAARGROEP_COMBINATIE
from contracts.consents import ConsentRecord
from contracts.groups import GROUP_KIND_COMPOSITE, GROUP_KIND_STAM, GroupRecord
from contracts.pupils import ECKID_LEGACY, ECKID_MODERN, PupilRecord
from contracts.rules import hint_for

__all__ = [
    "PROBLEM_COLUMNS",
    "ValidatedSchool",
    "reference_peildatum",
    "validate_consents",
    "validate_school",
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


@dataclass(frozen=True)
class ValidatedSchool:
    """One school after validation.

    Attributes:
        export: the raw export it came from (path, hash, school header).
        school: the school header.
        pupils: valid pupils, PupilRecord columns.
        groups: valid groups, GroupRecord columns.
        consents: valid consent rows, ConsentRecord columns (all years; policy picks).
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

    @property
    def brincode(self) -> str:
        """School identifier used in folder names and lineage."""
        return (
            self.school.get("brincode")
            or self.school.get("instellingsnummer")
            or self.school.get("schoolkey")
            or "onbekend"
        )

    @property
    def schooljaar(self) -> str:
        """The export's school year, e.g. 2026-2027."""
        return self.school.get("schooljaar") or ""


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
    stam_keys: pd.Index, composite_keys: pd.Index, peildatum: pd.Timestamp, today: date
) -> pa.DataFrameSchema:
    """The declared PupilRecord plus the checks that depend on this export and this run."""
    schema = PupilRecord.to_schema()
    today_ts = pd.Timestamp(today)
    latest_birth = peildatum - pd.DateOffset(years=MIN_AGE_YEARS)
    earliest_birth = peildatum - pd.DateOffset(years=MAX_AGE_YEARS + 1)

    def composite_refs_exist(series: pd.Series) -> pd.Series:
        keys = series.str.split(GROUP_KEY_SEPARATOR).explode().str.strip()
        return keys.isin(composite_keys).groupby(level=0).all()

    extra: dict[str, list[pa.Check]] = {
        "geboortedatum": [
            pa.Check(lambda s: _parsed(s).notna(), name="date_valid"),
            pa.Check(lambda s: ~(_parsed(s) > today_ts), name="not_in_future"),
            pa.Check(
                lambda s: ~((_parsed(s) > latest_birth) | (_parsed(s) <= earliest_birth)),
                name="plausible_age",
            ),
        ],
        "jaargroep": [pa.Check(lambda s: s != JAARGROEP_COMBINATIE, name="jaargroep_per_pupil")],
        "groepskey": [pa.Check(lambda s: s.isin(stam_keys), name="group_reference")],
        "samengestelde_groepen": [pa.Check(composite_refs_exist, name="composite_group_reference")],
    }
    for column in DATE_COLUMNS[1:]:
        extra[column] = [pa.Check(lambda s: _parsed(s).notna(), name="date_valid")]
    for column, checks in extra.items():
        schema = schema.update_column(column, checks=[*schema.columns[column].checks, *checks])
    return schema


def _rule_name(column: str, check: str) -> str:
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
                f"{what}: the {first['column']} column does not fit the contract "
                f"({first['check']}); this is a defect in the reader, please report it"
            ) from None
        cases = cases.assign(index=cases["index"].astype("int64"))
        columns = cases["check"].map(_DATAFRAME_CHECK_COLUMN).fillna(cases["column"])
        failures = pd.DataFrame(
            {
                "index": cases["index"].to_numpy(),
                "column": columns.astype("str").to_numpy(),
                "rule": [_rule_name(c, k) for c, k in zip(columns, cases["check"], strict=True)],
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
            "hint": [hint_for(rule) for rule in failures["rule"]],
        },
        columns=list(PROBLEM_COLUMNS),
    )


def _with_groups(pupils: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    """Add groepsnaam and fill a missing jaargroep from a stamgroep that is not combined."""
    stam = groups.loc[groups["soort"] == GROUP_KIND_STAM, ["groepskey", "groepsnaam", "jaargroep"]]
    stam = stam.rename(columns={"jaargroep": "groep_jaargroep"})
    merged = pupils.merge(stam, on="groepskey", how="left", validate="many_to_one")
    merged.index = pupils.index
    derivable = merged["groep_jaargroep"].where(merged["groep_jaargroep"] != JAARGROEP_COMBINATIE)
    merged["jaargroep"] = merged["jaargroep"].fillna(derivable)
    return merged.drop(columns=["groep_jaargroep"])


def validate_consents(consents: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate consent rows; return (valid rows, problems). Invalid rows count as no consent."""
    failures, valid = _run(ConsentRecord.to_schema(), consents, "consent export")
    return valid, _problems("toestemming", consents, failures)


def validate_school(
    export: SchoolExport, consents: pd.DataFrame, *, today: date
) -> ValidatedSchool:
    """Validate one school's export and consents.

    Args:
        export: raw frames from a source.
        consents: raw consent rows from connectors.sources.consents.
        today: the run date; birth dates after it are errors.

    Returns:
        The valid rows, and a problems frame for the quarantine report.
    """
    group_failures, groups = _run(GroupRecord.to_schema(), export.groups, str(export.path))
    group_problems = _problems("groep", export.groups, group_failures)
    # Keys of invalid groups are not known-good, so their pupils fail the reference rule.
    stam_keys = pd.Index(groups.loc[groups["soort"] == GROUP_KIND_STAM, "groepskey"])
    composite_keys = pd.Index(groups.loc[groups["soort"] == GROUP_KIND_COMPOSITE, "groepskey"])

    raw = export.pupils.reset_index(drop=True)
    pupils_in = _with_groups(raw, groups)[list(PupilRecord.to_schema().columns)]
    schema = _pupil_schema(stam_keys, composite_keys, reference_peildatum(export.school), today)
    pupil_failures, pupils = _run(schema, pupils_in, str(export.path))
    pupil_problems = _problems("leerling", pupils_in, pupil_failures)

    legacy = pupils["eckid"].notna() & ~pupils["eckid"].str.match(ECKID_MODERN, na=False)
    legacy &= pupils["eckid"].str.match(ECKID_LEGACY, na=False)
    warnings = pd.DataFrame(
        {"index": pupils.index[legacy], "column": "eckid", "rule": "eckid_legacy"}
    )
    eckid_warnings = _problems("leerling", pupils, warnings, severity="warning")

    valid_consents, consent_problems = validate_consents(consents)
    problems = pd.concat(
        [
            frame
            for frame in (group_problems, pupil_problems, eckid_warnings, consent_problems)
            if not frame.empty
        ]
        or [pd.DataFrame(columns=list(PROBLEM_COLUMNS))],
        ignore_index=True,
    )
    return ValidatedSchool(
        export=export,
        school=dict(export.school),
        pupils=pupils.reset_index(drop=True),
        groups=groups.reset_index(drop=True),
        consents=valid_consents.reset_index(drop=True),
        problems=problems,
        input_pupils=len(raw),
        quarantined_pupils=int(pupil_failures["index"].nunique()),
        reference_date=today,
    )


def problem_counts(problems: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Count problems by (column, rule, severity), for lineage: no keys, no lines."""
    if problems.empty:
        return []
    counts = problems.groupby(["column", "rule", "severity"], dropna=False).size()
    return [(col, rule, sev, int(n)) for (col, rule, sev), n in counts.items()]
