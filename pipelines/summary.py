"""A run's summary per supplier and school: the table artifact's rows, the terminal's table.

The terminal table reads in an 80-column window.

`delivered` in a row is what went out in this run: a supplier that was sent nothing (nothing
changed, held, dry run, agreement expired, failed) shows 0 and the row says why. What the
supplier may have is in the manifest and lineage (`counts`), not here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from connectors.errors import shorten
from connectors.i18n import _

if TYPE_CHECKING:
    from pipelines.delivery import DeliveryOutcome

__all__ = ["counts_of", "outcome_rows", "sent_in_run", "summary_table"]

# Change kinds a delta sends rows for; "unchanged" pupils are not sent again.
_SENT_KINDS = ("added", "changed", "removed")


def sent_in_run(outcome: DeliveryOutcome) -> int:
    """How many pupils' rows went out to the supplier in this run.

    A full delivery sends every pupil the supplier may have; a delta only the added,
    changed and removed ones; anything but a published delivery sends nothing.
    """
    if outcome.status != "delivered":
        return 0
    if outcome.mode == "delta":
        return sum(int(outcome.changes.get(kind, 0)) for kind in _SENT_KINDS)
    delivered = outcome.counts.get("delivered", 0)
    return delivered if isinstance(delivered, int) else 0


def why(outcome: DeliveryOutcome) -> str:
    """In Dutch, why a row sent what it sent (empty for an ordinary delivery)."""
    status = outcome.status
    if status == "nothing_to_deliver":
        if outcome.baseline:
            return _("niets verzonden: niets veranderd sinds de vorige levering")
        return _("niets verzonden: geen leerling om te leveren, en dit formaat kan niet leeg zijn")
    if status == "held":
        return _("niets verzonden: vastgehouden voor goedkeuring ({reason})").format(
            reason=outcome.hold_reason
        )
    if status == "dry_run":
        return _("niets verzonden: proefrun (--dry-run)")
    if status == "agreement_expired":
        return _("niets verzonden: de overeenkomst geldt niet op deze datum")
    if status == "failed":
        return _("niets verzonden: mislukt, zie de melding onder de tabel")
    return ""


def outcome_rows(outcomes: Sequence[DeliveryOutcome]) -> list[dict[str, Any]]:
    """Counts per supplier and school for the table artifact and the CLI summary.

    Codes (status, reason codes, change kinds) stay the codes; only `reason` is prose.
    """
    rows = []
    for o in outcomes:
        counts: dict[str, Any] = dict(o.counts)  # empty for an expired agreement
        withheld: dict[str, int] = dict(counts.get("withheld", {}))
        rows.append(
            {
                "supplier": o.supplier,
                "school": o.school,
                "status": o.status,
                "mode": o.mode,
                "input": counts.get("input", 0),
                "delivered": sent_in_run(o),
                "withheld": ", ".join(f"{k}: {v}" for k, v in withheld.items()) or "-",
                "quarantined": counts.get("quarantined", 0),
                "changes": ", ".join(
                    f"{k}: {v}" for k, v in o.changes.items() if v and k != "unchanged"
                )
                or "-",
                "reason": why(o),
                "location": o.location or "-",
            }
        )
    return rows


def counts_of(text: object) -> Counter[str]:
    """A row's 'left_school: 2, no_consent: 20' cell as counts, in order; '-' as none."""
    counts: Counter[str] = Counter()
    value = str(text)
    if value in ("", "-"):
        return counts
    for item in value.split(", "):
        code, _sep, number = item.rpartition(": ")
        counts[code] += int(number)
    return counts


def _items(text: object) -> list[str]:
    """'left_school: 2, no_consent: 20' as ['left_school 2', 'no_consent 20']; '-' as []."""
    return [f"{code} {count}" for code, count in counts_of(text).items()]


def _lines(parts: Iterable[str]) -> Text:
    return Text("\n".join(p for p in parts if p))


# A value from an export (a BRIN) is cut like any quoted value.
_QUOTED = 40
# Room for the longest reason code and a count ("incomplete_for_format 12345").
_WIDEST_CODE = 28


def summary_table(rows: Sequence[dict[str, Any]]) -> Table:
    """The run's summary for a terminal: one section per school, four columns.

    Narrow by construction, so it reads at 80 columns: the school heads its section
    instead of taking a column, each reason code is a line of its own, and what happened
    is said under the status code. Cells fold rather than end in an ellipsis, so a code is
    never cut off.
    """
    table = Table(title=_("Sluis: leveringen"), box=box.SIMPLE_HEAD, show_lines=False)
    table.add_column(_("leverancier"), overflow="fold")
    table.add_column(_("status"), overflow="fold", ratio=1)
    table.add_column(_("verzonden"), justify="right", overflow="fold", no_wrap=True)
    # As wide as its longest line (a reason code and its count), so no code is broken.
    widest = max(
        (len(item) for row in rows for item in _items(row.get("withheld", "-"))), default=0
    )
    table.add_column(_("niet verzonden"), overflow="fold", min_width=min(widest, _WIDEST_CODE))
    by_school: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_school.setdefault(str(row["school"]), []).append(row)
    for number, (school, entries) in enumerate(sorted(by_school.items())):
        if number:
            table.add_section()
        table.add_row(
            Text(_("school {school}").format(school=shorten(school, _QUOTED)), style="bold"),
            "",
            "",
            "",
        )
        for row in sorted(entries, key=lambda r: str(r["supplier"])):
            changes = _items(row.get("changes", "-"))
            table.add_row(
                Text(str(row["supplier"])),
                _lines([str(row["status"]), str(row.get("reason", "")), ", ".join(changes)]),
                Text(_("{sent} van {total}").format(sent=row["delivered"], total=row["input"])),
                _lines(
                    [
                        *_items(row.get("withheld", "-")),
                        _("quarantaine {count}").format(count=row["quarantined"])
                        if row.get("quarantined")
                        else "",
                    ]
                ),
            )
    table.caption = _(
        "verzonden: leerlingen van wie in deze run gegevens naar de leverancier gingen, "
        "van het aantal in de export; niet verzonden: per redencode (zie README)"
    )
    return table
