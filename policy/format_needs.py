"""What a supplier's format cannot carry: pupils without a value the format requires.

A format declares what every record needs (connectors.formats.base.FieldNeed, e.g.
OneRoster's familyName); it never makes a value up. Policy withholds a pupil without it
as `incomplete_for_format`, and the quarantine report tells the administration, per
pupil and supplier, what to fill in. Teachers without it are left out (policy.structure).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from connectors.formats.base import FieldNeed
from connectors.formats.registry import get_format
from connectors.i18n import _
from connectors.sources.base import SOURCE_FILE, SOURCE_LINE
from contracts.agreements import Agreement
from contracts.catalog import lookup_field
from contracts.rules import FORMAT_NEED_HINT
from contracts.validation import PROBLEM_COLUMNS, ValidatedSchool
from policy.batch import SCHOOL, SchoolBatch, positions_by_school
from policy.reasons import Reason
from policy.scope import has_left, outside_scope

__all__ = ["format_gaps", "format_gaps_per_school", "incomplete_for_format", "unmet_needs"]

_GAP_COLUMNS = ["brincode", *PROBLEM_COLUMNS]


def unmet_needs(
    frame: pd.DataFrame, needs: Sequence[FieldNeed], listed: Sequence[str]
) -> list[tuple[FieldNeed, pd.Series]]:
    """Each need with, per row, whether the row lacks it (only the fields `listed` count)."""
    return [(need, need.unmet(frame, set(listed))) for need in needs]


def incomplete_for_format(pupils: pd.DataFrame, agreement: Agreement) -> pd.Series:
    """Per pupil, True when the agreement's format cannot carry it without making a value up."""
    writer = get_format(agreement.format.type)
    lacking = pd.Series(False, index=pupils.index, dtype="bool")
    for _need, unmet in unmet_needs(pupils, writer.pupil_needs, agreement.field_names):
        lacking |= unmet
    return lacking


def _label(need: FieldNeed, listed: Sequence[str]) -> tuple[str, str]:
    """The need's listed fields as a column name and in plain Dutch ("achternaam")."""
    names = [name for name in need.fields if name in listed] or list(need.fields)
    dutch = []
    for name in names:
        info = lookup_field(name)
        dutch.append(info.omschrijving if info is not None else name)
    return "/".join(names), " of ".join(dutch)


def format_gaps(
    schools: Sequence[ValidatedSchool], agreements: Sequence[Agreement], today: date
) -> pd.DataFrame:
    """Report rows for pupils a supplier's format cannot carry, one per pupil, supplier, need.

    Only pupils the supplier's scope covers (not left, in its jaargroepen and vestigingen)
    are listed: for the others the gap changes nothing. Rows are warnings (the pupil goes
    to every other supplier) with the rule `incomplete_for_format`, file, line and
    leerlingkey, and a Dutch hint naming the supplier and the field; never a value.

    Returns:
        Columns brincode and PROBLEM_COLUMNS: per agreement, per school, per need.
    """
    rows = [
        found
        for agreement in agreements
        for found in format_gaps_per_school(schools, agreement, today)
        if not found.empty
    ]
    if not rows:
        return pd.DataFrame(columns=_GAP_COLUMNS)
    return pd.concat(rows, ignore_index=True)


def format_gaps_per_school(
    schools: Sequence[ValidatedSchool] | SchoolBatch, agreement: Agreement, today: date
) -> list[pd.DataFrame]:
    """`format_gaps` of one agreement for each school, in order (empty where none).

    Judged once over the whole batch and then split: asking per school would repeat the
    scope and need checks, a few dozen pandas calls, for every school and agreement. A
    SchoolBatch shared by the agreements joins the batch's pupils once for all of them.
    """
    batch = schools if isinstance(schools, SchoolBatch) else SchoolBatch(schools)
    needs = get_format(agreement.format.type).pupil_needs
    empty = pd.DataFrame(columns=_GAP_COLUMNS)
    if not needs or not len(batch):
        return [empty for _school in batch.schools]
    pupils = batch.pupils
    owner = pupils[SCHOOL].to_numpy()
    brincodes = np.array([s.brincode for s in batch.schools], dtype=object)
    covered = ~outside_scope(pupils, agreement.scope.jaargroepen, agreement.scope.vestigingen)
    if not agreement.scope.include_left:
        covered &= ~has_left(pupils, today)
    parts, owners = [], []
    for need, unmet in unmet_needs(pupils, needs, agreement.field_names):
        at = np.flatnonzero((unmet & covered).to_numpy(dtype=bool))
        if not len(at):
            continue
        column, dutch = _label(need, agreement.field_names)
        hint = _(FORMAT_NEED_HINT).format(
            veld=dutch, leverancier=agreement.id, formaat=agreement.format.type
        )
        hit = pupils.take(at)
        parts.append(
            pd.DataFrame(
                {
                    "brincode": brincodes[owner[at]],
                    "subject": "leerling",
                    SOURCE_FILE: hit[SOURCE_FILE].to_numpy(),
                    SOURCE_LINE: hit[SOURCE_LINE].to_numpy(),
                    "leerlingkey": hit["leerlingkey"].to_numpy(),
                    "column": column,
                    "rule": Reason.INCOMPLETE_FOR_FORMAT.value,
                    "severity": "warning",
                    "hint": hint,
                }
            )
        )
        owners.append(owner[at])
    if not parts:
        return [empty for _school in batch.schools]
    found = pd.concat(parts, ignore_index=True)[_GAP_COLUMNS]
    # Per school, its rows need by need and pupil by pupil, as asking per school gave.
    return [
        found.take(at).reset_index(drop=True) if len(at) else empty
        for at in positions_by_school(np.concatenate(owners), len(batch))
    ]
