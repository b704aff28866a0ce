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
    _STR,
    _Columns,
    _guid,
    _join,
    _large,
    _split_keys,
    _Table,
)
from connectors.formats.oneroster_columns import (
    _ENROLLMENT,
    _HASH_DIGITS,
    _METADATA_PREFIX,
    _PUPIL_MAPPED,
    FORMAT,
    IDENTIFIER_FIELDS,
    REMOVED_NAME,
    TEACHER_NEEDS,
)
from connectors.formats.oneroster_context import _check_aligned, _delta_groups, _School
from connectors.i18n import _


def _user_ids(pupils: _Columns, identifier: str) -> pa.Array:
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
    users = _guid(values)
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


def _is_metadata(name: str, identifier: str) -> bool:
    if name == "pseudoniem":
        return identifier != "pseudoniem"
    return name not in _PUPIL_MAPPED


def _family_name(people: _Columns) -> pa.Array:
    """The achternaam with the voorvoegsel in front when there is one: "van Dijk"."""
    achternaam = people["achternaam"]
    voorvoegsel = pc.utf8_trim_whitespace(people["voorvoegsel"])
    return _removed_name(pc.coalesce(_join(voorvoegsel, " ", achternaam), achternaam))


def _removed_name(names: pa.Array) -> pa.Array:
    """Names as given; REMOVED_NAME only where none is (a tobedeleted row: see _check_needs)."""
    return pc.coalesce(names, _large(REMOVED_NAME))


def _check_needs(
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


def _student_users(
    pupils: _Columns,
    users: pa.Array,
    active: pa.Array,
    school: _School,
    metadata: Sequence[str],
) -> _Table:
    columns: dict[str, pa.Array | str | None] = {
        "sourcedId": users,
        "enabledUser": pc.if_else(active, _large("true"), _large("false")),
        "username": pc.coalesce(pupils["gebruikersnaam"], users),
        "givenName": _removed_name(pupils["roepnaam"]),
        "familyName": _family_name(pupils),
        "identifier": pupils["leerlingkey"],
        "email": pupils["emailadres"],
        "grades": pupils["jaargroep"],
        "userMasterIdentifier": pupils["eckid"],
        "primaryOrgSourcedId": school.org,
    }
    columns.update({f"{_METADATA_PREFIX}{name}": pupils[name] for name in metadata})
    return _Table.of(len(users), active, columns)


@dataclass(frozen=True)
class _Staff:
    """The context's teachers: columns, which rows are active, and groups a row left."""

    frame: pd.DataFrame
    columns: _Columns
    active: pa.Array
    left: pa.Array | None


def _staff(context: RenderContext, delta: bool) -> _Staff | None:
    """The teachers to write, checked like the pupils; None when there are none."""
    teachers = context.teachers
    if teachers is None or not len(teachers):
        return None
    changes = context.teacher_changes if delta else None
    if changes is None:
        active = pa.repeat(True, len(teachers))
    else:
        _check_aligned(changes, teachers, "teacher_changes")
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
    _check_needs(teachers, active, TEACHER_NEEDS, _("leerkrachten"))
    left = _delta_groups(teachers, context.teacher_left_groups, delta, "teacher_left_groups")
    return _Staff(frame=teachers, columns=_Columns(teachers), active=active, left=left)


def _teacher_users(
    staff: _Staff, school: _School, metadata: Sequence[str]
) -> tuple[_Table, pa.Array]:
    """Users rows of the teachers, and their sourcedIds (lined up with the teachers)."""
    people = staff.columns
    ids = _guid(_join("leerkracht-", pc.coalesce(people["leerkrachtkey"], people["eckid"])))
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
        "enabledUser": pc.if_else(staff.active, _large("true"), _large("false")),
        "username": ids,
        "givenName": _removed_name(people["roepnaam"]),
        "familyName": _family_name(people),
        "identifier": people["leerkrachtkey"],
        "email": people["emailadres"],
        "userMasterIdentifier": people["eckid"],
        "primaryOrgSourcedId": school.org,
    }
    columns.update({f"{_METADATA_PREFIX}{name}": people[name] for name in metadata})
    return _Table.of(people.length, staff.active, columns), ids


def _check_unique_users(ids: pa.Array) -> None:
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


