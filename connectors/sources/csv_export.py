"""Read a school's pupil "overzicht" (CSV or Excel) through a declarative column map.

ParnasSys and other administrations have no fixed CSV layout: schools build the overzicht
themselves. A column map (YAML, one per layout, see `csv_maps/parnassys.yaml`) says which
header means which canonical column, which columns an export must have and where the
school header (schooljaar, BRIN) comes from. Headers are matched case-insensitively,
ignoring spaces; a column the map does not know is not read and is reported by name.

What the reader accepts, because that is what schools' tools write:

- CSV separated by `;` (Excel-NL) or `,`, chosen per file from the header line; UTF-8
  with or without byte order mark, or Windows-1252 (older Excel), which is noted;
- title or blank lines above the header: the header is the first of the first
  `HEADER_SEARCH_LINES` lines that holds the required headers;
- Excel workbooks (.xlsx), read with calamine: the first sheet or the one the map names;
- dates as dd-mm-jjjj (also d-m-jjjj, with / or .) and ISO, written out as ISO; gender as
  M/V/J, jongen/meisje, man/vrouw or the EDEXML codes 0/1/2/9, written out as the code.

Values are only normalised; whatever cannot be normalised stays as it was, so that the
contracts quarantine that one row. The file is read in whole-column operations: the CSV
structure (records, their lines and their field counts) is found with numpy on the raw
bytes and the values are parsed by pandas, so that every row keeps its real line number
(also after a value that spans lines) without a Python loop over the pupils.

Error messages name the file, the line and a fix, never a pupil value.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import python_calamine
import yaml
from pandas.api.types import pandas_dtype
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from connectors.errors import ConfigurationError, SourceFormatError
from connectors.sources.base import (
    GROUP_COLUMNS,
    PUPIL_COLUMNS,
    SCHOOL_FIELDS,
    SOURCE_FILE,
    SOURCE_LINE,
    TEACHER_COLUMNS,
    SchoolExport,
    empty_frame,
    sha256_of_file,
)

__all__ = [
    "DEFAULT_COLUMN_MAP",
    "FORMAT",
    "HEADER_SEARCH_LINES",
    "ColumnMap",
    "CsvExportSource",
    "load_column_map",
    "normalise_header",
]

FORMAT = "csv_export"
DEFAULT_COLUMN_MAP = Path(__file__).resolve().with_name("csv_maps") / "parnassys.yaml"

# Title lines above the header are skipped; a header further down than this is not one.
HEADER_SEARCH_LINES = 20

# The group name is not a pupil column (validation adds it from the groups frame), but
# the export carries it per pupil and the groups are built from it.
GROUP_NAME = "groepsnaam"
# samengestelde_groepen refers to group definitions that a flat overzicht cannot carry.
_MAPPABLE_PUPIL_COLUMNS = (
    *(name for name in PUPIL_COLUMNS if name != "samengestelde_groepen"),
    GROUP_NAME,
)
_DATE_COLUMNS = ("geboortedatum", "start_ondw_jgr3", "instroomdatum", "uitstroomdatum")
_SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"})

_SEPARATORS = (";", ",")
_QUOTE = ord('"')
_LF = ord("\n")
_CR = ord("\r")
_BLANK_BYTES = np.array([ord(" "), ord("\t"), _CR, _LF], dtype=np.uint8)

# Bytes that never occur in a text export: NUL and C0 controls other than tab, line
# feed, form feed and carriage return. Random bytes hit one within a few hundred bytes.
_BINARY_BYTES = np.array(
    [b for b in range(32) if b not in (0x09, 0x0A, 0x0C, 0x0D)], dtype=np.uint8
)
_SNIFF_BYTES = 1 << 16
_MAGIC = (
    (b"PK\x03\x04", "an Excel workbook or another zip file; save it as .xlsx"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) workbook; save it as .xlsx or as CSV"),
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
)

# Gender as schools write it, to the NEN-ISO 5218 code EDEXML uses (J = jongen).
_GENDER_CODES = {
    "0": "0",
    "1": "1",
    "2": "2",
    "9": "9",
    "m": "1",
    "j": "1",
    "man": "1",
    "jongen": "1",
    "v": "2",
    "vrouw": "2",
    "meisje": "2",
    "onbekend": "0",
}
# Dutch day-first dates, as Excel-NL writes them (05-08-2022, 5-8-2022, 05/08/2022), and
# ISO dates; either may carry a midnight time, as spreadsheets add one.
# (RE2 syntax: these run in Arrow, on whole columns.)
_MIDNIGHT = r"(?:[ T]0?0:00(?::00(?:\.0+)?)?)?"
_DUTCH_DATE = rf"^(?P<d>\d{{1,2}})[-/.](?P<m>\d{{1,2}})[-/.](?P<y>\d{{4}}){_MIDNIGHT}$"
_ISO_DATE = rf"^(?P<y>\d{{4}})-(?P<m>\d{{1,2}})-(?P<d>\d{{1,2}}){_MIDNIGHT}$"
# "Groep 3" or "03" for jaargroep 3; a single letter (b, c) is an EDEXML code in capitals.
_JAARGROEP_NUMBER = r"(?i)^(?:groep\s*)?0*(?P<n>\d+)$"
_TEXT = pa.large_string()
_SCHOOLJAAR = re.compile(r"(\d{4})\s*[-/]\s*(\d{4})")

_MAX_SHOWN = 200
_EXPORT_HINT = (
    "export the overzicht again as CSV (';' or ',' separated, UTF-8 or Windows-1252) or as "
    "Excel (.xlsx)"
)


def normalise_header(name: str) -> str:
    """Return the form headers are compared in: case-folded, without any white space.

    Args:
        name: a header as written in the export or in a column map.

    Returns:
        The header without spaces (also non-breaking ones), case-folded.
    """
    return "".join(name.split()).casefold()


# -- the column map -------------------------------------------------------------------


def _as_list(value: Any) -> Any:
    # One header may be written as a plain string instead of a one-item list.
    return [value] if isinstance(value, str) else value


Headers = Annotated[
    list[Annotated[str, Field(min_length=1)]], BeforeValidator(_as_list), Field(min_length=1)
]


def _text_value(value: Any) -> Any:
    # YAML reads 00 as the number 0 and 2026 as a number: a default must be quoted text.
    if not isinstance(value, str):
        raise ValueError(f"write the value in quotes (as text), e.g. '{value}'")
    return value


DefaultValue = Annotated[str, BeforeValidator(_text_value)]
Requirement = Annotated[
    list[Annotated[str, Field(min_length=1)]], BeforeValidator(_as_list), Field(min_length=1)
]


class ColumnMap(BaseModel):
    """One export layout: which header is which canonical column, and what is required.

    Attributes:
        name: short name of the layout, for notes and messages.
        description: what export this map is for.
        sheet: the sheet of a workbook to read; None for the first sheet.
        columns: canonical pupil column (or `groepsnaam`) -> the headers it may have.
        school: school header field (SCHOOL_FIELDS) -> the headers of a column holding it;
            every row must hold the same value.
        defaults: school header field -> value, for an export without such a column.
        required: canonical names the export must have; an inner list means "one of".
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str = Field(min_length=1)
    description: str = ""
    sheet: str | None = None
    columns: dict[str, Headers]
    school: dict[str, Headers] = Field(default_factory=dict)
    defaults: dict[str, DefaultValue] = Field(default_factory=dict)
    required: list[Requirement]

    @model_validator(mode="after")
    def _consistent(self) -> ColumnMap:
        for key in self.columns:
            if key not in _MAPPABLE_PUPIL_COLUMNS:
                raise ValueError(
                    f"columns.{key}: not a canonical pupil column; known: "
                    + ", ".join(_MAPPABLE_PUPIL_COLUMNS)
                )
        for section, mapping in (("school", self.school), ("defaults", self.defaults)):
            for key in mapping:
                if key not in SCHOOL_FIELDS:
                    raise ValueError(
                        f"{section}.{key}: not a school header field; known: "
                        + ", ".join(SCHOOL_FIELDS)
                    )
        for key, value in self.defaults.items():
            if not value:
                raise ValueError(f"defaults.{key}: empty; give a value or remove the key")
        year = self.defaults.get("schooljaar")
        if year is not None and _school_year(year) is None:
            raise ValueError("defaults.schooljaar: not a school year such as 2026-2027")
        seen: dict[str, str] = {}
        for section, mapping in (("columns", self.columns), ("school", self.school)):
            for key, headers in mapping.items():
                for header in headers:
                    where = f"{section}.{key}"
                    other = seen.setdefault(normalise_header(header), where)
                    if other != where:
                        raise ValueError(
                            f"{where}: header {header!r} is also listed under {other}; a "
                            "header can mean one column only"
                        )
        known = {*self.columns, *self.school, *self.defaults}
        for position, requirement in enumerate(self.required):
            for name in requirement:
                if name not in known:
                    raise ValueError(
                        f"required[{position}]: {name!r} is neither under columns, school "
                        "nor defaults"
                    )
        if ["leerlingkey"] not in self.required:
            raise ValueError(
                "required: must list leerlingkey on its own; every pupil needs its key"
            )
        if "schooljaar" not in self.school and "schooljaar" not in self.defaults:
            raise ValueError(
                "school.schooljaar: map a Schooljaar column or set defaults.schooljaar; "
                "consent and delivery depend on the school year"
            )
        return self

    def targets(self) -> dict[str, str]:
        """Return normalised header -> canonical name, for pupil and school columns."""
        return {
            normalise_header(header): name
            for mapping in (self.columns, self.school)
            for name, headers in mapping.items()
            for header in headers
        }

    def display(self, name: str) -> str:
        """Return the header a canonical name is shown as: its first listed header."""
        headers = self.columns.get(name) or self.school.get(name)
        return headers[0] if headers else name


