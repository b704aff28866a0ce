"""What `sluis check` lists: each quarantined pupil by school, line, leerlingkey and rule.

Never a name or a value: the quarantine report it is made from holds none. The list
stops at a limit and points to the full report, which also says what to do per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from rich.table import Table
from rich.text import Text

from connectors.errors import shorten
from connectors.i18n import _
from connectors.sources.base import SOURCE_FILE, SOURCE_LINE
from lineage.quarantine_report import QuarantineReport

__all__ = ["PUPIL_LIMIT", "QuarantinedPupils", "quarantined_pupils"]

# A terminal shows this many pupils; the report holds them all.
PUPIL_LIMIT = 50
# A leerlingkey is the school's; a hostile export may still hold a very long one.
_KEY = 40


@dataclass(frozen=True)
class QuarantinedPupils:
    """The pupils a terminal shows, and how many more the report holds."""

    table: Table
    shown: int
    total: int

    @property
    def more(self) -> int:
        """Quarantined pupils beyond the limit."""
        return self.total - self.shown


def quarantined_pupils(report: QuarantineReport, limit: int = PUPIL_LIMIT) -> QuarantinedPupils:
    """One line per quarantined pupil: school, file line, leerlingkey and the rules broken.

    A pupil is quarantined by an error on a pupil row (warnings let the pupil through);
    the rules of one pupil share its line, in the order the report lists them.
    """
    problems = report.problems
    errors = problems.loc[(problems["severity"] == "error") & (problems["subject"] == "leerling")]
    pupils = (
        errors.assign(
            leerlingkey=errors["leerlingkey"]
            .astype("object")
            .where(errors["leerlingkey"].notna(), "")
        )
        .groupby(["brincode", SOURCE_FILE, "leerlingkey"], sort=False, dropna=False)
        .agg(line=(SOURCE_LINE, "first"), rules=("rule", lambda r: ", ".join(dict.fromkeys(r))))
        .reset_index()
    )
    pupils = pupils.assign(_line=pd.to_numeric(pupils["line"], errors="coerce")).sort_values(
        ["brincode", SOURCE_FILE, "_line"], kind="stable"
    )
    table = Table(title=_("Leerlingen in quarantaine"))
    table.add_column(_("school"), overflow="fold")
    table.add_column(_("regelnummer"), justify="right", no_wrap=True)
    table.add_column(_("leerlingnummer"), overflow="fold")
    table.add_column(_("regel"), overflow="fold")
    shown = pupils.head(limit)
    for row in shown.itertuples(index=False):
        key = shorten(row.leerlingkey, _KEY) if row.leerlingkey else _("(geen leerlingnummer)")
        table.add_row(
            Text(shorten(row.brincode, _KEY)),
            Text(str(row.line)),
            Text(key),
            Text(str(row.rules)),
        )
    return QuarantinedPupils(table=table, shown=len(shown), total=len(pupils))
