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
from connectors.formats.oneroster_arrays import Columns, Table, const, large, null_text
from connectors.formats.oneroster_classes import (
    classes_and_courses,
    context_keys,
    course_id,
    ended_classes,
    groups_by_key,
    orgs_table,
    sessions_table,
    unique_keys,
)
from connectors.formats.oneroster_columns import (
    EOL,
    FIELD_NAME,
    FILE_MODE,
    FORMAT,
    HEADERS,
    MANIFEST_FILES,
    MANIFEST_VERSION,
    METADATA_PREFIX,
    ONEROSTER_VERSION,
    PUPIL_NEEDS,
    SYSTEM_NAME,
    TEACHER_MAPPED,
    TEXT_COLUMNS,
    UNIX,
    ZIP_LEVEL,
    ZIP_TIME,
)
from connectors.formats.oneroster_context import (
    delta_stamp,
    is_delta,
    left_groups_of,
    previous_groups_of,
    removed_rows,
    school_of,
)
from connectors.formats.oneroster_people import (
    check_needs,
    check_unique_users,
    demographics_table,
    finish_enrollments,
    is_metadata,
    roles_table,
    staff_of,
    student_enrollments,
    student_users_table,
    teacher_enrollments,
    teacher_users_table,
    user_ids,
)
from connectors.i18n import _


@dataclass(frozen=True)
class Package:
    """The data files of one delivery, before they become bytes."""

    delta: bool
    stamp: str  # dateLastModified of every delta row
    tables: Mapping[str, Table]
    user_metadata: tuple[str, ...]
    students: int

    @classmethod
    def build(cls, frame: pd.DataFrame, context: RenderContext) -> Package:
        """Turn the pupils and the context into the rows of every file."""
        delta = is_delta(context)
        stamp = delta_stamp(context.created_at) if delta else ""
        school = school_of(context.school)
        pupils = Columns(frame)
        # Arrays are positional: the context's series are checked against the frame's
        # index and then lined up by position.
        active = pc.invert(removed_rows(frame, context, delta))
        check_needs(frame, active, PUPIL_NEEDS, _("leerlingen"))
        users = user_ids(pupils, context.identifier)

        enrollments = student_enrollments(
            pupils,
            users,
            active,
            previous_groups_of(frame, context, delta),
            left_groups_of(frame, context, delta),
        )
        # A class is live while a delivered pupil is in it: every group of the context
        # (all the supplier holds after this package), and any of the package's pupils.
        live = unique_keys(
            context_keys(context.groups),
            enrollments.where(enrollments.active).columns["_groepskey"],
        )

        metadata = [
            name for name in map(str, frame.columns) if is_metadata(name, context.identifier)
        ]
        student_users = student_users_table(pupils, users, active, school, metadata)
        user_tables = [student_users]
        roles = [roles_table(users, active, "student", school, pupils)]
        staff = staff_of(context, delta)
        if staff is not None:
            teacher_metadata = [
                str(name) for name in staff.frame.columns if str(name) not in TEACHER_MAPPED
            ]
            metadata += [name for name in teacher_metadata if name not in metadata]
            teacher_users, teacher_ids = teacher_users_table(staff, school, teacher_metadata)
            user_tables.append(teacher_users)
            roles.append(roles_table(teacher_ids, staff.active, "teacher", school, None))
            enrollments = Table.concat([enrollments, teacher_enrollments(staff, teacher_ids, live)])
        for name in metadata:
            if not FIELD_NAME.fullmatch(name):
                raise ConfigurationError(
                    _(
                        "{format}: kolom {name} kan geen metadatakolom worden; veldnamen "
                        "bestaan uit kleine letters, cijfers en '_'"
                    ).format(
                        format=FORMAT,
                        name=repr(name),
                    )
                )
        all_users = Table.concat(user_tables)
        check_unique_users(all_users.columns["sourcedId"])

        # Every class an enrollment names is in the package, and so is its course.
        referenced = pc.unique(enrollments.columns["_groepskey"])
        kept = pc.is_in(referenced, value_set=live)
        groups = groups_by_key(pupils, active, context.groups, live)
        classes, courses = classes_and_courses(
            {key: groups[key] for key in referenced.filter(kept).to_pylist()},
            ended_classes(enrollments, referenced.filter(pc.invert(kept))),
            {course_id(group.jaargroep, school) for group in groups.values()},
            school,
        )

        tables = {
            "orgs": orgs_table(school),
            "academicSessions": sessions_table(school),
            "courses": courses,
            "classes": classes,
            "users": all_users,
            "roles": Table.concat(roles),
            "enrollments": finish_enrollments(enrollments, school),
        }
        if "geboortedatum" in pupils or "geslacht" in pupils:
            tables["demographics"] = demographics_table(pupils, users, active)
        return cls(
            delta=delta,
            stamp=stamp,
            # A declared file must hold a row; one without rows is absent instead.
            tables={name: table for name, table in tables.items() if table.length},
            user_metadata=tuple(f"{METADATA_PREFIX}{name}" for name in metadata),
            students=student_users.length,
        )

    def zip(self) -> bytes:
        """The package as zip bytes: manifest.csv first, then the data files by name."""
        entries = {"manifest.csv": self._manifest()}
        for name in sorted(self.tables):
            header = HEADERS[name]
            text = TEXT_COLUMNS.get(name, frozenset())
            if name == "users":
                header = (*header, *self.user_metadata)
                text = text | frozenset(self.user_metadata)
            entries[f"{name}.csv"] = csv_file(header, self._finished(self.tables[name]), text)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in entries.items():
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                # ZipInfo takes these from the platform; fixed, they cannot vary by worker.
                info.create_system = UNIX
                info.external_attr = FILE_MODE
                archive.writestr(info, data, compresslevel=ZIP_LEVEL)
        return buffer.getvalue()

    def _manifest(self) -> bytes:
        mode = "delta" if self.delta else "bulk"
        rows = [
            ("manifest.version", MANIFEST_VERSION),
            ("oneroster.version", ONEROSTER_VERSION),
            *(
                (f"file.{name}", mode if name in self.tables else "absent")
                for name in MANIFEST_FILES
            ),
            ("source.systemName", SYSTEM_NAME),
        ]
        lines = ["propertyName,value", *(f"{key},{value}" for key, value in rows)]
        return (EOL.join(lines) + EOL).encode("utf-8")

    def _finished(self, table: Table) -> Table:
        """Lifecycle columns filled (delta) or left blank (bulk); rows sorted by sourcedId."""
        columns = {name: array for name, array in table.columns.items() if not name.startswith("_")}
        if self.delta:
            columns["status"] = pc.if_else(
                table.active, large(spec.ACTIVE), large(spec.TO_BE_DELETED)
            )
            columns["dateLastModified"] = const(self.stamp, table.length)
        finished = Table(length=table.length, columns=columns, active=table.active)
        return finished.take(pc.sort_indices(columns["sourcedId"]))


# -- bytes -------------------------------------------------------------------------------------


def csv_file(header: Sequence[str], table: Table, text: frozenset[str]) -> bytes:
    """One CSV file: the header, then one CRLF line per row, cells as the CSV format makes them."""
    head = ",".join(header) + EOL
    arrays = [table.columns.get(name, null_text(table.length)) for name in header]
    text_flags = [name in text for name in header]
    return head.encode("utf-8") + join_cells(arrays, text_flags, separator=",", eol=EOL)
