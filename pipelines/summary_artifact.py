"""The run's deliveries as the Prefect UI shows them, and every one of them in a CSV file.

Up to DETAIL_SCHOOLS schools the table artifact has a row per supplier and school, as the
terminal's summary has. A run of a whole board or more would make that table one row per
delivery (49,000 at 7,000 schools): the UI cannot page through it, Prefect's database keeps
a copy of it every night, and building and sending it took about 95 MB at the end of a
2,000,000-pupil run. Beyond that many schools the artifact has a row per supplier and
status, with totals, and every delivery is in `leveringen.csv` beside the quarantine
report (0600, kept and purged with it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import pandas as pd

from connectors.formats.csv import CsvFormat
from connectors.i18n import _, ngettext
from connectors.private_files import make_private_dir, write_private_file
from pipelines.summary import counts_of

__all__ = ["DETAIL_SCHOOLS", "artifact_rows", "write_deliveries"]

DETAIL_SCHOOLS: Final = 100
DELIVERIES_FILE: Final = "leveringen.csv"
COLUMNS: Final = (
    "supplier",
    "school",
    "status",
    "mode",
    "input",
    "delivered",
    "withheld",
    "quarantined",
    "changes",
    "reason",
    "location",
)
_TOTALS: Final = ("input", "delivered", "quarantined")
_COUNTED: Final = ("withheld", "changes")


def artifact_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table artifact's rows: `rows` themselves, or per supplier and status.

    Per supplier and status beyond DETAIL_SCHOOLS schools; rows about no school (school
    "-", a legal-duty supplier that delivers on request) are kept as they are.
    """
    schools = {row["school"] for row in rows if row["school"] != "-"}
    if len(schools) <= DETAIL_SCHOOLS:
        return list(rows)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    kept = []
    for row in rows:
        if row["school"] == "-":
            kept.append(row)
        else:
            groups.setdefault((str(row["supplier"]), str(row["status"])), []).append(row)
    return [
        _group_row(supplier, status, group) for (supplier, status), group in groups.items()
    ] + kept


def _group_row(supplier: str, status: str, group: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "supplier": supplier,
        "school": ngettext("{count} school", "{count} scholen", len(group)).format(
            count=len(group)
        ),
        "status": status,
        "mode": _one_or_mixed({str(r["mode"]) for r in group}),
    }
    for name in _TOTALS:
        row[name] = sum(int(r[name]) for r in group)
    for name in _COUNTED:
        counts: Counter[str] = Counter()
        for r in group:
            counts.update(counts_of(r[name]))
        row[name] = ", ".join(f"{k}: {v}" for k, v in counts.items() if v) or "-"
    reasons = {str(r["reason"]) for r in group}
    row["reason"] = (
        reasons.pop()
        if len(reasons) == 1
        else _("verschilt per school; zie {file}").format(file=DELIVERIES_FILE)
    )
    row["location"] = "-"
    return row


def _one_or_mixed(values: set[str]) -> str:
    return values.pop() if len(values) == 1 else "/".join(sorted(values))


def write_deliveries(rows: Sequence[dict[str, Any]], folder: Path) -> Path:
    """Every row in `folder`/leveringen.csv (0600): semicolons, formulas neutralised.

    The rows' "-" (nothing) is an empty cell here: a spreadsheet would read a lone minus
    as the start of a formula, and the supplier CSV format then writes it as '-.
    """
    make_private_dir(folder)
    path = folder / DELIVERIES_FILE
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS)).astype(str).replace("-", "")
    (data,) = CsvFormat().render(
        frame,
        basename="leveringen",
        options={"separator": ";"},
    )
    write_private_file(path, data.content)
    return path
