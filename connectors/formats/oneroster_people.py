"""OneRoster 1.2 writer: the users, roles, demographics and enrollments of pupils and teachers."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.errors import ConfigurationError, InputError
from connectors.formats.base import CHANGE_KINDS, CHANGE_REMOVED, FieldNeed, RenderContext
from connectors.formats.oneroster_arrays import (
    STR,
    Columns,
    Table,
    guid,
    join_text,
    large,
    split_keys,
)
from connectors.formats.oneroster_columns import (
    ENROLLMENT,
    FORMAT,
    HASH_DIGITS,
    IDENTIFIER_FIELDS,
    METADATA_PREFIX,
    PUPIL_MAPPED,
    REMOVED_NAME,
    TEACHER_NEEDS,
)
from connectors.formats.oneroster_context import School, check_aligned, delta_groups
from connectors.i18n import _


def user_ids(pupils: Columns, identifier: str) -> pa.Array:
    """Each pupil's sourcedId under the agreement's identifier policy."""
    # The first of the policy's fields that a pupil has (eckid_or_key: ECK iD, else key).
    values = pc.coalesce(*(pupils[name] for name in IDENTIFIER_FIELDS[identifier]))
    missing = values.null_count
    if missing:
        raise InputError(
            _(
                "{format}: {missing} leerlingen hebben geen waarde voor "
                "identificatiebeleid {identifier}; het beleid houdt zulke "
                "leerlingen achter, dus dit is een fout eerder in Sluis; er is "
                "niets geleverd"
            ).format(
                format=FORMAT,
                missing=missing,
                identifier=identifier,
            )
        )
    users = guid(values)
    doubled = len(users) - pc.count_distinct(users).as_py()
    if doubled:
        raise InputError(
            _(
                "{format}: {doubled} leerlingen delen hun "
                "{identifier}-identificatie met een andere leerling; verbeter de "
                "export; er is niets geleverd"
            ).format(
                format=FORMAT,
                doubled=doubled,
                identifier=identifier,
            )
        )
    return users


def is_metadata(name: str, identifier: str) -> bool:
    """Whether pupil field `name` goes to a metadata.* column of users.csv."""
    if name == "pseudoniem":
        return identifier != "pseudoniem"
    return name not in PUPIL_MAPPED


def _family_name(people: Columns) -> pa.Array:
    """The achternaam with the voorvoegsel in front when there is one: "van Dijk"."""
    achternaam = people["achternaam"]
    voorvoegsel = pc.utf8_trim_whitespace(people["voorvoegsel"])
    return _removed_name(pc.coalesce(join_text(voorvoegsel, " ", achternaam), achternaam))


def _removed_name(names: pa.Array) -> pa.Array:
    """Names as given; REMOVED_NAME only where none is (a tobedeleted row: see check_needs)."""
    return pc.coalesce(names, large(REMOVED_NAME))


def check_needs(
    frame: pd.DataFrame, active: pa.Array, needs: Sequence[FieldNeed], what: str
) -> None:
    """Refuse active rows that lack what OneRoster needs: policy withholds those."""
    written = active.to_numpy(zero_copy_only=False)
    for need in needs:
        count = int((need.unmet(frame).to_numpy() & written).sum())
        if count:
            raise ConfigurationError(
                _(
                    "{format}: {count} {what} die als actief geschreven moeten worden "
                    "hebben geen {value} ({why}); het beleid houdt ze achter "
                    "(incomplete_for_format), dus dit is een fout eerder in Sluis; er "
                    "is niets geleverd"
                ).format(
                    format=FORMAT,
                    count=count,
                    what=what,
                    value=(" " + _("of") + " ").join(need.fields),
                    why=_(need.why),
                )
            )


def student_users_table(
    pupils: Columns,
    users: pa.Array,
    active: pa.Array,
    school: School,
    metadata: Sequence[str],
) -> Table:
    """The users rows of the pupils."""
    columns: dict[str, pa.Array | str | None] = {
        "sourcedId": users,
        "enabledUser": pc.if_else(active, large("true"), large("false")),
        "username": pc.coalesce(pupils["gebruikersnaam"], users),
        "givenName": _removed_name(pupils["roepnaam"]),
        "familyName": _family_name(pupils),
        "identifier": pupils["leerlingkey"],
        "email": pupils["emailadres"],
        "grades": pupils["jaargroep"],
        "userMasterIdentifier": pupils["eckid"],
        "primaryOrgSourcedId": school.org,
    }
    columns.update({f"{METADATA_PREFIX}{name}": pupils[name] for name in metadata})
    return Table.of(len(users), active, columns)


@dataclass(frozen=True)
class _Staff:
    """The context's teachers: columns, which rows are active, and groups a row left."""

    frame: pd.DataFrame
    columns: Columns
    active: pa.Array
    left: pa.Array | None


