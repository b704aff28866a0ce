"""OneRoster 1.2 writer: the org, the school year, classes and courses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.formats.oneroster_arrays import (
    STR,
    Columns,
    Table,
    guid,
    guid_one,
    large,
    null_text,
)
from connectors.formats.oneroster_columns import COMBINATION, GROUP_COMPOSITE, GROUP_STAM
from connectors.formats.oneroster_context import School

# -- files -------------------------------------------------------------------------------------


def orgs_table(school: School) -> Table:
    """The one org: the school, named and identified by its BRIN code."""
    return Table.of(
        1,
        True,
        {
            "sourcedId": school.org,
            "name": school.brincode,
            "type": "school",
            "identifier": school.brincode,
        },
    )


def sessions_table(school: School) -> Table:
    """The one academic session: the school year."""
    # The Dutch school year runs from 1 August to 31 July (WPO); schoolYear names the
    # year it ends, as the OneRoster source reads it.
    return Table.of(
        1,
        True,
        {
            "sourcedId": school.session,
            "title": f"Schooljaar {school.schooljaar}",
            "type": "schoolYear",
            "startDate": f"{school.first_year:04d}-08-01",
            "endDate": f"{school.last_year:04d}-07-31",
            "schoolYear": f"{school.last_year:04d}",
        },
    )


@dataclass
class _Group:
    """What is known of one group; the first source that knows a value wins."""

    name: str | None = None
    jaargroep: str | None = None
    kind: str | None = None

    def learn(self, name: str | None, jaargroep: str | None, kind: str | None) -> None:
        """Fill in what is still unknown."""
        self.name = self.name or name
        self.jaargroep = self.jaargroep or jaargroep
        self.kind = self.kind or kind


def groups_by_key(
    pupils: Columns,
    active: pa.Array,
    context_groups: pd.DataFrame | None,
    class_keys: pa.Array,
) -> dict[str, _Group]:
    """Name, jaargroep and kind of every class, by groepskey, sorted.

    The context's groups come first; what they lack is taken from the active pupils:
    their groepsnaam, and the jaargroep of a stamgroep (C when its pupils are in
    several). A group's name and jaargroep are used only when the agreement lists them
    for the pupils. This loops over groups, a few dozen per school, never over pupils.
    """
    wanted = set(class_keys.to_pylist())
    groups = {key: _Group() for key in sorted(wanted)}
    if context_groups is not None and len(context_groups):
        given = Columns(context_groups)
        rows = zip(
            given["groepskey"].to_pylist(),
            (
                given["groepsnaam"] if "groepsnaam" in pupils else null_text(given.length)
            ).to_pylist(),
            (given["jaargroep"] if "jaargroep" in pupils else null_text(given.length)).to_pylist(),
            given["soort"].to_pylist(),
            strict=True,
        )
        for key, name, jaargroep, kind in rows:
            if key in groups:
                groups[key].learn(name, jaargroep, kind)
    stam = pa.table(
        {
            "key": pupils["groepskey"].filter(active),
            "name": pupils["groepsnaam"].filter(active),
            "jaargroep": pupils["jaargroep"].filter(active),
        }
    )
    summary = stam.group_by("key", use_threads=False).aggregate(
        [("name", "first"), ("jaargroep", "first"), ("jaargroep", "count_distinct")]
    )
    for row in summary.to_pylist():
        if row["key"] in groups:
            spread = row["jaargroep_count_distinct"]
            jaargroep = COMBINATION if spread > 1 else row["jaargroep_first"]
            groups[row["key"]].learn(row["name_first"], jaargroep, GROUP_STAM)
    for group in groups.values():
        # Only samengestelde groepen are left without a kind by now.
        group.learn(None, None, GROUP_COMPOSITE)
    return groups


def context_keys(groups: pd.DataFrame | None) -> pa.Array:
    """The group keys of the context (the delivered pupils' groups)."""
    if groups is None or not len(groups):
        return null_text(0)
    return Columns(groups)["groepskey"]


def unique_keys(*arrays: pa.Array) -> pa.Array:
    """The distinct keys of the arrays, missing ones left out."""
    keys = pc.unique(pa.concat_arrays([array.cast(STR) for array in arrays]))
    return keys.filter(pc.is_valid(keys))


def ended_classes(enrollments: Table, keys: pa.Array) -> dict[str, str]:
    """The classType of each class that is no longer live, by key, sorted.

    Only ended enrollments name such a class; one that was a pupil's stamgroep (a
    primary enrollment) is a homeroom, any other a scheduled class.
    """
    if not len(keys):
        return {}
    named = enrollments.where(pc.is_in(enrollments.columns["_groepskey"], value_set=keys))
    primary = named.columns.get("primary", null_text(named.length))
    homerooms = set(
        named.columns["_groepskey"]
        .filter(pc.fill_null(pc.equal(primary, large("true")), False))
        .to_pylist()
    )
    return {
        key: "homeroom" if key in homerooms else "scheduled" for key in sorted(keys.to_pylist())
    }


def classes_and_courses(
    groups: Mapping[str, _Group],
    ended: Mapping[str, str],
    live_courses: set[str],
    school: School,
) -> tuple[Table, Table]:
    """Classes: the live ones `active`, the ended ones `tobedeleted`; and their courses.

    An ended class is no longer a group of any delivered pupil, so what it was (its name,
    jaargroep and course) is not known any more: it is titled by its key under the
    "Groepen" course, which is only repeated as active while a live group is in it.
    """
    keys = list(groups)
    jaargroepen = [group.jaargroep for group in groups.values()]
    course_of = {code: course_id(code, school) for code in dict.fromkeys(jaargroepen)}
    ended_keys = list(ended)
    if ended_keys:
        course_of.setdefault(None, course_id(None, school))
    classes = Table.of(
        len(keys) + len(ended_keys),
        pa.array([True] * len(keys) + [False] * len(ended_keys), pa.bool_()),
        {
            "sourcedId": guid(
                pa.array([f"{school.org}.{key}" for key in (*keys, *ended_keys)], STR)
            ),
            "title": pa.array(
                [group.name or key for key, group in groups.items()] + ended_keys, STR
            ),
            "grades": pa.array([_grade(code) for code in jaargroepen] + [None] * len(ended), STR),
            "courseSourcedId": pa.array(
                [course_of[code] for code in jaargroepen] + [course_id(None, school)] * len(ended),
                STR,
            ),
            "classType": pa.array(
                [
                    "scheduled" if group.kind == GROUP_COMPOSITE else "homeroom"
                    for group in groups.values()
                ]
                + list(ended.values()),
                STR,
            ),
            "schoolSourcedId": school.org,
            "termSourcedIds": school.session,
        },
    )
    codes = list(course_of)
    used = {course_of[code] for code in jaargroepen}
    courses = Table.of(
        len(codes),
        pa.array(
            [course_of[code] in used or course_of[code] in live_courses for code in codes],
            pa.bool_(),
        ),
        {
            "sourcedId": pa.array(list(course_of.values()), STR),
            "schoolYearSourcedId": school.session,
            "title": pa.array([_course_title(code) for code in codes], STR),
            "courseCode": pa.array(codes, STR),
            "grades": pa.array([_grade(code) for code in codes], STR),
            "orgSourcedId": school.org,
        },
    )
    return classes, courses


def course_id(code: str | None, school: School) -> str:
    """The sourcedId of the course of jaargroep `code` (None: the course Groepen)."""
    return guid_one(f"{school.org}.jaargroep-{code}" if code else f"{school.org}.groepen")


def _course_title(code: str | None) -> str:
    if code is None:
        return "Groepen"
    return "Combinatiegroepen" if code == COMBINATION else f"Jaargroep {code}"


def _grade(code: str | None) -> str | None:
    # A combination group's pupils carry their own grades; the group has no single one.
    return None if code == COMBINATION else code
