"""The deliveries table artifact: per delivery for a school or a board, per supplier and
status beyond DETAIL_SCHOOLS schools, and every delivery in leveringen.csv."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

from pipelines.summary_artifact import COLUMNS, DETAIL_SCHOOLS, artifact_rows, write_deliveries


def row(school: str, supplier: str = "basispoort", **values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "supplier": supplier,
        "school": school,
        "status": "delivered",
        "mode": "full",
        "input": 10,
        "delivered": 9,
        "withheld": "no_consent: 1",
        "quarantined": 0,
        "changes": "-",
        "reason": "",
        "location": f"/drop/{supplier}/{school}",
    }
    return base | values


ON_REQUEST = row("-", "leerplicht", status="alleen_op_verzoek", input=0, delivered=0, withheld="-")


def test_up_to_the_limit_every_delivery_is_a_row() -> None:
    rows = [row(f"{n:02d}AB") for n in range(DETAIL_SCHOOLS)] + [ON_REQUEST]
    assert artifact_rows(rows) == rows


def test_beyond_it_a_row_per_supplier_and_status_with_totals() -> None:
    schools = [f"{n:03d}A" for n in range(DETAIL_SCHOOLS + 1)]
    rows = [row(s) for s in schools]
    rows += [row(s, "rekenapp", mode="delta", changes="added: 2, unchanged: 5") for s in schools]
    held = [
        row(s, "rekenapp", status="held", reason=f"reden {s}", delivered=0) for s in schools[:2]
    ]
    rows[0] = row(schools[0], withheld="no_consent: 1, left_school: 3", quarantined=2)
    table = artifact_rows([*rows, *held, ON_REQUEST])
    by_key = {(r["supplier"], r["status"]): r for r in table}
    assert list(by_key) == [
        ("basispoort", "delivered"),
        ("rekenapp", "delivered"),
        ("rekenapp", "held"),
        ("leerplicht", "alleen_op_verzoek"),
    ]
    basispoort = by_key["basispoort", "delivered"]
    assert basispoort["school"] == f"{DETAIL_SCHOOLS + 1} scholen"
    assert (basispoort["input"], basispoort["delivered"], basispoort["quarantined"]) == (
        10 * (DETAIL_SCHOOLS + 1),
        9 * (DETAIL_SCHOOLS + 1),
        2,
    )
    assert basispoort["withheld"] == f"no_consent: {DETAIL_SCHOOLS + 1}, left_school: 3"
    assert by_key["rekenapp", "delivered"]["changes"] == (
        f"added: {2 * (DETAIL_SCHOOLS + 1)}, unchanged: {5 * (DETAIL_SCHOOLS + 1)}"
    )
    assert by_key["rekenapp", "held"]["school"] == "2 scholen"
    assert by_key["rekenapp", "held"]["reason"] == "verschilt per school; zie leveringen.csv"
    assert by_key["leerplicht", "alleen_op_verzoek"] == ON_REQUEST
    assert set(basispoort) == set(COLUMNS)


def test_every_delivery_is_in_a_csv_for_the_owner_only(tmp_path: Path) -> None:
    rows = [row("01AB"), row("02CD", location="=HYPERLINK(1)"), ON_REQUEST]
    path = write_deliveries(rows, tmp_path / "runs" / "r1")
    assert path.name == "leveringen.csv"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    read = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines(), delimiter=";"))
    # "-" (no school, nothing withheld) is an empty cell: a lone minus reads as a formula.
    assert [r["school"] for r in read] == ["01AB", "02CD", ""]
    assert read[2]["withheld"] == ""
    assert list(read[0]) == list(COLUMNS)
    # Opened in a spreadsheet, a cell that starts like a formula stays text.
    assert read[1]["location"] == "'=HYPERLINK(1)"


def test_a_run_without_deliveries_writes_the_header(tmp_path: Path) -> None:
    path = write_deliveries([], tmp_path)
    assert path.read_text(encoding="utf-8").splitlines() == [";".join(COLUMNS)]
