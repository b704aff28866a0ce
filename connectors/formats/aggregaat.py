"""Aggregate output for a board: counts per school × jaargroep (× geslacht), small cells hidden.

No row of the output is about a pupil: the file holds one row per cell of a fixed grid
(every jaargroep of the agreement's scope, times every NEN-ISO 5218 code when geslacht is
counted), so which cells appear says nothing either. A cell below k is published as
"onderdrukt". The manifest publishes the school's total (counts.delivered), so the
hidden cells' sum is known; where that sum would pin a hidden cell (one hidden cell, or
hidden cells that can only all be k-1), the smallest published cells are hidden too,
until no hidden cell can be recomputed (complementary suppression).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from connectors.errors import ConfigurationError
from connectors.formats.base import (
    AgreementAsk,
    DataFile,
    FieldNeed,
    Format,
    FormatSpec,
    RenderRequest,
)
from connectors.i18n import _, ngettext

__all__ = [
    "AGGREGATE_FIELDS",
    "DEFAULT_K",
    "MIN_K",
    "SUPPRESSED",
    "AggregaatFormat",
    "count_cells",
    "suppress",
]

# The only fields an aggregate may count by; anything else would make a cell smaller
# than a group of pupils is meant to be.
AGGREGATE_FIELDS = ("brincode", "jaargroep", "geslacht")
DEFAULT_K = 5
# With k = 2 a hidden cell among two that sum to 2 can only be 1 + 1: too small to hide.
MIN_K = 3
SUPPRESSED = "onderdrukt"
# NEN-ISO 5218, as in contracts/codes.py (connectors sit below contracts); a missing
# value is counted as 0, onbekend.
_GESLACHT = ("0", "1", "2", "9")
_OPTIONS = ("k", "jaargroepen", "school")


def _pinned(counts: np.ndarray, hidden: np.ndarray, k: int) -> bool:
    """Whether the total and the published cells would pin a hidden cell.

    The hidden cells' sum is the total minus the published cells. One hidden cell with a
    pupil in it equals that sum. Several hidden cells that sum to their number times k-1
    must each be k-1, for someone who takes every hidden cell to be below k.
    """
    m = int(hidden.sum())
    rest = int(counts[hidden].sum())
    if m == 0 or rest == 0:
        return False
    return m == 1 or rest == m * (k - 1)


def suppress(counts: Sequence[int] | np.ndarray, k: int) -> np.ndarray:
    """Which cells to hide: every cell below k, then the smallest others while one is pinned.

    Args:
        counts: the cell counts of one school's grid, in grid order.
        k: the smallest count that is published.

    Returns:
        A boolean array, True for a hidden cell.
    """
    values = np.asarray(counts, dtype=np.int64)
    hidden = values < k
    while _pinned(values, hidden, k) and not hidden.all():
        # The smallest published cell (argmin takes the first of equals): it costs least.
        shown = np.flatnonzero(~hidden)
        hidden[shown[np.argmin(values[shown])]] = True
    return hidden


def count_cells(frame: pd.DataFrame, *, jaargroepen: Sequence[str]) -> pd.DataFrame:
    """Count pupils per jaargroep (× geslacht when the frame has it) over the full grid.

    Args:
        frame: one row per delivered pupil, columns among AGGREGATE_FIELDS.
        jaargroepen: the grid's jaargroepen, in order (the agreement's scope).

    Returns:
        Columns jaargroep, [geslacht,] aantal (int), one row per grid cell, zeros included.
    """
    dims = ["jaargroep", *(["geslacht"] if "geslacht" in frame.columns else [])]
    levels = [list(jaargroepen), *([list(_GESLACHT)] if "geslacht" in dims else [])]
    keys = pd.DataFrame(
        {
            "jaargroep": frame["jaargroep"].astype("str").str.strip(),
            **(
                {"geslacht": frame["geslacht"].astype("str").str.strip().fillna("0")}
                if "geslacht" in dims
                else {}
            ),
        }
    )
    grid = pd.MultiIndex.from_product(levels, names=dims)
    outside = ~pd.MultiIndex.from_frame(keys).isin(grid)
    if outside.any():
        # Policy only passes pupils in scope; a pupil outside the grid would vanish from
        # the counts without a trace, so refuse rather than publish a wrong total.
        count = int(outside.sum())
        raise ConfigurationError(
            ngettext(
                "aggregaat: {count} leerling valt buiten het raster van jaargroepen "
                "{jaargroepen}; zet in scope.jaargroepen de jaargroepen die geteld worden",
                "aggregaat: {count} leerlingen vallen buiten het raster van jaargroepen "
                "{jaargroepen}; zet in scope.jaargroepen de jaargroepen die geteld worden",
                count,
            ).format(count=count, jaargroepen=", ".join(jaargroepen))
        )
    counted = keys.value_counts().reindex(grid, fill_value=0)
    return counted.rename("aantal").reset_index()


class AggregaatFormat(Format):
    """Renders one school's pupils as `<basename>.csv`: a grid of counts, small cells hidden.

    Options (set by the delivery from the agreement, not by hand):
        k: smallest published count (default 5, at least 3).
        jaargroepen: comma-separated jaargroepen of the grid (the agreement's scope).
        school: the school's BRIN, written in a brincode column when the agreement
            lists brincode.

    Columns: [brincode;] jaargroep; [geslacht;] aantal, ";"-separated, UTF-8. `aantal` is
    a count of at least k, 0, or "onderdrukt".
    """

    spec = FormatSpec(
        name="aggregaat",
        flat=True,
        # A count cannot say that a pupil left; the board gets a full grid each time.
        expresses_deletions=False,
        options=_OPTIONS,
        pupil_needs=(FieldNeed(("jaargroep",), "every pupil is counted in a jaargroep"),),
    )

    def write(self, frame: pd.DataFrame, request: RenderRequest) -> list[DataFile]:
        """Render the counts of `frame` (it is not mutated).

        Raises:
            ConfigurationError: an unknown option, a k below MIN_K, no jaargroepen, a
                column that is not an aggregate field, or a pupil outside the grid.
        """
        basename, options = request.basename, request.options
        k = _k(options.get("k", str(DEFAULT_K)))
        jaargroepen = [j for j in options.get("jaargroepen", "").split(",") if j]
        if not jaargroepen:
            raise ConfigurationError(_("aggregaat: de optie jaargroepen is verplicht"))
        extra = [str(c) for c in frame.columns if c not in AGGREGATE_FIELDS]
        if extra or "jaargroep" not in frame.columns:
            raise ConfigurationError(
                _(
                    "aggregaat telt alleen per jaargroep (en brincode, geslacht), maar kreeg "
                    "de kolommen {columns}"
                ).format(columns=", ".join(map(str, frame.columns)))
            )
        cells = count_cells(frame, jaargroepen=jaargroepen)
        hidden = suppress(cells["aantal"].to_numpy(), k)
        shown = cells["aantal"].astype("str").where(~hidden, SUPPRESSED)
        out = cells.drop(columns="aantal").assign(aantal=shown)
        if "brincode" in frame.columns:
            out.insert(0, "brincode", options.get("school", ""))
        lines = [";".join(out.columns), *out.astype("str").agg(";".join, axis=1)]
        content = ("\n".join(lines) + "\n").encode("utf-8")
        return [DataFile(name=f"{basename}.csv", content=content, rows=len(out))]

    def problems_of(self, ask: AgreementAsk) -> list[str]:
        """An aggregate counts by jaargroep and optionally geslacht; nothing per pupil."""
        problems = []
        pupil_level = [f for f in ask.fields if f not in AGGREGATE_FIELDS]
        if pupil_level:
            problems.append(
                _(
                    "fields: aggregaat levert aantallen, geen leerlingen; verwijder {fields} "
                    "(toegestaan: {allowed})"
                ).format(fields=", ".join(pupil_level), allowed=", ".join(AGGREGATE_FIELDS))
            )
        if "jaargroep" not in ask.fields:
            problems.append(_("fields: aggregaat telt per jaargroep; voeg jaargroep toe"))
        if ask.teacher_fields:
            problems.append(
                _("teacher_fields: aggregaat telt alleen leerlingen; verwijder teacher_fields")
            )
        if ask.profile is not None:
            problems.append(_("format.profile: aggregaat heeft geen profielen; verwijder profile"))
        return problems


def _k(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        raise ConfigurationError(
            _("aggregaat: k moet een geheel getal zijn, niet {value}").format(value=repr(text))
        ) from None
    if k < MIN_K:
        raise ConfigurationError(
            _("aggregaat: k moet minstens {minimum} zijn, niet {k}").format(minimum=MIN_K, k=k)
        )
    return k
