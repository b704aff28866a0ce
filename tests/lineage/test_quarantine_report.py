"""The quarantine report: grouped by rule, Dutch hints, locations, and never a value."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from builders import make_consents, make_export, pupil

from contracts.rule_catalogue import rule_catalogue
from contracts.rules import CONSENT_RULE_HINTS, CONSENT_SUBJECT, RULE_HINTS, hint_for
from contracts.validation import PROBLEM_COLUMNS, validate_school
from lineage.quarantine_report import build_report, write_report
from pipelines.plan import discover_schools
from pipelines.work import prepare_schools

TODAY = date(2026, 11, 28)


def _school():  # type: ignore[no-untyped-def]
    pupils = [
        pupil("1"),
        pupil("2", achternaam="Ölçer-Zoë", geboortedatum="2030-02-02"),
        pupil("3", groepskey="G12"),
        pupil("4", groepskey="G12"),
        pupil("5", eckid="https://id.school/LL_1"),
    ]
    return validate_school(make_export(pupils), make_consents([]), today=TODAY)


def test_report_groups_by_rule_with_dutch_hints(tmp_path: Path) -> None:
    report = build_report([_school()])
    table = report.by_rule()
    counts = dict(zip(table["rule"], table["count"], strict=True))
    assert counts["jaargroep_required"] == 2
    assert counts["not_in_future"] == 1
    assert counts["eckid_legacy"] == 1
    assert (
        table.loc[table["rule"] == "jaargroep_required", "hint"]
        .iloc[0]
        .startswith("Geen jaargroep")
    )
    # Errors come before warnings, so the coordinator sees what blocks delivery first.
    assert list(table["severity"]).index("warning") > list(table["severity"]).index("error")
    assert report.pupils_quarantined == 3
    assert report.pupils_read == 5


def test_written_report_has_locations_but_no_names_or_values(tmp_path: Path) -> None:
    csv_path, html_path = write_report(build_report([_school()]), tmp_path)
    for path in (csv_path, html_path):
        text = path.read_text(encoding="utf-8")
        assert "Ölçer" not in text and "Zoë" not in text
        assert "2030-02-02" not in text
        assert "Jansen" not in text and "Sem" not in text
    html = html_path.read_text(encoding="utf-8")
    assert '<html lang="nl">' in html
    assert "<td>export.xml</td><td>11</td><td>2</td>" in html.replace("<td>leerling</td>", "")
    assert "Geen jaargroep" in html


def test_markdown_summary_names_rules_and_counts() -> None:
    markdown = build_report([_school()]).markdown(link="file:///tmp/q.html")
    assert "3 van 5 leerlingen" in markdown
    assert "| `jaargroep_required` | fout | 2 |" in markdown
    assert "file:///tmp/q.html" in markdown


def test_clean_export_says_so(tmp_path: Path) -> None:
    clean = validate_school(make_export([pupil("1")]), make_consents([]), today=TODAY)
    report = build_report([clean])
    assert report.errors == 0
    assert "Geen problemen gevonden." in report.markdown()


def test_a_combination_group_is_named_in_the_fix(tmp_path: Path) -> None:
    _, html_path = write_report(build_report([_school()]), tmp_path)
    html = html_path.read_text(encoding="utf-8")
    assert "Groep 1/2 Egels is een combinatiegroep: vul de jaargroep per leerling in." in html


def test_a_formula_in_a_leerlingkey_opens_as_text_in_a_spreadsheet(tmp_path: Path) -> None:
    hostile = "=cmd|' /C calc'!A0"
    school = validate_school(
        make_export([pupil(hostile, geboortedatum="2030-02-02"), pupil("+1", jaargroep=None)]),
        make_consents([]),
        today=TODAY,
    )
    csv_path, _ = write_report(build_report([school]), tmp_path)
    cells = [
        cell
        for line in csv_path.read_text(encoding="utf-8").splitlines()
        for cell in line.split(";")
    ]
    assert not any(cell.lstrip('"').startswith(("=", "+", "-", "@")) for cell in cells)
    assert "'=cmd|' /C calc'!A0" in csv_path.read_text(encoding="utf-8")


def test_the_report_is_readable_by_its_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        csv_path, html_path = write_report(build_report([_school()]), tmp_path / "runs" / "r1")
    finally:
        os.umask(old)
    assert stat.S_IMODE(csv_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(html_path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "runs" / "r1").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "runs").stat().st_mode) == 0o700


def test_pupils_a_suppliers_format_cannot_carry_are_listed_with_the_fix(tmp_path: Path) -> None:
    from contracts.agreements import BUNDLED_AGREEMENTS, load_agreement
    from policy.format_needs import format_gaps

    school = validate_school(
        make_export([pupil("1"), pupil("2", achternaam=None, roepnaam="Zwanhilde")]),
        make_consents([]),
        today=TODAY,
    )
    rekenapp = load_agreement(BUNDLED_AGREEMENTS / "rekenapp.yaml").agreement
    report = build_report([school], extra=format_gaps([school], [rekenapp], TODAY))
    # A warning: the pupil goes to every other supplier, so nobody is quarantined.
    assert (report.errors, report.warnings, report.pupils_quarantined) == (0, 1, 0)
    assert "| `incomplete_for_format` | waarschuwing | 1 |" in report.markdown()
    csv_path, html_path = write_report(report, tmp_path)
    [line] = [row for row in csv_path.read_text(encoding="utf-8").splitlines() if "incompl" in row]
    assert line.startswith("07XY;leerling;export.xml;11;2;achternaam;incomplete_for_format;")
    assert "Leverancier rekenapp krijgt de leerling daarom niet" in line
    html = html_path.read_text(encoding="utf-8")
    assert "Vul het veld achternaam in de leerlingadministratie in." in html
    assert "Zwanhilde" not in html and "Zwanhilde" not in csv_path.read_text(encoding="utf-8")


def _what_to_do_cells(html: str) -> list[str]:
    """The last cell of every data row of the report's tables."""
    rows = re.findall(r"<tr><td>.*?</tr>", html)
    return [re.findall(r"<td>(.*?)</td>", row)[-1] for row in rows]


