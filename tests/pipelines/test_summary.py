"""The run summary a coordinator reads: whole codes at 80 columns, and 0 sent with a reason."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from pipelines.delivery import DeliveryOutcome
from pipelines.summary import outcome_rows, summary_table
from policy.reasons import Reason

COUNTS = {
    "input": 300,
    "delivered": 272,
    "withheld": {
        Reason.INCOMPLETE_FOR_FORMAT.value: 2,
        Reason.LEFT_SCHOOL.value: 2,
        Reason.NO_IDENTIFIER.value: 1,
        Reason.OUT_OF_SCOPE.value: 12,
        Reason.CONSENT_UNREADABLE.value: 8,
    },
    "quarantined": 3,
}


def _outcome(status: str, **extra: object) -> DeliveryOutcome:
    values: dict[str, object] = {
        "supplier": "schoolwebsite",
        "school": "27ZX",
        "status": status,
        "delivery_id": None,
        "mode": "full",
        "fields": ("roepnaam",),
        "counts": COUNTS,
        **extra,
    }
    return DeliveryOutcome(**values)  # type: ignore[arg-type]


OUTCOMES = [
    _outcome("delivered", changes={"added": 272, "unchanged": 0}),
    _outcome("nothing_to_deliver", baseline="schoolwebsite:20261101t020000z-27zx-0b6c9d0e"),
    _outcome("held", hold_reason="45% of the pupils would be removed (more than 10%)"),
    _outcome("dry_run"),
    _outcome("agreement_expired", counts={}),
    _outcome("failed"),
    _outcome(
        "delivered",
        supplier="rekenapp",
        school="53NC",
        mode="delta",
        changes={"added": 3, "changed": 4, "removed": 1, "unchanged": 264},
    ),
]


def _render(width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(summary_table(outcome_rows(OUTCOMES)))
    return console.export_text()


@pytest.mark.parametrize("width", [80, 120, 200])
def test_the_summary_cuts_no_cell_and_breaks_no_code(width: int) -> None:
    text = _render(width)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    words = set(re.findall(r"[a-z_]+", text))
    codes = {r.value for r in Reason if r.value in COUNTS["withheld"]}
    statuses = {"delivered", "nothing_to_deliver", "held", "dry_run", "agreement_expired"}
    assert codes | statuses | {"schoolwebsite", "rekenapp"} <= words


def test_a_row_that_sent_nothing_shows_0_sent_and_why() -> None:
    rows = {r["status"]: r for r in outcome_rows(OUTCOMES[:6])}
    assert rows["delivered"]["delivered"] == 272
    for status in ("nothing_to_deliver", "held", "dry_run", "agreement_expired", "failed"):
        assert rows[status]["delivered"] == 0, status
        assert rows[status]["reason"].startswith("niets verzonden"), status
    assert "niets veranderd sinds de vorige levering" in rows["nothing_to_deliver"]["reason"]
    assert "45% of the pupils" in rows["held"]["reason"]
    text = _render(80)
    assert "0 van 300" in text and "272 van 300" in text


def test_a_delta_counts_the_rows_it_sent_not_the_pupils_the_supplier_holds() -> None:
    [row] = outcome_rows(OUTCOMES[6:])
    assert row["delivered"] == 8  # added, changed and removed; not the 264 unchanged