def staff_of(context: RenderContext, delta: bool) -> _Staff | None:
    """The teachers to write, checked like the pupils; None when there are none."""
    teachers = context.teachers
    if teachers is None or not len(teachers):
        return None
    changes = context.teacher_changes if delta else None
    if changes is None:
        active = pa.repeat(True, len(teachers))
    else:
        check_aligned(changes, teachers, "teacher_changes")
        known = changes.isin(CHANGE_KINDS)
        if not bool(known.all()):
            raise ConfigurationError(
                _(
                    "{format}: context.teacher_changes bevat {value} waarden die niet {value2} zijn"
                ).format(
                    format=FORMAT,
                    value=int((~known).sum()),
                    value2=", ".join(CHANGE_KINDS),
                )
            )
        active = pa.array((changes != CHANGE_REMOVED).to_numpy(dtype=bool), pa.bool_())
    check_needs(teachers, active, TEACHER_NEEDS, _("leerkrachten"))
    left = delta_groups(teachers, context.teacher_left_groups, delta, "teacher_left_groups")
    return _Staff(frame=teachers, columns=Columns(teachers), active=active, left=left)


def teacher_users_table(
    staff: _Staff, school: School, metadata: Sequence[str]
) -> tuple[Table, pa.Array]:
    """Users rows of the teachers, and their sourcedIds (lined up with the teachers)."""
    people = staff.columns
    ids = guid(join_text("leerkracht-", pc.coalesce(people["leerkrachtkey"], people["eckid"])))
    if ids.null_count:
        raise ConfigurationError(
            _(
                "{format}: {null_count} verwijderde leerkrachten hebben geen "
                "leerkrachtkey of eckid om ze mee te noemen; dit is een fout "
                "eerder in Sluis; er is niets geleverd"
            ).format(
                format=FORMAT,
                null_count=ids.null_count,
            )
        )
    columns: dict[str, pa.Array | str | None] = {
        "sourcedId": ids,
        "enabledUser": pc.if_else(staff.active, large("true"), large("false")),
        "username": ids,
        "givenName": _removed_name(people["roepnaam"]),
        "familyName": _family_name(people),
        "identifier": people["leerkrachtkey"],
        "email": people["emailadres"],
        "userMasterIdentifier": people["eckid"],
        "primaryOrgSourcedId": school.org,
    }
    columns.update({f"{METADATA_PREFIX}{name}": people[name] for name in metadata})
    return Table.of(people.length, staff.active, columns), ids


def check_unique_users(ids: pa.Array) -> None:
    """Refuse teachers that share a sourcedId with a pupil or one another."""
    # Pupils were checked among themselves already: a clash now involves a teacher.
    doubled = len(ids) - pc.count_distinct(ids).as_py()
    if doubled:
        raise InputError(
            _(
                "{format}: {doubled} leerkrachten delen een sourcedId met een "
                "leerling of een andere leerkracht; controleer de sleutels van de "
                "leerkrachten in de export; er is niets geleverd"
            ).format(
                format=FORMAT,
                doubled=doubled,
            )
        )


def roles_table(
    users: pa.Array,
    active: pa.Array | bool,
    role: str,
    school: School,
    pupils: Columns | None,
) -> Table:
    """One primary role per user at the school."""
    return Table.of(
        len(users),
        active,
        {
            "sourcedId": guid(join_text(users, f".{role}")),
            "userSourcedId": users,
            "roleType": "primary",
            "role": role,
            "beginDate": pupils["instroomdatum"] if pupils is not None else None,
            "endDate": pupils["uitstroomdatum"] if pupils is not None else None,
            "orgSourcedId": school.org,
        },
    )


