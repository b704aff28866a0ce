"""The groups and teachers that go with a cut: only those of the delivered pupils.

Structured formats (EDEXML, OneRoster) describe a school's groups and, when the agreement
lists teacher fields, the teachers of those groups. Both are cut down here, like the
pupils: groups nobody delivered is in stay home, and so does every teacher column the
agreement does not list.
"""

from __future__ import annotations

import pandas as pd

from connectors.sources.base import GROUP_KEY_SEPARATOR
from contracts.agreements import Agreement
from contracts.validation import ValidatedSchool

__all__ = ["GROUP_CONTEXT_COLUMNS", "delivered_groups", "delivered_teachers"]

GROUP_CONTEXT_COLUMNS = ("groepskey", "groepsnaam", "jaargroep", "soort")


def _group_keys(school: ValidatedSchool, delivered_keys: pd.Series) -> pd.Series:
    """Keys of the stamgroepen and samengestelde groepen the delivered pupils are in."""
    pupils = school.pupils.loc[school.pupils["leerlingkey"].isin(delivered_keys)]
    composite = pupils["samengestelde_groepen"].dropna().str.split(GROUP_KEY_SEPARATOR).explode()
    keys = pd.concat([pupils["groepskey"].dropna(), composite.str.strip()], ignore_index=True)
    return keys.loc[keys.ne("")].drop_duplicates().reset_index(drop=True).astype("str")


def delivered_groups(
    school: ValidatedSchool, delivered_keys: pd.Series, agreement: Agreement
) -> pd.DataFrame:
    """The groups of the delivered pupils, sorted by key.

    A group's name and jaargroep are filled only when the agreement lists groepsnaam or
    jaargroep for its pupils; otherwise they are missing.
    """
    keys = _group_keys(school, delivered_keys)
    groups = school.groups.loc[school.groups["groepskey"].isin(keys)]
    out = groups.reindex(columns=list(GROUP_CONTEXT_COLUMNS)).copy()
    for column in ("groepsnaam", "jaargroep"):
        if column not in agreement.field_names:
            out[column] = pd.Series(pd.NA, index=out.index, dtype="str")
    return out.sort_values("groepskey").reset_index(drop=True).astype("str")


def delivered_teachers(
    school: ValidatedSchool, groups: pd.DataFrame, agreement: Agreement
) -> pd.DataFrame | None:
    """Teachers of the delivered groups, only the agreement's teacher fields; None if none.

    A teacher's `groepen` keeps only delivered groups, so a teacher's other classes are
    not disclosed either.
    """
    wanted = agreement.teacher_field_names
    if not wanted:
        return None
    teachers = school.export.teachers
    delivered = set(groups["groepskey"])
    own = (
        teachers["groepen"]
        .fillna("")
        .str.split(GROUP_KEY_SEPARATOR)
        .map(lambda keys: GROUP_KEY_SEPARATOR.join(k for k in keys if k in delivered))
    )
    keep = own.ne("")
    out = teachers.loc[keep].assign(groepen=own.loc[keep])
    key = "leerkrachtkey" if "leerkrachtkey" in out.columns else out.columns[0]
    out = out.sort_values(key).reindex(columns=wanted)
    return out.reset_index(drop=True).astype("str")