def load_column_map(path: Path) -> ColumnMap:
    """Load and validate a column map.

    Args:
        path: the YAML file.

    Returns:
        The validated map.

    Raises:
        ConfigurationError: the file cannot be read, is not YAML, or breaks a rule; the
            message names the file and the key.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigurationError(
            f"{path}: the column map cannot be read ({reason}); check the path"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigurationError(
            f"{path}{where}: the column map is not valid YAML ({problem})"
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"{path}: the column map must be a mapping with keys name, columns, required, ..."
        )
    try:
        return ColumnMap.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(f"{path}: {_map_problems(exc)}") from None


def _map_problems(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key; known: " + ", ".join(ColumnMap.model_fields)
        problems.append(f"key {key}: {message}" if key else message)
    return "; ".join(problems)


# -- the source -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    """The rows under the header, as raw text, before any mapping."""

    header: list[str]  # as written, one per column
    header_line: int
    values: pd.DataFrame  # positional columns (header index), only the mapped ones, "str"
    lines: npt.NDArray[np.int64]  # the real line (CSV) or row (XLSX) of each row
    encoding: str
    notes: tuple[str, ...]


class CsvExportSource:
    """Source for pupil overzichten as CSV or Excel; `extract` is the whole interface.

    Args:
        column_map: the YAML column map for the export's layout; None for the bundled
            ParnasSys map (`DEFAULT_COLUMN_MAP`).

    Raises:
        ConfigurationError: the column map cannot be loaded.
    """

    format = FORMAT

    def __init__(self, column_map: Path | None = None) -> None:
        self.column_map_path = Path(column_map) if column_map is not None else DEFAULT_COLUMN_MAP
        self.column_map = load_column_map(self.column_map_path)
        self._targets = self.column_map.targets()

    def extract(self, path: Path) -> SchoolExport:
        """Read one overzicht (CSV or Excel) into raw frames with provenance.

        Args:
            path: the export; .xlsx (and other workbook endings) is read as a workbook,
                anything else as CSV.

        Returns:
            The school header, pupils and their groups as raw string frames; no teachers.

        Raises:
            ConfigurationError: the path does not name a readable file.
            SourceFormatError: the file is not a text CSV or workbook, has no header with
                the required columns, has rows whose fields do not line up with the
                header, no pupils, or no single valid schooljaar.
        """
        path = Path(path)
        if not path.is_file():
            problem = "does not exist" if not path.exists() else "is not a file"
            raise ConfigurationError(f"{path}: the pupil export {problem}; check the source path")
        try:
            if path.suffix.lower() in _SPREADSHEET_SUFFIXES:
                table = self._read_workbook(path)
            else:
                table = self._read_csv(path, path.read_bytes())
            digest = sha256_of_file(path)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigurationError(
                f"{path}: the pupil export cannot be read ({reason}); check the path and its "
                "permissions"
            ) from None
        return self._export(path, digest, table)

    # -- CSV ----------------------------------------------------------------------------

    def _read_csv(self, path: Path, data: bytes) -> _Table:
        _refuse_binary(path, data)
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        if not data.strip():
            raise SourceFormatError(
                f"{path}: the file is empty and contains no pupils; {_EXPORT_HINT}"
            )
        encoding, notes = _detect_encoding(path, data)

        # Lines as the eye sees them, quotes or not: title lines above the header may hold
        # anything, so the CSV structure is only looked at from the header on.
        breaks = _line_breaks(np.frombuffer(data, dtype=np.uint8))
        starts = np.concatenate(([0], breaks + 1))
        candidates: list[tuple[int, list[str], str]] = []
        for index in range(min(HEADER_SEARCH_LINES, len(starts))):
            end = int(breaks[index]) if index < len(breaks) else len(data)
            text = data[int(starts[index]) : end].decode(encoding).rstrip("\r")
            if text.strip():
                candidates.extend((index + 1, cells, sep) for sep, cells in _split_line(text))
        header_line, separator = self._find_header(path, candidates)

        body = data[int(starts[header_line - 1]) :]
        shape = _csv_shape(path, body, separator, header_line)
        width = int(shape.fields[0])
        lines_with_data = ~shape.blank
        lines_with_data[0] = False
        wrong = lines_with_data & (shape.fields != width)
        if wrong.any():
            first = int(np.flatnonzero(wrong)[0])
            raise SourceFormatError(
                f"{path} line {int(shape.lines[first])}: {int(shape.fields[first])} fields, "
                f"while the header on line {header_line} has {width}; the columns are shifted "
                "from here on, so values would land under the wrong header. Check that line "
                f"for a missing or extra {separator!r} (a value holding {separator!r} must be "
                f"in double quotes), or {_EXPORT_HINT}"
            )

        body_text = body.decode(encoding)
        header_text = body[: shape.header_end].decode(encoding)
        header = _csv_header(path, body, header_text, separator, width, header_line)
        wanted = [i for i, name in enumerate(header) if normalise_header(name) in self._targets]
        try:
            frame = pd.read_csv(
                io.StringIO(body_text, newline=""),
                sep=separator,
                header=None,
                names=list(range(width)),
                usecols=wanted,  # an unknown column is never read, only named in the notes
                index_col=False,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                skipinitialspace=True,
                quotechar='"',
                doublequote=True,
                engine="c",
            )
        except (pd.errors.ParserError, ValueError):
            raise _quote_error(path, body, header_line) from None
        if len(frame) != len(shape.lines):
            # pandas and the byte scan split records differently: only a stray quote does that.
            raise _quote_error(path, body, header_line)
        frame = frame.astype("str")
        # A row of separators only, or with values only in ignored columns, is no pupil.
        keep = lines_with_data & _any_value(frame)
        return _Table(
            header=header,
            header_line=header_line,
            values=frame.loc[keep].reset_index(drop=True),
            lines=shape.lines[keep].astype(np.int64),
            encoding=encoding,
            notes=notes,
        )

    # -- Excel --------------------------------------------------------------------------

    def _read_workbook(self, path: Path) -> _Table:
        if path.stat().st_size == 0:
            raise SourceFormatError(
                f"{path}: the file is empty and contains no pupils; {_EXPORT_HINT}"
            )
        try:
            workbook = python_calamine.CalamineWorkbook.from_path(str(path))
            sheet_name = self.column_map.sheet
            if sheet_name is None:
                if not workbook.sheet_names:
                    raise SourceFormatError(f"{path}: the workbook has no sheets; {_EXPORT_HINT}")
                sheet = workbook.get_sheet_by_index(0)
            elif sheet_name in workbook.sheet_names:
                sheet = workbook.get_sheet_by_name(sheet_name)
            else:
                raise SourceFormatError(
                    f"{path}: the workbook has no sheet {sheet_name!r} (sheets: "
                    f"{_shown(workbook.sheet_names)}); set sheet in the column map "
                    f"{self.column_map_path.name} to the sheet with the pupils"
                )
            # Not skipping the empty area keeps row i of the list at spreadsheet row i + 1.
            rows = sheet.to_python(skip_empty_area=False)
        except python_calamine.PasswordError:
            raise SourceFormatError(
                f"{path}: the workbook is protected with a password; save it without one"
            ) from None
        except python_calamine.CalamineError as exc:
            raise SourceFormatError(
                f"{path}: is not a readable Excel workbook ({type(exc).__name__}); {_EXPORT_HINT}"
            ) from None
        candidates = [
            (number, [_cell_header(cell) for cell in row], "")
            for number, row in enumerate(rows[:HEADER_SEARCH_LINES], start=1)
            if any(_cell_is_set(cell) for cell in row)
        ]
        if not candidates and not any(any(_cell_is_set(c) for c in row) for row in rows):
            raise SourceFormatError(
                f"{path}: the sheet is empty and contains no pupils; {_EXPORT_HINT}"
            )
        header_line, _ = self._find_header(path, candidates)
        header = [_cell_header(cell) for cell in rows[header_line - 1]]
        wanted = [i for i, name in enumerate(header) if normalise_header(name) in self._targets]
        cells = pd.DataFrame(rows[header_line:], columns=range(len(header)), dtype=object)
        values = pd.DataFrame(
            {i: _cells_as_text(cells[i]) for i in wanted}, index=cells.index, columns=wanted
        )
        lines = np.arange(header_line + 1, header_line + 1 + len(cells), dtype=np.int64)
        keep = _any_value(values)
        return _Table(
            header=header,
            header_line=header_line,
            values=values.loc[keep].reset_index(drop=True),
            lines=lines[keep],
            encoding="utf-8",
            notes=(),
        )

    # -- header -------------------------------------------------------------------------

    def _find_header(
        self, path: Path, candidates: Sequence[tuple[int, list[str], str]]
    ) -> tuple[int, str]:
        """Return (line, separator) of the header: the first line with the required headers.

        Only requirements the file itself must meet count here (school fields may come
        from the map's defaults); the rest is checked against the chosen line.
        """
        best: tuple[int, int, list[str], str] | None = None  # known count, line, cells, sep
        for line, cells, separator in candidates:
            present = self._present(cells)
            if not present:
                continue
            if not self._missing(present, with_defaults=False, pupil_only=True):
                missing = self._missing(present, with_defaults=True, pupil_only=False)
                if missing:
                    raise self._missing_error(path, line, cells, missing)
                self._check_duplicates(path, line, cells)
                return line, separator
            if best is None or len(present) > best[0]:
                best = (len(present), line, cells, separator)
        if best is None:
            needed = ", ".join(self._describe(r) for r in self.column_map.required)
            raise SourceFormatError(
                f"{path}: no header found in the first {HEADER_SEARCH_LINES} lines; none of "
                f"them has the columns {needed} (column map {self.column_map_path.name}); "
                f"{_EXPORT_HINT}"
            )
        _, line, cells, _ = best
        missing = self._missing(self._present(cells), with_defaults=True, pupil_only=False)
        raise self._missing_error(path, line, cells, missing)

    def _present(self, cells: list[str]) -> set[str]:
        return {
            self._targets[key]
            for key in (normalise_header(cell) for cell in cells)
            if key in self._targets
        }

    def _missing(
        self, present: set[str], *, with_defaults: bool, pupil_only: bool
    ) -> list[list[str]]:
        colmap = self.column_map
        available = present | set(colmap.defaults) if with_defaults else present
        return [
            requirement
            for requirement in colmap.required
            if not (pupil_only and all(name in SCHOOL_FIELDS for name in requirement))
            and not available.intersection(requirement)
        ]

    def _describe(self, requirement: list[str]) -> str:
        return " or ".join(self.column_map.display(name) for name in requirement)

    def _missing_error(
        self, path: Path, line: int, cells: list[str], missing: list[list[str]]
    ) -> SourceFormatError:
        colmap = self.column_map
        parts = []
        for requirement in missing:
            text = self._describe(requirement)
            school = [name for name in requirement if name in SCHOOL_FIELDS]
            if school:
                text += (
                    f" (add a {colmap.display(school[0])} column, or set {school[0]} under "
                    f"defaults in the column map, a copy of {self.column_map_path})"
                )
            parts.append(text)
        found = _shown([cell.strip() for cell in cells if cell.strip()])
        return SourceFormatError(
            f"{path} line {line}: missing column{'s' if len(parts) > 1 else ''} "
            f"{', '.join(parts)}; found columns: {found}; {_EXPORT_HINT}, or adjust the column "
            f"map {self.column_map_path.name}"
        )

    def _check_duplicates(self, path: Path, line: int, cells: list[str]) -> None:
        by_target: dict[str, list[str]] = {}
        for cell in cells:
            target = self._targets.get(normalise_header(cell))
            if target is not None:
                by_target.setdefault(target, []).append(cell.strip())
        for target, headers in by_target.items():
            if len(headers) > 1:
                raise SourceFormatError(
                    f"{path} line {line}: columns {_shown(headers)} all mean {target}; keep "
                    "one of them in the export"
                )

    # -- assembly -----------------------------------------------------------------------

    def _export(self, path: Path, digest: str, table: _Table) -> SchoolExport:
        if table.values.empty or len(table.lines) == 0:
            raise SourceFormatError(
                f"{path}: contains no pupils (no rows below the header on line "
                f"{table.header_line}); {_EXPORT_HINT}"
            )
        label = str(path)
        by_target: dict[str, pd.Series] = {}
        ignored: list[str] = []
        for index, name in enumerate(table.header):
            target = self._targets.get(normalise_header(name))
            if target is not None:
                by_target[target] = _stripped(table.values[index])
            elif name:
                ignored.append(name)
        count = len(table.lines)
        lines = pd.Series(table.lines, dtype="int64")

        school, from_map = self._school(path, by_target, lines, table.header_line)
        _normalise_values(by_target)
        group_key = by_target.get("groepskey")
        group_name = by_target.get(GROUP_NAME)
        if group_key is not None and group_name is not None:
            by_target["groepskey"] = group_key.fillna(group_name)
        elif group_name is not None:
            by_target["groepskey"] = group_name

        missing = pd.Series([None] * count, dtype="str")
        pupils = pd.DataFrame({name: by_target.get(name, missing) for name in PUPIL_COLUMNS})
        pupils[SOURCE_FILE] = pd.Series([label] * count, dtype="str")
        pupils[SOURCE_LINE] = lines
        groups, group_notes = _groups(label, by_target, lines)

        notes = [
            f"{path.name}: {count} pupils, {len(groups)} groups read (CSV export, column map "
            f"{self.column_map.name}, schooljaar {school['schooljaar']})",
            *(f"{path.name}: {note}" for note in table.notes),
        ]
        if table.header_line > 1:
            notes.append(
                f"{path.name}: header on line {table.header_line}; the lines above it were skipped"
            )
        if ignored:
            notes.append(f"{path.name}: ignored columns: {', '.join(ignored)}")
        if from_map:
            notes.append(
                f"{path.name}: {', '.join(from_map)} from the column map "
                f"{self.column_map.name}, not from the file"
            )
        notes.extend(f"{path.name}: {note}" for note in group_notes)
        return SchoolExport(
            path=path,
            sha256=digest,
            format=FORMAT,
            school=school,
            school_line=table.header_line,
            pupils=pupils,
            groups=groups,
            teachers=empty_frame(TEACHER_COLUMNS),
            encoding=table.encoding,
            notes=tuple(notes),
        )

    def _school(
        self, path: Path, by_target: dict[str, pd.Series], lines: pd.Series, header_line: int
    ) -> tuple[dict[str, str | None], list[str]]:
        """The school header from constant columns or the map's defaults.

        Returns:
            The header, and the names of the fields that came from the map's defaults.
        """
        colmap = self.column_map
        school: dict[str, str | None] = dict.fromkeys(SCHOOL_FIELDS)
        from_map: list[str] = []
        for name in SCHOOL_FIELDS:
            column = by_target.pop(name, None)
            value = colmap.defaults.get(name)
            where = header_line
            filled = column.notna().to_numpy() if column is not None else None
            if column is not None and filled is not None and filled.any():
                first_row = int(filled.nonzero()[0][0])
                first = str(column.iloc[first_row])
                differs = (filled & (column != first).to_numpy()).nonzero()[0]
                if len(differs):
                    raise SourceFormatError(
                        f"{path} lines {int(lines[first_row])} and {int(lines[differs[0]])}: "
                        f"the {colmap.display(name)} column holds different values, while an "
                        f"export holds one {name} only; export one school and one school year "
                        "per file"
                    )
                value, where = first, int(lines[first_row])
            elif column is not None and value is None and any(name in r for r in colmap.required):
                raise SourceFormatError(
                    f"{path}: the {colmap.display(name)} column is empty; fill it, or set "
                    f"{name} under defaults in the column map {self.column_map_path}"
                )
            elif value is not None:
                from_map.append(name)
            if name == "schooljaar" and value is not None:
                year = _school_year(value)
                if year is None:
                    raise SourceFormatError(
                        f"{path} line {where}: schooljaar {value[:20]!r} is not a school year "
                        "like 2026-2027 (second year = first year + 1); correct the "
                        f"{colmap.display(name)} column or defaults.schooljaar in "
                        f"{self.column_map_path}"
                    )
                value = year
            school[name] = value
        return school, from_map


# -- helpers: bytes and text ----------------------------------------------------------


def _refuse_binary(path: Path, data: bytes) -> None:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SourceFormatError(
            f"{path}: is UTF-16 text (Excel 'Unicode text'), not a CSV file Sluis reads; save "
            "it as 'CSV UTF-8' or 'CSV (puntkomma-gescheiden)'"
        )
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise SourceFormatError(
                f"{path}: is not a text CSV file, it looks like {what}; {_EXPORT_HINT}"
            )
    binary = np.flatnonzero(
        np.isin(np.frombuffer(data[:_SNIFF_BYTES], dtype=np.uint8), _BINARY_BYTES)
    )
    if len(binary):
        offset = int(binary[0])
        raise SourceFormatError(
            f"{path}: is not a text CSV file (binary data at byte {offset}); {_EXPORT_HINT}"
        )


def _detect_encoding(path: Path, data: bytes) -> tuple[str, tuple[str, ...]]:
    # UTF-8 is tried strictly first: text that decodes as UTF-8 is almost never meant as
    # Windows-1252, while the reverse is common (Excel's plain "CSV" on Windows).
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8", ()
    try:
        data.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceFormatError(
            f"{path} line {line} (byte {exc.start}): is not a text CSV file in UTF-8 or "
            f"Windows-1252; save the export as 'CSV UTF-8' and try again"
        ) from None
    return "windows-1252", ("encoding windows-1252 detected (not UTF-8); read as such",)


def _csv_header(
    path: Path, body: bytes, text: str, separator: str, width: int, header_line: int
) -> list[str]:
    # The header record, tokenised like the rows below it (it may hold quoted names).
    try:
        header = next(
            csv.reader(io.StringIO(text, newline=""), delimiter=separator, skipinitialspace=True)
        )
    except (csv.Error, StopIteration):
        header = []
    if len(header) != width:
        raise _quote_error(path, body, header_line)
    return [name.strip() for name in header]


def _split_line(text: str) -> list[tuple[str, list[str]]]:
    cells = []
    for separator in _SEPARATORS:
        try:
            cells.append(
                (separator, next(csv.reader([text], delimiter=separator, skipinitialspace=True)))
            )
        except (csv.Error, StopIteration):
            continue
    return cells


def _line_breaks(raw: npt.NDArray[np.uint8]) -> npt.NDArray[np.intp]:
    """Positions of the byte ending each line: LF, or CR not followed by LF."""
    is_lf = raw == _LF
    lone_cr = raw == _CR
    lone_cr[:-1] &= ~is_lf[1:]
    return np.flatnonzero(is_lf | lone_cr)


@dataclass(frozen=True)
class _Shape:
    """Per CSV record from the header on: its first line, field count and blankness."""

    lines: npt.NDArray[np.int64]
    fields: npt.NDArray[np.int64]
    blank: npt.NDArray[np.bool_]
    header_end: int  # byte offset in the body where the header record ends


def _csv_shape(path: Path, body: bytes, separator: str, first_line: int) -> _Shape:
    """Split the CSV text into records without parsing values, all in whole-array steps.

    In CSV written by a standard tool, a line break or separator is inside a quoted value
    exactly when an odd number of double quotes precedes it (an escaped quote is two
    quotes). That gives each record's start line and field count. Only the positions of
    quotes, line breaks, separators and blanks are kept, never a number per byte.
    """
    raw = np.frombuffer(body, dtype=np.uint8)
    size = raw.size
    breaks = _line_breaks(raw)
    quotes = np.flatnonzero(raw == _QUOTE)
    if len(quotes) % 2:
        raise _quote_error(path, body, first_line)

    def outside_quotes(positions: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
        if not len(quotes):
            return positions
        outside: npt.NDArray[np.intp] = positions[np.searchsorted(quotes, positions) % 2 == 0]
        return outside

    record_ends = outside_quotes(breaks)
    starts = np.concatenate(([0], record_ends + 1))
    ends = np.concatenate((record_ends, [size]))
    if starts[-1] >= size:  # the file ends with a line break
        starts, ends = starts[:-1], ends[:-1]
    lines = first_line + np.searchsorted(breaks, starts)
    separators = outside_quotes(np.flatnonzero(raw == ord(separator)))
    fields = np.searchsorted(separators, ends) - np.searchsorted(separators, starts) + 1
    # A record is blank when every byte in it is white space.
    blanks = np.flatnonzero(np.isin(raw, _BLANK_BYTES))
    blank = np.searchsorted(blanks, ends) - np.searchsorted(blanks, starts) == ends - starts
    return _Shape(
        lines=lines.astype(np.int64),
        fields=fields.astype(np.int64),
        blank=blank,
        header_end=int(ends[0]),
    )


def _quote_error(path: Path, body: bytes, first_line: int) -> SourceFormatError:
    raw = np.frombuffer(body, dtype=np.uint8)
    breaks = _line_breaks(raw)
    quotes = np.flatnonzero(raw == _QUOTE)
    # Quotes per line; the first line with an odd number is where a quote is left open.
    per_line = np.bincount(np.searchsorted(breaks, quotes), minlength=len(breaks) + 1)
    odd = np.flatnonzero(per_line % 2)
    where = f" line {first_line + int(odd[0])}" if len(odd) else ""
    return SourceFormatError(
        f'{path}{where}: the double quotes (") do not pair up, so values cannot be told '
        'apart; a value with a quote in it must be quoted with the quote doubled (""). '
        f"Correct the line, or {_EXPORT_HINT}"
    )


def _school_year(value: str) -> str | None:
    match = _SCHOOLJAAR.fullmatch(value.strip())
    if match is None or int(match.group(2)) != int(match.group(1)) + 1:
        return None
    return f"{match.group(1)}-{match.group(2)}"


def _shown(names: Sequence[str]) -> str:
    text = ", ".join(names)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


# -- helpers: cells and values --------------------------------------------------------


def _cell_is_set(cell: object) -> bool:
    return not (isinstance(cell, str) and not cell.strip())


def _cell_header(cell: object) -> str:
    return _cell_text(cell).strip()


def _cell_text(cell: object) -> str:
    """One spreadsheet cell as text: dates as ISO, whole numbers without '.0'."""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float):
        if cell.is_integer() and abs(cell) < 2**53:
            return str(int(cell))
        return repr(cell)
    if isinstance(cell, dt.datetime):
        if cell.time() == dt.time(0):
            return cell.date().isoformat()
        return cell.isoformat(timespec="seconds")
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return str(cell)


def _cells_as_text(column: pd.Series) -> pd.Series:
    """A column of spreadsheet cells as text, converting only the cells that are not text.

    Text cells, by far the most, are kept as they are; numbers are converted in one numpy
    step; the few other cells (dates, booleans) one by one.
    """
    kinds = column.map(type)
    text = column.copy()
    floats = kinds.isin([float]).to_numpy()
    if floats.any():
        numbers = column[floats].to_numpy(dtype=np.float64)
        whole = np.isfinite(numbers) & (np.trunc(numbers) == numbers) & (np.abs(numbers) < 2**53)
        converted = np.empty(len(numbers), dtype=object)
        converted[whole] = numbers[whole].astype(np.int64).astype(str)
        converted[~whole] = numbers[~whole].astype(str)
        text[floats] = converted
    other = ~kinds.isin([str, float]).to_numpy()
    if other.any():
        text[other] = column[other].map(_cell_text)
    return text.astype("str")


def _any_value(frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
    # Whether each row holds at least one value that is not white space.
    if frame.columns.empty:
        return np.zeros(len(frame), dtype=bool)
    return np.asarray(frame.apply(lambda column: column.str.strip() != "").any(axis=1), dtype=bool)


def _stripped(column: pd.Series) -> pd.Series:
    values = column.astype("str").str.strip()
    return values.mask(values == "").reset_index(drop=True)


def _normalise_values(by_target: dict[str, pd.Series]) -> None:
    for name in _DATE_COLUMNS:
        if name in by_target:
            by_target[name] = _iso_dates(by_target[name])
    if "geslacht" in by_target:
        gender = by_target["geslacht"]
        by_target["geslacht"] = gender.str.lower().map(_GENDER_CODES).fillna(gender).astype("str")
    if "jaargroep" in by_target:
        by_target["jaargroep"] = _jaargroepen(by_target["jaargroep"])


def _arrow(values: pd.Series) -> pa.Array:
    return pa.array(values, type=_TEXT, from_pandas=True)


def _series(values: pa.Array) -> pd.Series:
    table = pa.table({"values": values.cast(_TEXT)})
    series: pd.Series = table.to_pandas(types_mapper={_TEXT: pandas_dtype("str")}.get)["values"]
    return series


def _iso_dates(values: pd.Series) -> pd.Series:
    """Dates as ISO yyyy-mm-dd; a value that is no real date stays as it was."""
    text = _arrow(values)
    dutch = pc.extract_regex(text, pattern=_DUTCH_DATE)
    iso = pc.extract_regex(text, pattern=_ISO_DATE)

    def part(name: str, width: int) -> pa.Array:
        found = pc.coalesce(pc.struct_field(dutch, name), pc.struct_field(iso, name))
        return pc.utf8_lpad(found, width=width, padding="0")

    candidate = pc.binary_join_element_wise(
        part("y", 4), part("m", 2), part("d", 2), pa.scalar("-", _TEXT)
    )
    # strptime rolls 31-02 over into March; a date that reads back the same is real.
    parsed = pc.strptime(candidate, format="%Y-%m-%d", unit="s", error_is_null=True)
    real = pc.fill_null(pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), candidate), False)
    return _series(pc.if_else(real, candidate, text))


def _jaargroepen(values: pd.Series) -> pd.Series:
    text = _arrow(values)
    number = pc.struct_field(pc.extract_regex(text, pattern=_JAARGROEP_NUMBER), "n")
    letter = pc.if_else(
        pc.match_substring_regex(text, pattern=r"^[A-Za-z]$"), pc.utf8_upper(text), None
    )
    return _series(pc.coalesce(number, letter, text))


def _groups(
    label: str, by_target: dict[str, pd.Series], lines: pd.Series
) -> tuple[pd.DataFrame, list[str]]:
    """One stamgroep per distinct group key, in order of first appearance."""
    keys = by_target.get("groepskey")
    if keys is None:
        return empty_frame(GROUP_COLUMNS), []
    names = by_target.get(GROUP_NAME, keys)
    rows = pd.DataFrame(
        {
            "groepskey": keys,
            "groepsnaam": names.fillna(keys),
            "jaargroep": by_target.get("jaargroep", pd.Series([None] * len(keys), dtype="str")),
            "line": lines,
        }
    ).dropna(subset=["groepskey"])
    summary = rows.groupby("groepskey", sort=False).agg(
        groepsnaam=("groepsnaam", "first"),
        names=("groepsnaam", "nunique"),
        jaargroep=("jaargroep", "first"),
        jaargroepen=("jaargroep", "nunique"),
        line=("line", "min"),
    )
    # A group whose pupils are in different jaargroepen is a combinatiegroep (EDEXML C).
    jaargroep = summary["jaargroep"].where(summary["jaargroepen"] <= 1, "C")
    count = len(summary)
    groups = pd.DataFrame(
        {
            "groepskey": pd.Series(summary.index.to_numpy(), dtype="str"),
            "groepsnaam": pd.Series(summary["groepsnaam"].to_numpy(), dtype="str"),
            "jaargroep": pd.Series(jaargroep.to_numpy(), dtype="str"),
            "soort": pd.Series(["groep"] * count, dtype="str"),
            "omschrijving": pd.Series([None] * count, dtype="str"),
            SOURCE_FILE: pd.Series([label] * count, dtype="str"),
            SOURCE_LINE: pd.Series(summary["line"].to_numpy(), dtype="int64"),
        }
    )
    notes = []
    renamed = summary.index[summary["names"] > 1]
    if len(renamed):
        notes.append(
            f"groepscode {_shown([str(key) for key in renamed])}: more than one group name; "
            "the first one is used"
        )
    return groups, notes