def demographics_table(pupils: Columns, users: pa.Array, active: pa.Array) -> Table:
    """The pupils' birth dates and sex."""
    geslacht = pc.utf8_trim_whitespace(pupils["geslacht"])
    # NEN-ISO 5218 0 (onbekend) and 9 (niet gespecificeerd) have no OneRoster twin;
    # a missing geslacht stays blank (a null condition gives null).
    sex = pc.if_else(
        pc.equal(geslacht, large("1")),
        large("male"),
        pc.if_else(pc.equal(geslacht, large("2")), large("female"), large("unspecified")),
    )
    return Table.of(
        len(users),
        active,
        {"sourcedId": users, "birthDate": pupils["geboortedatum"], "sex": sex},
    )


def student_enrollments(
    pupils: Columns,
    users: pa.Array,
    active: pa.Array,
    previous: pa.Array | None,
    left: pa.Array | None,
) -> Table:
    """Student enrollments: stamgroep, samengestelde groepen, and in delta the old ones.

    In delta, the previous stamgroep and every samengestelde groep the pupil left become
    `tobedeleted` enrollments.

    The class is still a groepskey (_groepskey); finish_enrollments makes the ids.
    """
    count = len(users)
    parts = [
        Table.of(
            count,
            active,
            {"_groepskey": pupils["groepskey"], "userSourcedId": users, "primary": "true"},
        )
    ]
    # Only pupils written as active are (still) in their samengestelde groepen.
    joined = pc.if_else(active, pupils["samengestelde_groepen"], pa.scalar(None, STR))
    parts.append(_secondary_enrollments(joined, users, active=True))
    if previous is not None:
        parts.append(
            Table.of(
                count,
                False,
                {"_groepskey": previous, "userSourcedId": users, "primary": "true"},
            )
        )
    if left is not None:
        parts.append(_secondary_enrollments(left, users, active=False))
    table = Table.concat(parts)
    table = table.where(pc.is_valid(table.columns["_groepskey"]))
    return Table.of(table.length, table.active, {**table.columns, "role": "student"})


def _secondary_enrollments(joined: pa.Array, users: pa.Array, *, active: bool) -> Table:
    """One non-primary enrollment per key of each pupil's joined samengestelde groepen."""
    keys, rows = split_keys(joined)
    return Table.of(
        len(keys),
        active,
        {"_groepskey": keys, "userSourcedId": users.take(rows), "primary": "false"},
    )


def teacher_enrollments(staff: _Staff, ids: pa.Array, live: pa.Array) -> Table:
    """A teacher in each of its live groups; in delta, the groups it left are ended.

    An active teacher is enrolled in the groepen that are classes of delivered pupils; a
    removed one's groepen (those the supplier had) and a changed one's left groups become
    `tobedeleted` enrollments.
    """
    keys, rows = split_keys(staff.columns["groepen"])
    active = staff.active.take(rows)
    keep = pc.or_(pc.invert(active), pc.is_in(keys, value_set=live))
    parts = [
        Table.of(len(keys), active, {"_groepskey": keys, "userSourcedId": ids.take(rows)}).where(
            keep
        )
    ]
    if staff.left is not None:
        left_keys, left_rows = split_keys(staff.left)
        parts.append(
            Table.of(
                len(left_keys),
                False,
                {"_groepskey": left_keys, "userSourcedId": ids.take(left_rows)},
            )
        )
    table = Table.concat(parts)
    return Table.of(table.length, table.active, {**table.columns, "role": "teacher"})


def finish_enrollments(table: Table, school: School) -> Table:
    """Class ids and enrollment ids; one row per class and user, an active one first."""
    classes = guid(join_text(school.org, ".", table.columns["_groepskey"]))
    pairs = join_text(classes, "\x1f", table.columns["userSourcedId"]).to_pylist()
    ids = pa.array(
        [
            ENROLLMENT + hashlib.sha256(pair.encode("utf-8")).hexdigest()[:HASH_DIGITS]
            for pair in pairs
        ],
        STR,
    )
    order = pc.sort_indices(
        pa.table({"id": ids, "active": table.active}),
        sort_keys=[("id", "ascending"), ("active", "descending")],
    )
    ids = ids.take(order)
    # Sorted, the first row of each id is the one to keep (an active one when there is).
    first = (
        pa.concat_arrays([pa.array([True]), pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1))])
        if len(ids)
        else pa.array([], pa.bool_())
    )
    table = table.take(order)
    columns = {
        **table.columns,
        "sourcedId": ids,
        "classSourcedId": classes.take(order),
        "schoolSourcedId": school.org,
    }
    return Table.of(table.length, table.active, columns).where(first)