def test_every_rule_in_the_catalogue_has_its_own_hint() -> None:
    catalogue = rule_catalogue()
    assert "name_rule" in catalogue["leerling"]
    for subject, rules in catalogue.items():
        own = CONSENT_RULE_HINTS if subject == CONSENT_SUBJECT else {}
        for rule in rules:
            hint = hint_for(rule, subject)
            assert hint.strip(), (subject, rule)
            assert hint in (own.get(rule), RULE_HINTS.get(rule)), (subject, rule)


def test_every_report_row_says_what_to_do_for_every_rule(tmp_path: Path) -> None:
    rows = [
        {
            "subject": subject,
            "source_file": "EDEX.XML",
            "source_line": str(line),
            "leerlingkey": str(1000 + line),
            "column": "achternaam",
            "rule": rule,
            "severity": "error",
            "hint": hint_for(rule, subject),
        }
        for line, (subject, rule) in enumerate(
            sorted((s, r) for s, rules in rule_catalogue().items() for r in rules), start=2
        )
    ]
    # Twice each, so a rule's section holds more than its first row.
    problems = pd.DataFrame(rows + rows, columns=list(PROBLEM_COLUMNS))
    school = _school()
    report = build_report([replace(school, problems=problems)])
    _, html_path = write_report(report, tmp_path)
    cells = _what_to_do_cells(html_path.read_text(encoding="utf-8"))
    assert len(cells) == len(problems)
    assert all(cell.strip() for cell in cells)


def test_every_row_of_the_samples_report_says_what_to_do(samples_dir: Path, tmp_path: Path) -> None:
    found = discover_schools(samples_dir, None, "toestemmingen.csv")
    report = build_report(prepare_schools(found, today=TODAY))
    assert "name_rule" in set(report.problems["rule"])
    _, html_path = write_report(report, tmp_path)
    cells = _what_to_do_cells(html_path.read_text(encoding="utf-8"))
    assert len(cells) == len(report.problems)
    assert all(cell.strip() for cell in cells)


def test_staged_schools_give_the_report_in_memory_schools_give_reading_each_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors import staging
    from contracts.staged import stage_school

    clean = validate_school(make_export([pupil("9")]), make_consents([]), today=TODAY)
    other = _school()
    schools = [_school(), clean, replace(other, school={**other.school, "brincode": "09CD"})]
    staged = [
        stage_school(s, tmp_path / "staging" / f"school-{n}", root=tmp_path)
        for n, s in enumerate(schools)
    ]
    reads: list[str] = []
    read_table = staging.read_table

    def counted(folder: Path, name: str, sha256: str):  # type: ignore[no-untyped-def]
        reads.append(f"{folder.name}/{name}")
        return read_table(folder, name, sha256)

    monkeypatch.setattr("contracts.staged.read_table", counted)
    from_staging = build_report(staged)
    in_memory = build_report(schools)
    pd.testing.assert_frame_equal(from_staging.problems, in_memory.problems)
    assert sorted(reads) == [f"school-{n}/problems" for n in range(3)]
    assert len(from_staging.problems) > 0 and set(from_staging.problems["brincode"]) >= {"09CD"}


def test_the_report_of_many_schools_is_their_rows_in_order_however_they_are_gathered() -> None:
    # More schools than the report gathers at once (lineage.quarantine_report._GATHER),
    # some without a problem: the rows are each school's, in the order of a plain concat.
    base, clean = (
        _school(),
        validate_school(make_export([pupil("9")]), make_consents([]), today=TODAY),
    )
    schools = [
        replace(clean if n % 7 == 0 else base, school={**base.school, "brincode": f"{n:03d}X"})
        for n in range(250)
    ]
    expected = pd.concat(
        [s.problems.assign(brincode=s.brincode) for s in schools if not s.problems.empty],
        ignore_index=True,
    )[list(build_report([]).problems.columns)]
    expected = expected.sort_values(
        ["severity", "rule", "brincode", "source_file", "source_line"], kind="stable"
    ).reset_index(drop=True)
    pd.testing.assert_frame_equal(build_report(schools).problems, expected)
