"""`sluis check` names each quarantined pupil by school, line, leerlingkey and rule, up to 50,
then points to the report: never a name or a value."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from builders import make_consents, make_export, pupil
from lxml import etree
from rich.console import Console
from sluis_cli import sluis

from contracts.validation import validate_school
from lineage.quarantine_report import build_report
from pipelines.check_listing import PUPIL_LIMIT, quarantined_pupils

TODAY = date(2026, 11, 28)
REPO = Path(__file__).resolve().parents[2]


def _text(table: object) -> str:
    console = Console(width=80, record=True, color_system=None)
    console.print(table)
    return console.export_text()


def test_each_quarantined_pupil_is_listed_by_key_line_and_rule_without_values() -> None:
    school = validate_school(
        make_export(
            [
                pupil("1"),
                pupil("2", achternaam="Ölçer-Zoë", geboortedatum="2030-02-02"),
                pupil("3", achternaam=None, voorvoegsel="van", roepnaam="Maëlle"),
            ]
        ),
        make_consents([]),
        today=TODAY,
    )
    report = build_report([school])
    listed = quarantined_pupils(report)
    text = _text(listed.table)
    assert listed.total == listed.shown == 2
    errors = report.problems[report.problems["severity"] == "error"]
    for row in errors.itertuples(index=False):
        assert str(row.leerlingkey) in text and str(row.source_line) in text
        assert row.rule in text
    for value in ("Ölçer", "Zoë", "2030-02-02", "Maëlle", "van"):
        assert value not in text


def test_past_the_limit_the_list_stops_and_counts_the_rest() -> None:
    many = [pupil(str(n), geboortedatum="2030-02-02") for n in range(1, PUPIL_LIMIT + 13)]
    school = validate_school(make_export(many), make_consents([]), today=TODAY)
    listed = quarantined_pupils(build_report([school]))
    assert (listed.shown, listed.more) == (PUPIL_LIMIT, 12)


def _quarantined_values(export: Path, keys: set[str]) -> set[str]:
    """Every text value of the quarantined pupils' records (names, dates, ...)."""
    values = set()
    for element in etree.parse(str(export)).iterfind(".//leerlingen/leerling"):
        if element.get("key") in keys:
            values |= {
                e.text.strip()
                for e in element.iter()
                if e.text and e.text.strip() and len(e.text.strip()) > 3
            }
    return values


def test_sluis_check_on_the_samples_lists_the_pupils_and_points_to_the_report(
    tmp_path: Path,
) -> None:
    samples = REPO / "data" / "samples"
    result = sluis(tmp_path, "check", "--source", str(samples), "--report", str(tmp_path / "r"))
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "Leerlingen in quarantaine" in out
    schools = [validate_school_of(p) for p in sorted(samples.glob("*/EDEX.XML"))]
    report = build_report(schools)
    errors = report.problems[
        (report.problems["severity"] == "error") & (report.problems["subject"] == "leerling")
    ]
    lines = out.splitlines()
    for row in errors.itertuples(index=False):
        assert any(
            str(row.leerlingkey) in line and str(row.source_line) in line and row.rule in line
            for line in lines
        ), (row.leerlingkey, row.rule)
    assert "Rapport, met wat te doen per leerling:" in out
    for export in sorted(samples.glob("*/EDEX.XML")):
        keys = {str(k) for k in errors["leerlingkey"]}
        leaked = {v for v in _quarantined_values(export, keys) if v not in keys and v in out}
        # A school's own words (group names, the BRIN) are no pupil's value.
        assert leaked <= {"Groep", export.parent.name}, leaked


def validate_school_of(export: Path):  # type: ignore[no-untyped-def]
    from pipelines.plan import discover_schools
    from pipelines.work import prepare_schools

    [found] = discover_schools(export, None, "toestemmingen.csv")
    [school] = prepare_schools([found], today=TODAY)
    return school
