"""OneRoster 1.2 writer: one school's package built from its tables and written as zip bytes."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow.compute as pc

from connectors import oneroster_spec as spec
from connectors.errors import ConfigurationError
from connectors.formats.base import RenderContext
from connectors.formats.csv import join_cells
from connectors.formats.oneroster_arrays import _Columns, _const, _large, _nulls, _Table
from connectors.formats.oneroster_classes import (
    _classes_and_courses,
    _context_keys,
    _course_id,
    _ended_classes,
    _groups,
    _orgs,
    _sessions,
    _unique_keys,
)
from connectors.formats.oneroster_columns import (
    _EOL,
    _FIELD_NAME,
    _FILE_MODE,
    _MANIFEST_VERSION,
    _METADATA_PREFIX,
    _SYSTEM_NAME,
    _TEACHER_MAPPED,
    _TEXT_COLUMNS,
    _UNIX,
    _ZIP_LEVEL,
    _ZIP_TIME,
    FORMAT,
    HEADERS,
    MANIFEST_FILES,
    ONEROSTER_VERSION,
    PUPIL_NEEDS,
)
from connectors.formats.oneroster_context import (
    _is_delta,
    _left,
    _previous,
    _removed,
    _school,
    _stamp,
)
from connectors.formats.oneroster_people import (
    _check_needs,
    _check_unique_users,
    _demographics,
    _finish_enrollments,
    _is_metadata,
    _roles,
    _staff,
    _student_enrollments,
    _student_users,
    _teacher_enrollments,
    _teacher_users,
    _user_ids,
)
from connectors.i18n import _


@dataclass(frozen=True)
class _Package:
    """The data files of one delivery, before they become bytes."""

    delta: bool
    stamp: str  # dateLastModified of every delta row
    tables: Mapping[str, _Table]
    user_metadata: tuple[str, ...]
    students: int

    @classmethod
    def build(cls, frame: pd.DataFrame, context: RenderContext) -> _Package:
        """Turn the pupils and the context into the rows of every file."""
        delta = _is_delta(context)
        stamp = _stamp(context.created_at) if delta else ""
        school = _school(context.school)
        pupils = _Columns(frame)
        # Arrays are positional: the context's series are checked against the frame's
        # index and then lined up by position.
        active = pc.invert(_removed(frame, context, delta))
        _check_needs(frame, active, PUPIL_NEEDS, _("leerlingen"))
        users = _user_ids(pupils, context.identifier)

        enrollments = _student_enrollments(
            pupils,
            users,
            active,
            _previous(frame, context, delta),
            _left(frame, context, delta),
        )
        # A class is live while a delivered pupil is in it: every group of the context
        # (all the supplier holds after this package), and any of the package's pupils.
        live = _unique_keys(
            _context_keys(context.groups),
            enrollments.where(enrollments.active).columns["_groepskey"],
        )

        metadata = [
            name for name in map(str, frame.columns) if _is_metadata(name, context.identifier)
        ]
        student_users = _student_users(pupils, users, active, school, metadata)
        user_tables = [student_users]
        roles = [_roles(users, active, "student", school, pupils)]
        staff = _staff(context, delta)
        if staff is not None:
            teacher_metadata = [
                str(name) for name in staff.frame.columns if str(name) not in _TEACHER_MAPPED
            ]
            metadata += [name for name in teacher_metadata if name not in metadata]
            teacher_users, teacher_ids = _teacher_users(staff, school, teacher_metadata)
            user_tables.append(teacher_users)
            roles.append(_roles(teacher_ids, staff.active, "teacher", school, None))
            enrollments = _Table.concat(
                [enrollments, _teacher_enrollments(staff, teacher_ids, live)]
            )
        for name in metadata:
            if not _FIELD_NAME.fullmatch(name):
                raise ConfigurationError(
                    _(
                        "{format}: kolom {name} kan geen metadatakolom worden; veldnamen "
                        "bestaan uit kleine letters, cijfers en '_'"
                    ).format(
                        format=FORMAT,
                        name=repr(name),
                    )
                )
        all_users = _Table.concat(user_tables)
        _check_unique_users(all_users.columns["sourcedId"])

        # Every class an enrollment names is in the package, and so is its course.
        referenced = pc.unique(enrollments.columns["_groepskey"])
        kept = pc.is_in(referenced, value_set=live)
        groups = _groups(pupils, active, context.groups, live)
        classes, courses = _classes_and_courses(
            {key: groups[key] for key in referenced.filter(kept).to_pylist()},
            _ended_classes(enrollments, referenced.filter(pc.invert(kept))),
            {_course_id(group.jaargroep, school) for group in groups.values()},
            school,
        )

        tables = {
            "orgs": _orgs(school),
            "academicSessions": _sessions(school),
            "courses": courses,
            "classes": classes,
            "users": all_users,
            "roles": _Table.concat(roles),
            "enrollments": _finish_enrollments(enrollments, school),
        }
        if "geboortedatum" in pupils or "geslacht" in pupils:
            tables["demographics"] = _demographics(pupils, users, active)
        return cls(
            delta=delta,
            stamp=stamp,
            # A declared file must hold a row; one without rows is absent instead.
            tables={name: table for name, table in tables.items() if table.length},
            user_metadata=tuple(f"{_METADATA_PREFIX}{name}" for name in metadata),
            students=student_users.length,
        )

    def zip(self) -> bytes:
        """The package as zip bytes: manifest.csv first, then the data files by name."""
        entries = {"manifest.csv": self._manifest()}
        for name in sorted(self.tables):
            header = HEADERS[name]
            text = _TEXT_COLUMNS.get(name, frozenset())
            if name == "users":
                header = (*header, *self.user_metadata)
                text = text | frozenset(self.user_metadata)
            entries[f"{name}.csv"] = _csv(header, self._finished(self.tables[name]), text)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in entries.items():
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                # ZipInfo takes these from the platform; fixed, they cannot vary by worker.
                info.create_system = _UNIX
                info.external_attr = _FILE_MODE
                archive.writestr(info, data, compresslevel=_ZIP_LEVEL)
        return buffer.getvalue()

    def _manifest(self) -> bytes:
        mode = "delta" if self.delta else "bulk"
        rows = [
            ("manifest.version", _MANIFEST_VERSION),
            ("oneroster.version", ONEROSTER_VERSION),
            *(
                (f"file.{name}", mode if name in self.tables else "absent")
                for name in MANIFEST_FILES
            ),
            ("source.systemName", _SYSTEM_NAME),
        ]
        lines = ["propertyName,value", *(f"{key},{value}" for key, value in rows)]
        return (_EOL.join(lines) + _EOL).encode("utf-8")

    def _finished(self, table: _Table) -> _Table:
        """Lifecycle columns filled (delta) or left blank (bulk); rows sorted by sourcedId."""
        columns = {name: array for name, array in table.columns.items() if not name.startswith("_")}
        if self.delta:
            columns["status"] = pc.if_else(
                table.active, _large(spec.ACTIVE), _large(spec.TO_BE_DELETED)
            )
            columns["dateLastModified"] = _const(self.stamp, table.length)
        finished = _Table(length=table.length, columns=columns, active=table.active)
        return finished.take(pc.sort_indices(columns["sourcedId"]))


# -- bytes -------------------------------------------------------------------------------------


def _csv(header: Sequence[str], table: _Table, text: frozenset[str]) -> bytes:
    """One CSV file: the header, then one CRLF line per row, cells as the CSV format makes them."""
    head = ",".join(header) + _EOL
    arrays = [table.columns.get(name, _nulls(table.length)) for name in header]
    text_flags = [name in text for name in header]
    return head.encode("utf-8") + join_cells(arrays, text_flags, separator=",", eol=_EOL)
