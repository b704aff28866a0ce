"""The quarantine report an IT coordinator acts on: per rule, what is wrong and where to fix it.

Written as CSV (for a spreadsheet) and as a standalone HTML page, and summarised as
Markdown for the Prefect UI. It names file, line, leerlingkey and column, never a name or
the offending value: the problems frame it is built from holds none.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import pandas as pd
import pyarrow as pa

from connectors.formats.csv import CsvFormat
from connectors.i18n import N_, _
from connectors.private_files import make_private_dir, write_private_file, write_private_lines
from connectors.sources.base import SOURCE_FILE, SOURCE_LINE
from contracts.rules import hint_for
from contracts.staged import StagedSchool, problems_table
from contracts.validation import PROBLEM_COLUMNS, ValidatedSchool

__all__ = ["QuarantineReport", "build_report", "write_report"]

REPORT_COLUMNS = ("brincode", *PROBLEM_COLUMNS)

_SUBJECT_NL = {
    "leerling": N_("leerling"),
    "groep": N_("groep"),
    "toestemming": N_("toestemmingsregel"),
}


@dataclass(frozen=True)
class QuarantineReport:
    """All problems of a run, and the counts that summarise them."""

    problems: pd.DataFrame  # REPORT_COLUMNS, sorted by rule, school, file, line
    pupils_read: int
    pupils_quarantined: int

    @property
    def errors(self) -> int:
        """Number of error rows (a row is one rule broken by one record)."""
        return int((self.problems["severity"] == "error").sum())

    @property
    def warnings(self) -> int:
        """Number of warning rows."""
        return int((self.problems["severity"] == "warning").sum())

    def by_rule(self) -> pd.DataFrame:
        """One row per rule: severity, subject, column, count and the Dutch hint."""
        if self.problems.empty:
            return pd.DataFrame(columns=["rule", "severity", "subject", "column", "count", "hint"])
        grouped = (
            self.problems.groupby(["rule", "severity", "subject", "column"], dropna=False)
            .size()
            .rename("count")
            .reset_index()
            .sort_values(["severity", "count", "rule"], ascending=[True, False, True])
        )
        grouped["hint"] = [
            hint_for(str(rule), str(subject))
            for rule, subject in zip(grouped["rule"], grouped["subject"], strict=True)
        ]
        return grouped.reset_index(drop=True)

    def markdown(self, link: str | None = None) -> str:
        """A short Markdown summary for the Prefect UI: counts per rule and the fix."""
        lines = [
            "# " + _("Quarantaine"),
            "",
            _(
                "{quarantined} van {read} leerlingen zijn niet geleverd "
                "omdat hun gegevens niet kloppen. Ze worden weer geleverd zodra het in de "
                "leerlingadministratie is verbeterd."
            ).format(quarantined=self.pupils_quarantined, read=self.pupils_read),
            "",
        ]
        if link:
            lines += [
                _("Volledig rapport (bestand, regel, leerlingnummer): {link}").format(link=link),
                "",
            ]
        table = self.by_rule()
        if table.empty:
            lines.append(_("Geen problemen gevonden."))
            return "\n".join(lines)
        lines += [
            _("| regel | soort | aantal | wat te doen |"),
            "| --- | --- | ---: | --- |",
        ]
        for row in table.itertuples(index=False):
            kind = _("fout") if row.severity == "error" else _("waarschuwing")
            lines.append(f"| `{row.rule}` | {kind} | {row.count} | {row.hint} |")
        return "\n".join(lines)


def build_report(
    schools: Sequence[ValidatedSchool | StagedSchool],
    extra: pd.DataFrame | Iterable[pa.Table] | None = None,
) -> QuarantineReport:
    """Collect every school's problems into one report.

    Args:
        schools: the validated schools (in memory, or staged: their problems are read).
        extra: more rows in REPORT_COLUMNS that are not the contracts' own, such as the
            pupils a supplier's format cannot carry (policy.format_needs.format_gaps): a
            frame, or tables read one at a time (each school's, from staging).
    """
    if extra is None:
        extra = ()
    elif isinstance(extra, pd.DataFrame):
        extra = (_table_of(extra),)
    problems = _gathered(chain(_problem_tables(schools), extra), REPORT_COLUMNS)
    problems = problems.sort_values(
        ["severity", "rule", "brincode", SOURCE_FILE, SOURCE_LINE], kind="stable"
    ).reset_index(drop=True)
    return QuarantineReport(
        problems=problems,
        pupils_read=sum(s.input_pupils for s in schools),
        pupils_quarantined=sum(s.quarantined_pupils for s in schools),
    )


# Tables combined into one at a time: a table read from staging holds its file and Arrow's
# objects for it (about 30 KB a school), so thousands of them at once made the plan step's
# peak grow with the number of schools.
_GATHER = 100


def _gathered(tables: Iterable[pa.Table], columns: Sequence[str]) -> pd.DataFrame:
    """Many schools' small tables as one frame of `columns`, converted to pandas once.

    Gathered in Arrow, _GATHER tables at a time, each lot copied into one table before the
    next is read: thousands of small pandas frames (or tables) held at once cost far more
    than their rows, and left the heap fragmented for the rest of the run.
    """
    lots: list[pa.Table] = []
    lot: list[pa.Table] = []
    for table in tables:
        if table.num_rows:
            lot.append(table.replace_schema_metadata(None).select(list(columns)))
        if len(lot) == _GATHER:
            lots.append(_combined(lot))
            lot = []
    if lot:
        lots.append(_combined(lot))
    if not lots:
        return pd.DataFrame(columns=list(columns))
    return _combined(lots).to_pandas()


def _combined(tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables, promote_options="permissive").combine_chunks()


def _problem_tables(schools: Sequence[ValidatedSchool | StagedSchool]) -> Iterator[pa.Table]:
    """Each school's problem rows with its brincode; a staged school's read once."""
    for school in schools:
        table = problems_table(school)
        yield table.append_column(
            "brincode", pa.array([school.brincode] * table.num_rows, pa.large_string())
        )


def _table_of(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def _html(report: QuarantineReport, title: str) -> Iterator[list[str]]:
    """The page's lines, a section at a time.

    A report of thousands of schools is written as it is made, never held whole
    (write_report joins the lines with line breaks).
    """
    esc = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="nl"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;"
        "padding:.3em .6em;text-align:left}th{background:#eee}.warning h2{color:#8a6d00}"
        ".error h2{color:#a00}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        "<p>"
        + _(
            "{quarantined} van {read} leerlingen staan in "
            "quarantaine: zij worden aan geen enkele leverancier geleverd tot hun gegevens in de "
            "leerlingadministratie zijn verbeterd. Waarschuwingen houden niemand tegen."
        ).format(quarantined=report.pupils_quarantined, read=report.pupils_read)
        + "</p>",
    ]
    if report.problems.empty:
        parts.append("<p>" + _("Geen problemen gevonden.") + "</p>")
    yield parts
    for (rule, subject), rows in report.problems.groupby(["rule", "subject"], sort=False):
        severity = str(rows["severity"].iloc[0])
        label = _("Fout") if severity == "error" else _("Waarschuwing")
        hint = hint_for(str(rule), str(subject))
        parts = [
            f'<section class="{esc(severity)}">',
            "<h2>" + _("{label}: {hint}").format(label=label, hint=esc(hint)) + "</h2>",
            "<p>"
            + _("Regel {rule}, {count} keer.").format(
                rule=f"<code>{esc(str(rule))}</code>", count=len(rows)
            )
            + "</p>",
            "<table><tr>"
            + "".join(
                f"<th>{esc(heading)}</th>"
                for heading in (
                    _("school"),
                    _("soort"),
                    _("bestand"),
                    _("regel"),
                    _("leerlingnummer"),
                    _("veld"),
                    _("wat te doen"),
                )
            )
            + "</tr>",
        ]
        for row in rows.itertuples(index=False):
            key = "" if pd.isna(row.leerlingkey) else str(row.leerlingkey)
            parts.append(
                "<tr>"
                + "".join(
                    f"<td>{esc(str(v))}</td>"
                    for v in (
                        row.brincode,
                        _(_SUBJECT_NL[str(row.subject)])
                        if str(row.subject) in _SUBJECT_NL
                        else row.subject,
                        getattr(row, SOURCE_FILE),
                        getattr(row, SOURCE_LINE),
                        key,
                        row.column,
                        # Every row says what to do, also when it is the section's fix:
                        # a coordinator works down the rows, not back up to the heading.
                        row.hint if isinstance(row.hint, str) and row.hint else hint,
                    )
                )
                + "</tr>"
            )
        parts += ["</table>", "</section>"]
        yield parts
    yield ["</body></html>"]


def write_report(
    report: QuarantineReport, folder: Path, *, title: str | None = None
) -> tuple[Path, Path]:
    """Write quarantine.csv and quarantine.html into `folder`; return both paths.

    Both name pupils by key, so only the owner may read them (0600, the folder 0700).
    The CSV is written by the supplier CSV format, with its formula neutralising: a
    leerlingkey such as =cmd|' /C calc'!A0 opens in a spreadsheet as text.
    """
    make_private_dir(folder)
    csv_path = folder / "quarantine.csv"
    html_path = folder / "quarantine.html"
    (csv_file,) = CsvFormat().render(
        report.problems, basename="quarantine", options={"separator": ";"}
    )
    write_private_file(csv_path, csv_file.content)
    write_private_lines(
        html_path, chain.from_iterable(_html(report, title or _("Quarantainerapport")))
    )
    return csv_path, html_path
