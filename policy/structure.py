"""The groups and teachers that go with a cut: only those of the delivered pupils.

Structured formats (EDEXML, OneRoster) describe a school's groups and, when the agreement
lists teacher fields, the teachers of those groups. Both are cut down here, like the
pupils: groups nobody delivered is in stay home, and so does every teacher column the
agreement does not list. A group the delivery does not name (a samengestelde groep when
the agreement does not list samengestelde_groepen) is not delivered either, nor is a
teacher who teaches only such groups (an intern begeleider of a plusgroep).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np
import pandas as pd

from connectors.formats.registry import get_format
from connectors.sources.base import GROUP_KEY_SEPARATOR
from contracts.agreements import Agreement
from contracts.validation import ValidatedSchool
from policy.format_needs import unmet_needs
from policy.isin import isin
from policy.pseudonymise import pseudonym

__all__ = [
    "GROUP_CONTEXT_COLUMNS",
    "DeliveredTeachers",
    "delivered_groups",
    "delivered_teachers",
    "teacher_hashes",
]

GROUP_CONTEXT_COLUMNS = ("groepskey", "groepsnaam", "jaargroep", "soort")
# The columns that name a teacher toward a supplier, and so what its state seals.
TEACHER_IDENTIFIERS = ("leerkrachtkey", "eckid")


def _group_keys(
    school: ValidatedSchool, delivered_keys: pd.Series, agreement: Agreement
) -> pd.Series:
    """Keys of the groups the delivery names: stamgroepen and/or samengestelde groepen.

    A school's few hundred cells are read in plain Python: the split, explode, strip and
    drop_duplicates calls cost more than the values (once per school and supplier). The
    keys come in their first appearance, stamgroepen first, as those calls gave them.
    """
    listed = set(agreement.field_names)
    delivered = isin(school.pupils["leerlingkey"], delivered_keys).to_numpy()
    found: dict[str, None] = {}
    if "groepskey" in listed:
        found.update(dict.fromkeys(_texts(school.pupils["groepskey"], delivered)))
    if "samengestelde_groepen" in listed:
        for cell in _texts(school.pupils["samengestelde_groepen"], delivered):
            found.update(dict.fromkeys(key.strip() for key in cell.split(GROUP_KEY_SEPARATOR)))
    found.pop("", None)
    return pd.Series(list(found), dtype="str")


def _texts(column: pd.Series, rows: np.ndarray) -> list[str]:
    """The values of `column` at `rows` (a mask) that are there, as Python strings."""
    return [value for value in column.to_numpy()[rows].tolist() if isinstance(value, str)]


def delivered_groups(
    school: ValidatedSchool, delivered_keys: pd.Series, agreement: Agreement
) -> pd.DataFrame:
    """The groups of the delivered pupils that the delivery names, sorted by key.

    A group's name and jaargroep are filled only when the agreement lists groepsnaam or
    jaargroep for its pupils; otherwise they are missing.
    """
    keys = _group_keys(school, delivered_keys, agreement)
    groups = school.groups.loc[isin(school.groups["groepskey"], keys)]
    out = groups.reindex(columns=list(GROUP_CONTEXT_COLUMNS)).copy()
    for column in ("groepsnaam", "jaargroep"):
        if column not in agreement.field_names:
            out[column] = pd.Series(pd.NA, index=out.index, dtype="str")
    return out.sort_values("groepskey").reset_index(drop=True).astype("str")


@dataclass(frozen=True)
class DeliveredTeachers:
    """The teachers that go with a cut.

    Attributes:
        frame: one row per teacher of a delivered group, exactly the agreement's teacher
            fields; `groepen` cut to the delivered groups.
        keys: per row (same index) the school's own key of the teacher (leerkrachtkey,
            else eckid), from which the state's keyed hash is made; never delivered as
            such, and missing for a teacher with neither.
        left_out: teachers of delivered groups the format cannot carry without making a
            value up (its teacher_needs, e.g. OneRoster's names); counted, not named.
    """

    frame: pd.DataFrame
    keys: pd.Series
    left_out: int


def delivered_teachers(
    school: ValidatedSchool, groups: pd.DataFrame, agreement: Agreement
) -> DeliveredTeachers | None:
    """Teachers of the delivered groups, only the agreement's teacher fields; None if none.

    A teacher's `groepen` keeps only delivered groups, so a teacher's other classes are
    not disclosed either, and a teacher left with none of them is not delivered.
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
        .map(
            lambda keys: GROUP_KEY_SEPARATOR.join(k.strip() for k in keys if k.strip() in delivered)
        )
    )
    keep = own.ne("")
    out = teachers.loc[keep].assign(groepen=own.loc[keep])
    lacking = pd.Series(False, index=out.index, dtype="bool")
    needs = get_format(agreement.format.type).teacher_needs
    for _, unmet in unmet_needs(out.reindex(columns=wanted), needs, wanted):
        lacking |= unmet
    out = out.loc[~lacking]
    key = "leerkrachtkey" if "leerkrachtkey" in out.columns else out.columns[0]
    out = out.sort_values(key).reset_index(drop=True)
    own_keys = out["leerkrachtkey"].where(out["leerkrachtkey"].notna(), out["eckid"])
    return DeliveredTeachers(
        frame=out.reindex(columns=wanted).astype("str"),
        keys=own_keys.astype("str"),
        left_out=int(lacking.sum()),
    )


def teacher_hashes(brincode: str, keys: pd.Series, membership_secret: bytes) -> pd.Series:
    """Keyed hash of "<brincode>:<teacher key>": how the state refers to a teacher.

    The secret is derived from the membership secret for teachers only, so a teacher's
    hash never equals a pupil's, whatever the keys look like.
    """
    secret = hmac.new(membership_secret, b"sluis teacher-state v1", hashlib.sha256).digest()
    named = keys.fillna("").map(lambda key: f"{brincode}:{key}" if key else "")
    hashes = pseudonym(named.astype("str"), secret)
    return hashes.where(named.ne(""), pd.NA).astype("str").reset_index(drop=True)
