"""A validated school in the run's staging area: what travels between tasks instead of frames.

`stage_school` writes a `ValidatedSchool`'s frames to staging (connectors.staging) and
returns a `StagedSchool`: the school header, the export's provenance, the counts, and the
path and hash of each frame. That is all the flow keeps of a school and all a task is
passed, so memory follows a batch, not the run, and a worker process or machine can pick
the school up from a shared path. `StagedSchool.load` gives the `ValidatedSchool` back,
refusing a frame that changed since it was written.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa

from connectors.sources.base import (
    GROUP_COLUMNS,
    PUPIL_COLUMNS,
    VESTIGING_COLUMNS,
    SchoolExport,
    empty_frame,
)
from connectors.staging import make_private_folder, read_frame, read_table, write_frames
from contracts.validation import SchoolHeader, ValidatedSchool

__all__ = ["ExportInfo", "StagedSchool", "problems_table", "stage_school"]


@dataclass(frozen=True)
class ExportInfo:
    """The provenance of a school's export, without its frames."""

    path: Path
    sha256: str
    format: str
    encoding: str
    school_line: int
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class StagedSchool(SchoolHeader):
    """A validated school whose frames wait in staging.

    Attributes:
        folder: the school's staging folder.
        hashes: SHA-256 of each staged frame file, by frame name.
        export: provenance of the export (path, hash, format, encoding, notes).
        school: the school header (no pupil values).
        input_pupils: number of pupil rows in the export.
        quarantined_pupils: number of pupils withheld from every supplier as invalid.
        reference_date: the date 'not in the future' was judged against.
    """

    folder: Path
    hashes: tuple[tuple[str, str], ...]
    export: ExportInfo
    school: dict[str, str | None]
    input_pupils: int
    quarantined_pupils: int
    reference_date: date

    def frame(self, name: str) -> pd.DataFrame:
        """Read one staged frame, checked against its hash."""
        return read_frame(self.folder, name, dict(self.hashes)[name])

    def table(self, name: str) -> pa.Table:
        """`frame` as an Arrow table, for gathering many schools' small frames into one."""
        return read_table(self.folder, name, dict(self.hashes)[name])

    def has(self, name: str) -> bool:
        """Whether a frame of that name was staged."""
        return name in dict(self.hashes)

    @property
    def problems(self) -> pd.DataFrame:
        """The quarantine report rows (read from staging each time: they are not kept)."""
        return self.frame("problems")

    def load(self) -> ValidatedSchool:
        """The validated school as it was staged.

        The export's raw pupil and group frames are not staged: validation has turned them
        into `pupils` and `groups`, and only the teachers are read again after it.
        """
        pupils, groups, vestigingen = _empty_raw_frames()
        export = SchoolExport(
            path=self.export.path,
            sha256=self.export.sha256,
            format=self.export.format,
            school=self.school,
            school_line=self.export.school_line,
            pupils=pupils,
            groups=groups,
            teachers=self.frame("teachers"),
            encoding=self.export.encoding,
            notes=self.export.notes,
            vestigingen=vestigingen,
        )
        return ValidatedSchool(
            export=export,
            school=self.school,
            pupils=self.frame("pupils"),
            groups=self.frame("groups"),
            consents=self.frame("consents"),
            problems=self.frame("problems"),
            input_pupils=self.input_pupils,
            quarantined_pupils=self.quarantined_pupils,
            reference_date=self.reference_date,
            unreadable_consents=self.frame("unreadable_consents"),
        )


def problems_table(school: ValidatedSchool | StagedSchool) -> pa.Table:
    """A school's problem rows as an Arrow table: a staged school's read once from staging.

    For reading many schools' few rows into one (the quarantine report, the OpenLineage
    assertions) without a pandas frame per school.
    """
    if isinstance(school, StagedSchool):
        return school.table("problems")
    return pa.Table.from_pandas(school.problems, preserve_index=False)


@functools.cache
def _empty_raw_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    # Built once per process and shared: making three empty frames cost more than reading
    # the six staged ones, and nothing after validation reads or writes these.
    return (
        empty_frame(PUPIL_COLUMNS),
        empty_frame(GROUP_COLUMNS),
        empty_frame(VESTIGING_COLUMNS),
    )


def stage_school(
    school: ValidatedSchool,
    folder: Path,
    *,
    root: Path,
    extra: Mapping[str, pd.DataFrame] | None = None,
) -> StagedSchool:
    """Write `school`'s frames to `folder` (made 0700 below `root`) and return the reference.

    `extra` frames are staged beside the school's own, under their names (see `frame`).
    """
    make_private_folder(folder, up_to=root)
    hashes = write_frames(
        folder,
        {
            "pupils": school.pupils,
            "groups": school.groups,
            "consents": school.consents,
            "problems": school.problems,
            "unreadable_consents": school.unreadable_consents,
            "teachers": school.export.teachers,
            **(extra or {}),
        },
    )
    export = school.export
    return StagedSchool(
        folder=folder,
        hashes=tuple(sorted(hashes.items())),
        export=ExportInfo(
            path=export.path,
            sha256=export.sha256,
            format=export.format,
            encoding=export.encoding,
            school_line=export.school_line,
            notes=export.notes,
        ),
        school=dict(school.school),
        input_pupils=school.input_pupils,
        quarantined_pupils=school.quarantined_pupils,
        reference_date=school.reference_date,
    )