def _roles(
    users: pa.Array,
    active: pa.Array | bool,
    role: str,
    school: _School,
    pupils: _Columns | None,
) -> _Table:
    return _Table.of(
        len(users),
        active,
        {
            "sourcedId": _guid(_join(users, f".{role}")),
            "userSourcedId": users,
            "roleType": "primary",
            "role": role,
            "beginDate": pupils["instroomdatum"] if pupils is not None else None,
            "endDate": pupils["uitstroomdatum"] if pupils is not None else None,
            "orgSourcedId": school.org,
        },
    )


def _demographics(pupils: _Columns, users: pa.Array, active: pa.Array) -> _Table:
    geslacht = pc.utf8_trim_whitespace(pupils["geslacht"])
    # NEN-ISO 5218 0 (onbekend) and 9 (niet gespecificeerd) have no OneRoster twin;
    # a missing geslacht stays blank (a null condition gives null).
    sex = pc.if_else(
        pc.equal(geslacht, _large("1")),
        _large("male"),
        pc.if_else(pc.equal(geslacht, _large("2")), _large("female"), _large("unspecified")),
    )
    return _Table.of(
        len(users),
        active,
        {"sourcedId": users, "birthDate": pupils["geboortedatum"], "sex": sex},
    )


def _student_enrollments(
    pupils: _Columns,
    users: pa.Array,
    active: pa.Array,
    previous: pa.Array | None,
    left: pa.Array | None,
) -> _Table:
    """Student enrollments: stamgroep, samengestelde groepen, and in delta the old ones.

    In delta, the previous stamgroep and every samengestelde groep the pupil left become
    `tobedeleted` enrollments.

    The class is still a groepskey (_groepskey); _finish_enrollments makes the ids.
    """
    count = len(users)
    parts = [
        _Table.of(
            count,
            active,
            {"_groepskey": pupils["groepskey"], "userSourcedId": users, "primary": "true"},
        )
    ]
    # Only pupils written as active are (still) in their samengestelde groepen.
    joined = pc.if_else(active, pupils["samengestelde_groepen"], pa.scalar(None, _STR))
    parts.append(_secondary_enrollments(joined, users, active=True))
    if previous is not None:
        parts.append(
            _Table.of(
                count,
                False,
                {"_groepskey": previous, "userSourcedId": users, "primary": "true"},
            )
        )
    if left is not None:
        parts.append(_secondary_enrollments(left, users, active=False))
    table = _Table.concat(parts)
    table = table.where(pc.is_valid(table.columns["_groepskey"]))
    return _Table.of(table.length, table.active, {**table.columns, "role": "student"})


def _secondary_enrollments(joined: pa.Array, users: pa.Array, *, active: bool) -> _Table:
    """One non-primary enrollment per key of each pupil's joined samengestelde groepen."""
    keys, rows = _split_keys(joined)
    return _Table.of(
        len(keys),
        active,
        {"_groepskey": keys, "userSourcedId": users.take(rows), "primary": "false"},
    )


def _teacher_enrollments(staff: _Staff, ids: pa.Array, live: pa.Array) -> _Table:
    """A teacher in each of its live groups; in delta, the groups it left are ended.

    An active teacher is enrolled in the groepen that are classes of delivered pupils; a
    removed one's groepen (those the supplier had) and a changed one's left groups become
    `tobedeleted` enrollments.
    """
    keys, rows = _split_keys(staff.columns["groepen"])
    active = staff.active.take(rows)
    keep = pc.or_(pc.invert(active), pc.is_in(keys, value_set=live))
    parts = [
        _Table.of(len(keys), active, {"_groepskey": keys, "userSourcedId": ids.take(rows)}).where(
            keep
        )
    ]
    if staff.left is not None:
        left_keys, left_rows = _split_keys(staff.left)
        parts.append(
            _Table.of(
                len(left_keys),
                False,
                {"_groepskey": left_keys, "userSourcedId": ids.take(left_rows)},
            )
        )
    table = _Table.concat(parts)
    return _Table.of(table.length, table.active, {**table.columns, "role": "teacher"})


def _finish_enrollments(table: _Table, school: _School) -> _Table:
    """Class ids and enrollment ids; one row per class and user, an active one first."""
    classes = _guid(_join(school.org, ".", table.columns["_groepskey"]))
    pairs = _join(classes, "\x1f", table.columns["userSourcedId"]).to_pylist()
    ids = pa.array(
        [
            _ENROLLMENT + hashlib.sha256(pair.encode("utf-8")).hexdigest()[:_HASH_DIGITS]
            for pair in pairs
        ],
        _STR,
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
    return _Table.of(table.length, table.active, columns).where(first)
