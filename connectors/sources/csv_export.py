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
contracts quarantine that one row. The file is read in whole-column operations, without a
Python loop over the pupils, and every row keeps its real line number (also after a blank
line or a value that spans lines). The values are parsed by Arrow's CSV reader: a file
without quotes whose lines all have the header's width directly (row i is on line
header + 1 + i); otherwise the CSV structure (records, their lines and field counts) is
first found with numpy on the raw bytes, and Arrow parses the values only where its
reading cannot differ from that scan (well-formed quotes, empty lines as the only blank
ones), pandas' C parser (which skips initial spaces) where it can. Normalisation (dates,
gender, jaargroep, groups) runs on Arrow arrays and numpy, not per value.

Error messages name the file, the line and a fix, never a pupil value.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
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
import pyarrow.csv as pacsv
import python_calamine
from pandas.api.types import pandas_dtype
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from connectors import safe_yaml
from connectors.errors import ConfigurationError, SourceFormatError, shorten
from connectors.i18n import N_, _
from connectors.identifiers import canonical_brin
from connectors.pydantic_messages import error_message
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
    (b"PK\x03\x04", N_("een Excel-werkmap of een ander zipbestand; sla het op als .xlsx")),
    (b"\xd0\xcf\x11\xe0", N_("een oude Excel-werkmap (.xls); sla het op als .xlsx of als CSV")),
    (b"\x89PNG", N_("een PNG-afbeelding")),
    (b"%PDF", N_("een PDF-document")),
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


def _export_hint() -> str:
    return _(
        "exporteer het overzicht opnieuw als CSV (gescheiden door ';' of ',', UTF-8 of "
        "Windows-1252) of als Excel (.xlsx)"
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
        raise ValueError(
            _("zet de waarde tussen aanhalingstekens (als tekst), bijvoorbeeld '{value}'").format(
                value=value
            )
        )
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
                    _("columns.{key}: geen canonieke leerlingkolom; bekend: {known}").format(
                        key=key, known=", ".join(_MAPPABLE_PUPIL_COLUMNS)
                    )
                )
        for section, mapping in (("school", self.school), ("defaults", self.defaults)):
            for key in mapping:
                if key not in SCHOOL_FIELDS:
                    raise ValueError(
                        _(
                            "{section}.{key}: geen veld van de schoolgegevens; bekend: {known}"
                        ).format(section=section, key=key, known=", ".join(SCHOOL_FIELDS))
                    )
        for key, value in self.defaults.items():
            if not value:
                raise ValueError(
                    _("defaults.{key}: leeg; geef een waarde of verwijder de sleutel").format(
                        key=key
                    )
                )
        year = self.defaults.get("schooljaar")
        if year is not None and _school_year(year) is None:
            raise ValueError(_("defaults.schooljaar: geen schooljaar zoals 2026-2027"))
        seen: dict[str, str] = {}
        for section, mapping in (("columns", self.columns), ("school", self.school)):
            for key, headers in mapping.items():
                for header in headers:
                    where = f"{section}.{key}"
                    other = seen.setdefault(normalise_header(header), where)
                    if other != where:
                        raise ValueError(
                            _(
                                "{where}: kolomkop {header} staat ook onder {other}; een "
                                "kolomkop kan maar één kolom betekenen"
                            ).format(where=where, header=repr(header), other=other)
                        )
        known = {*self.columns, *self.school, *self.defaults}
        for position, requirement in enumerate(self.required):
            for name in requirement:
                if name not in known:
                    raise ValueError(
                        _(
                            "required[{position}]: {name} staat niet onder columns, school "
                            "of defaults"
                        ).format(position=position, name=repr(name))
                    )
        if ["leerlingkey"] not in self.required:
            raise ValueError(
                _(
                    "required: moet leerlingkey als eigen regel noemen; elke leerling heeft "
                    "zijn sleutel nodig"
                )
            )
        if "schooljaar" not in self.school and "schooljaar" not in self.defaults:
            raise ValueError(
                _(
                    "school.schooljaar: wijs een kolom Schooljaar toe of zet "
                    "defaults.schooljaar; toestemming en levering hangen af van het schooljaar"
                )
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
            _(
                "{path}: de kolomindeling kan niet gelezen worden ({reason}); controleer het pad"
            ).format(
                path=path,
                reason=reason,
            )
        ) from None
    try:
        data = safe_yaml.safe_load(text)
    except safe_yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = " " + _("regel {line}").format(line=mark.line + 1) if mark is not None else ""
        problem = getattr(exc, "problem", None) or _("geen geldige YAML")
        raise ConfigurationError(
            _("{path}{where}: de kolomindeling is geen geldige YAML ({problem})").format(
                path=path,
                where=where,
                problem=problem,
            )
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(
            _(
                "{path}: de kolomindeling moet een mapping zijn met de sleutels "
                "name, columns, required, ..."
            ).format(
                path=path,
            )
        )
    try:
        return ColumnMap.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(
            _("{path}: {exc}").format(
                path=path,
                exc=_map_problems(exc),
            )
        ) from None


def _map_problems(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = error_message(error)
        if error["type"] == "extra_forbidden":
            message = _("onbekende sleutel; bekend: {known}").format(
                known=", ".join(ColumnMap.model_fields)
            )
        problems.append(
            _("sleutel {key}: {message}").format(key=key, message=message) if key else message
        )
    return "; ".join(problems)


# -- the source -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    """The rows under the header, as raw text, before any mapping."""

    header: list[str]  # as written, one per column
    header_line: int
    values: dict[int, pa.Array]  # header index -> stripped text (null if empty), mapped only
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
            problem = _("bestaat niet") if not path.exists() else _("is geen bestand")
            raise ConfigurationError(
                _("{path}: de leerlingenexport {problem}; controleer het bronpad").format(
                    path=path,
                    problem=problem,
                )
            )
        try:
            if path.suffix.lower() in _SPREADSHEET_SUFFIXES:
                table = self._read_workbook(path)
                digest = sha256_of_file(path)
            else:
                data = path.read_bytes()
                table = self._read_csv(path, data)
                digest = hashlib.sha256(data).hexdigest()  # as sha256_of_file, without a re-read
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigurationError(
                _(
                    "{path}: de leerlingenexport kan niet gelezen worden ({reason}); "
                    "controleer het pad en de rechten"
                ).format(
                    path=path,
                    reason=reason,
                )
            ) from None
        return self._export(path, digest, table)

    # -- CSV ----------------------------------------------------------------------------

    def _read_csv(self, path: Path, data: bytes) -> _Table:
        _refuse_binary(path, data)
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        if not (data[:_SNIFF_BYTES].strip() or data.strip()):
            raise SourceFormatError(
                _("{path}: het bestand is leeg en bevat geen leerlingen; {export_hint}").format(
                    path=path,
                    export_hint=_export_hint(),
                )
            )
        encoding, notes = _detect_encoding(path, data)

        # Lines as the eye sees them, quotes or not: title lines above the header may hold
        # anything, so the CSV structure is only looked at from the header on.
        breaks = _first_line_breaks(data, HEADER_SEARCH_LINES)
        starts = np.concatenate(([0], breaks + 1))
        candidates: list[tuple[int, list[str], str]] = []
        for index in range(min(HEADER_SEARCH_LINES, len(starts))):
            end = int(breaks[index]) if index < len(breaks) else len(data)
            text = data[int(starts[index]) : end].decode(encoding).rstrip("\r")
            if text.strip():
                candidates.extend((index + 1, cells, sep) for sep, cells in _split_line(text))
        header_line, separator = self._find_header(path, candidates)

        offset = int(starts[header_line - 1])
        body = data[offset:] if offset else data
        if b'"' not in body and b"\x00" not in body:
            # Without quotes a record is a line: if Arrow finds every line below the header
            # as wide as the header (so no blank line either), row i is on line header + 1 + i.
            end = int(breaks[header_line - 1]) - offset if header_line <= len(breaks) else len(body)
            header_text = body[:end].decode(encoding)
            width = header_text.count(separator) + 1
            header = _csv_header(path, body, header_text, separator, width, header_line)
            wanted = [i for i, name in enumerate(header) if normalise_header(name) in self._targets]
            table = (
                _arrow_parse(
                    body, end + 1, separator, encoding, width, wanted, multiline=False, blank=False
                )
                if width > 1  # with one column, a blank line is a row of one empty value
                else None
            )
            if table is not None:
                count = table.num_rows
                columns = {i: table.column(str(i)).combine_chunks().cast(_TEXT) for i in wanted}
                lines = np.arange(header_line + 1, header_line + 1 + count, dtype=np.int64)
                return _rows(header, header_line, columns, lines, encoding, notes)

        shape = _csv_shape(path, body, _line_breaks(body), separator, header_line)
        width = int(shape.fields[0])
        lines_with_data = ~shape.blank
        lines_with_data[0] = False
        wrong = lines_with_data & (shape.fields != width)
        if wrong.any():
            first = int(np.flatnonzero(wrong)[0])
            raise SourceFormatError(
                _(
                    "{path} regel {value}: {value2} velden, terwijl de kopregel op "
                    "regel {header_line} er {width} heeft; de kolommen zijn vanaf hier "
                    "verschoven, dus waarden zouden onder de verkeerde kop komen. Zoek "
                    "op die regel een ontbrekende of extra {separator} (een waarde met "
                    "{separator} erin moet tussen dubbele aanhalingstekens staan), of "
                    "{export_hint}"
                ).format(
                    path=path,
                    value=int(shape.lines[first]),
                    value2=int(shape.fields[first]),
                    header_line=header_line,
                    width=width,
                    separator=repr(separator),
                    export_hint=_export_hint(),
                )
            )

        header_text = body[: shape.header_end].decode(encoding)
        header = _csv_header(path, body, header_text, separator, width, header_line)
        wanted = [i for i, name in enumerate(header) if normalise_header(name) in self._targets]
        parsed = _arrow_rows(body, shape, separator, encoding, width, wanted, lines_with_data)
        columns = (
            parsed
            if parsed is not None
            else _pandas_rows(path, body, shape, separator, encoding, width, wanted)
        )
        lines_below = shape.lines[1:][lines_with_data[1:]]
        if not lines_with_data[1:].all():
            mask = pa.array(lines_with_data[1:])
            columns = {i: column.filter(mask) for i, column in columns.items()}
        return _rows(header, header_line, columns, lines_below, encoding, notes)

    # -- Excel --------------------------------------------------------------------------

    def _read_workbook(self, path: Path) -> _Table:
        if path.stat().st_size == 0:
            raise SourceFormatError(
                _("{path}: het bestand is leeg en bevat geen leerlingen; {export_hint}").format(
                    path=path,
                    export_hint=_export_hint(),
                )
            )
        try:
            workbook = python_calamine.CalamineWorkbook.from_path(str(path))
            sheet_name = self.column_map.sheet
            if sheet_name is None:
                if not workbook.sheet_names:
                    raise SourceFormatError(
                        _("{path}: de werkmap heeft geen werkbladen; {export_hint}").format(
                            path=path,
                            export_hint=_export_hint(),
                        )
                    )
                sheet = workbook.get_sheet_by_index(0)
            elif sheet_name in workbook.sheet_names:
                sheet = workbook.get_sheet_by_name(sheet_name)
            else:
                raise SourceFormatError(
                    _(
                        "{path}: de werkmap heeft geen werkblad {sheet_name} (werkbladen: "
                        "{sheet_names}); zet sheet in de kolomindeling {name} op het "
                        "werkblad met de leerlingen"
                    ).format(
                        path=path,
                        sheet_name=repr(sheet_name),
                        sheet_names=_shown(workbook.sheet_names),
                        name=self.column_map_path.name,
                    )
                )
            # Not skipping the empty area keeps row i of the list at spreadsheet row i + 1.
            rows = sheet.to_python(skip_empty_area=False)
        except python_calamine.PasswordError:
            raise SourceFormatError(
                _(
                    "{path}: de werkmap is met een wachtwoord beveiligd; sla haar "
                    "zonder wachtwoord op"
                ).format(
                    path=path,
                )
            ) from None
        except python_calamine.CalamineError as exc:
            raise SourceFormatError(
                _("{path}: is geen leesbare Excel-werkmap ({name}); {export_hint}").format(
                    path=path,
                    name=type(exc).__name__,
                    export_hint=_export_hint(),
                )
            ) from None
        candidates = [
            (number, [_cell_header(cell) for cell in row], "")
            for number, row in enumerate(rows[:HEADER_SEARCH_LINES], start=1)
            if any(_cell_is_set(cell) for cell in row)
        ]
        if not candidates and not any(any(_cell_is_set(c) for c in row) for row in rows):
            raise SourceFormatError(
                _("{path}: het werkblad is leeg en bevat geen leerlingen; {export_hint}").format(
                    path=path,
                    export_hint=_export_hint(),
                )
            )
        header_line, _header = self._find_header(path, candidates)
        header = [_cell_header(cell) for cell in rows[header_line - 1]]
        wanted = [i for i, name in enumerate(header) if normalise_header(name) in self._targets]
        cells = pd.DataFrame(rows[header_line:], columns=range(len(header)), dtype=object)
        values = pd.DataFrame(
            {i: _cells_as_text(cells[i]) for i in wanted}, index=cells.index, columns=wanted
        )
        lines = np.arange(header_line + 1, header_line + 1 + len(cells), dtype=np.int64)
        keep = _any_value_frame(values)
        return _Table(
            header=header,
            header_line=header_line,
            values={i: _stripped(_arrow(values[i].loc[keep])) for i in wanted},
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
                _(
                    "{path}: geen kopregel gevonden in de eerste {header_search_lines} "
                    "regels; geen ervan heeft de kolommen {needed} (kolomindeling "
                    "{name}); {export_hint}"
                ).format(
                    path=path,
                    header_search_lines=HEADER_SEARCH_LINES,
                    needed=needed,
                    name=self.column_map_path.name,
                    export_hint=_export_hint(),
                )
            )
        _score, line, cells, _rest = best
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
        return (" " + _("of") + " ").join(self.column_map.display(name) for name in requirement)

    def _missing_error(
        self, path: Path, line: int, cells: list[str], missing: list[list[str]]
    ) -> SourceFormatError:
        colmap = self.column_map
        parts = []
        for requirement in missing:
            text = self._describe(requirement)
            school = [name for name in requirement if name in SCHOOL_FIELDS]
            if school:
                text += " " + _(
                    "(voeg een kolom {column} toe, of zet {field} onder defaults in de "
                    "kolomindeling, een kopie van {path})"
                ).format(
                    column=colmap.display(school[0]), field=school[0], path=self.column_map_path
                )
            parts.append(text)
        found = _shown([cell.strip() for cell in cells if cell.strip()])
        return SourceFormatError(
            _(
                "{path} regel {line}: ontbrekende kolom(men) {value2}; gevonden "
                "kolommen: {found}; {export_hint}, of pas de kolomindeling {name} "
                "aan"
            ).format(
                path=path,
                line=line,
                value="s" if len(parts) > 1 else "",
                value2=", ".join(parts),
                found=found,
                export_hint=_export_hint(),
                name=self.column_map_path.name,
            )
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
                    _(
                        "{path} regel {line}: de kolommen {headers} betekenen allemaal "
                        "{target}; houd er één van in de export"
                    ).format(
                        path=path,
                        line=line,
                        headers=_shown(headers),
                        target=target,
                    )
                )

    # -- assembly -----------------------------------------------------------------------

    def _export(self, path: Path, digest: str, table: _Table) -> SchoolExport:
        if not table.values or len(table.lines) == 0:
            raise SourceFormatError(
                _(
                    "{path}: bevat geen leerlingen (geen rijen onder de kopregel op "
                    "regel {header_line}); {export_hint}"
                ).format(
                    path=path,
                    header_line=table.header_line,
                    export_hint=_export_hint(),
                )
            )
        label = str(path)
        texts: dict[str, pa.Array] = {}
        ignored: list[str] = []
        for index, name in enumerate(table.header):
            target = self._targets.get(normalise_header(name))
            if target is not None:
                texts[target] = _normalised(target, table.values[index])
            elif name:
                ignored.append(name)
        by_target = _as_series(texts)
        count = len(table.lines)
        lines = pd.Series(table.lines, dtype="int64")

        school, from_map = self._school(path, by_target, lines, table.header_line)
        group_key = by_target.get("groepskey")
        group_name = by_target.get(GROUP_NAME)
        if group_key is not None and group_name is not None:
            by_target["groepskey"] = group_key.fillna(group_name)
        elif group_name is not None:
            by_target["groepskey"] = group_name

        missing = _constant(None, count)
        pupils = pd.DataFrame({name: by_target.get(name, missing) for name in PUPIL_COLUMNS})
        pupils[SOURCE_FILE] = _constant(label, count)
        pupils[SOURCE_LINE] = lines
        groups, group_notes = _groups(label, by_target, lines)

        notes = [
            _(
                "{name}: {count} leerlingen, {groups} groepen gelezen (CSV-export, kolomindeling "
                "{column_map}, schooljaar {schooljaar})"
            ).format(
                name=path.name,
                count=count,
                groups=len(groups),
                column_map=self.column_map.name,
                schooljaar=school["schooljaar"],
            ),
            *(_("{name}: {note}").format(name=path.name, note=note) for note in table.notes),
        ]
        if table.header_line > 1:
            notes.append(
                _("{name}: kopregel op regel {line}; de regels erboven zijn overgeslagen").format(
                    name=path.name, line=table.header_line
                )
            )
        if ignored:
            notes.append(
                _("{name}: genegeerde kolommen: {ignored}").format(
                    name=path.name,
                    ignored=_shown(ignored),
                )
            )
        if from_map:
            notes.append(
                _("{name}: {value} uit de kolomindeling {name2}, niet uit het bestand").format(
                    name=path.name,
                    value=", ".join(from_map),
                    name2=self.column_map.name,
                )
            )
        notes.extend(_("{name}: {note}").format(name=path.name, note=note) for note in group_notes)
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
                        _(
                            "{path} regels {value} en {value2}: de kolom {value3} bevat "
                            "verschillende waarden, terwijl een export maar één {name} bevat; "
                            "exporteer één school en één schooljaar per bestand"
                        ).format(
                            path=path,
                            value=int(lines[first_row]),
                            value2=int(lines[differs[0]]),
                            value3=colmap.display(name),
                            name=name,
                        )
                    )
                value, where = first, int(lines[first_row])
            elif column is not None and value is None and any(name in r for r in colmap.required):
                raise SourceFormatError(
                    _(
                        "{path}: de kolom {value} is leeg; vul haar, of zet {name} onder "
                        "defaults in de kolomindeling {column_map_path}"
                    ).format(
                        path=path,
                        value=colmap.display(name),
                        name=name,
                        column_map_path=self.column_map_path,
                    )
                )
            elif value is not None:
                from_map.append(name)
            if name == "schooljaar" and value is not None:
                year = _school_year(value)
                if year is None:
                    raise SourceFormatError(
                        _(
                            "{path} regel {where}: schooljaar {value} is geen schooljaar zoals "
                            "2026-2027 (tweede jaar = eerste jaar + 1); verbeter de kolom "
                            "{value2} of defaults.schooljaar in {column_map_path}"
                        ).format(
                            path=path,
                            where=where,
                            value=repr(value[:20]),
                            value2=colmap.display(name),
                            column_map_path=self.column_map_path,
                        )
                    )
                value = year
            if name == "brincode":
                value = canonical_brin(value)
            school[name] = value
        return school, from_map


# -- helpers: bytes and text ----------------------------------------------------------


def _refuse_binary(path: Path, data: bytes) -> None:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SourceFormatError(
            _(
                "{path}: is UTF-16-tekst (Excel 'Unicode-tekst'), geen CSV-bestand "
                "dat Sluis leest; sla het op als 'CSV UTF-8' of 'CSV "
                "(puntkomma-gescheiden)'"
            ).format(
                path=path,
            )
        )
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise SourceFormatError(
                _("{path}: is geen tekst-CSV-bestand, het lijkt op {what}; {export_hint}").format(
                    path=path,
                    what=_(what),
                    export_hint=_export_hint(),
                )
            )
    binary = np.flatnonzero(
        np.isin(np.frombuffer(data[:_SNIFF_BYTES], dtype=np.uint8), _BINARY_BYTES)
    )
    if len(binary):
        offset = int(binary[0])
        raise SourceFormatError(
            _(
                "{path}: is geen tekst-CSV-bestand (binaire gegevens bij byte "
                "{offset}); {export_hint}"
            ).format(
                path=path,
                offset=offset,
                export_hint=_export_hint(),
            )
        )


def _detect_encoding(path: Path, data: bytes) -> tuple[str, tuple[str, ...]]:
    # UTF-8 is tried strictly first: text that decodes as UTF-8 is almost never meant as
    # Windows-1252, while the reverse is common (Excel's plain "CSV" on Windows).
    if data.isascii() or _valid_utf8(data):
        return "utf-8", ()
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
            _(
                "{path} regel {line} (byte {start}): is geen tekst-CSV-bestand in "
                "UTF-8 of Windows-1252; sla de export op als 'CSV UTF-8' en "
                "probeer het opnieuw"
            ).format(
                path=path,
                line=line,
                start=exc.start,
            )
        ) from None
    return "windows-1252", (_("codering windows-1252 herkend (geen UTF-8); zo gelezen"),)


def _valid_utf8(data: bytes) -> bool:
    """Whether the bytes are valid UTF-8 (as `bytes.decode` strictly sees it), by Arrow.

    Arrow's check rejects what Python's decoder rejects (overlong forms, surrogates, code
    points past U+10FFFF, cut-off sequences) and is many times faster on a large file.
    """
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64).tobytes())
    text = pa.Array.from_buffers(_TEXT, 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


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


def _arrow_rows(
    body: bytes,
    shape: _Shape,
    separator: str,
    encoding: str,
    width: int,
    wanted: list[int],
    lines_with_data: npt.NDArray[np.bool_],
) -> dict[int, pa.Array] | None:
    """The wanted columns of every record below the header, parsed by Arrow.

    Only for CSV on which Arrow's reader and the byte scan cannot differ: every quote opens
    a value right after a separator or line break and closes it right before one (or is a
    doubled quote), no NUL bytes, and blank records are empty lines, which Arrow skips.
    Then record i + 1 of the scan (the header is record 0) is Arrow's row i, once the
    empty lines are left out. Anything else returns None, for `_pandas_rows`.
    """
    if b"\x00" in body:
        return None
    raw = np.frombuffer(body, dtype=np.uint8)
    quotes = _positions(body, raw, _QUOTE)
    if len(quotes):
        bounds = np.array([ord(separator), _LF, _CR, _QUOTE], dtype=np.uint8)
        opening, closing = quotes[0::2], quotes[1::2]
        before = raw[np.maximum(opening - 1, 0)]
        after = raw[np.minimum(closing + 1, raw.size - 1)]
        if (
            not (np.isin(before, bounds) | (opening == 0)).all()
            or not (np.isin(after, bounds) | (closing == raw.size - 1)).all()
        ):
            return None
    records = ~lines_with_data
    records[0] = False
    blank = np.flatnonzero(records)
    if len(blank):
        lengths = shape.ends[blank] - shape.starts[blank]
        empty = (lengths == 0) | (
            (lengths == 1) & (raw[np.minimum(shape.starts[blank], raw.size - 1)] == _CR)
        )
        if not empty.all():
            return None
    # Past the line break (the LF of a CR LF) ending the header.
    table = _arrow_parse(
        body,
        shape.header_end + 1,
        separator,
        encoding,
        width,
        wanted,
        multiline=shape.quoted_breaks,
        blank=True,
    )
    if table is None or table.num_rows != int(lines_with_data.sum()):
        return None
    # Arrow's rows are the records with data; blank records get an empty row back.
    where = np.flatnonzero(lines_with_data[1:])
    columns = {}
    for i in wanted:
        values = table.column(str(i)).combine_chunks().cast(_TEXT)
        if len(where) == len(shape.lines) - 1:
            columns[i] = values
        else:
            index = np.full(len(shape.lines) - 1, -1, dtype=np.int64)
            index[where] = np.arange(len(where))
            taken = values.take(pa.array(index, mask=index < 0))
            columns[i] = pc.fill_null(taken, "")
    return columns


def _arrow_parse(
    body: bytes,
    start: int,
    separator: str,
    encoding: str,
    width: int,
    wanted: list[int],
    *,
    multiline: bool,
    blank: bool,
) -> pa.Table | None:
    """The wanted columns (named by header index) of the CSV from byte `start` on, as text.

    Returns None where Arrow's reader fails (a line of another width, and with `blank`
    False also an empty line); the callers then fall back to the exact byte scan.
    """
    if encoding == "utf-8":
        rows = pa.py_buffer(body)[start:]
    else:
        rows = pa.py_buffer(body[start:].decode(encoding).encode("utf-8"))
    names = [str(i) for i in range(width)]
    try:
        return pacsv.read_csv(
            pa.BufferReader(rows),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(
                delimiter=separator,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=multiline,
                ignore_empty_lines=blank,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                include_columns=[names[i] for i in wanted],
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, ValueError):
        return None


def _rows(
    header: list[str],
    header_line: int,
    columns: dict[int, pa.Array],
    lines: npt.NDArray[np.int64],
    encoding: str,
    notes: tuple[str, ...],
) -> _Table:
    """The table of the records with data; `lines` holds the line of each."""
    stripped = {i: _stripped(column) for i, column in columns.items()}
    # A row of separators only, or with values only in ignored columns, is no pupil.
    keep = _any_value(stripped, len(lines))
    if not keep.all():
        mask = pa.array(keep)
        stripped = {i: column.filter(mask) for i, column in stripped.items()}
    return _Table(
        header=header,
        header_line=header_line,
        values=stripped,
        lines=lines[keep].astype(np.int64),
        encoding=encoding,
        notes=notes,
    )


def _pandas_rows(
    path: Path,
    body: bytes,
    shape: _Shape,
    separator: str,
    encoding: str,
    width: int,
    wanted: list[int],
) -> dict[int, pa.Array]:
    """The wanted columns of every record from the header on, parsed by pandas' C parser."""
    header_line = int(shape.lines[0])
    try:
        frame = pd.read_csv(
            io.StringIO(body.decode(encoding), newline=""),
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
    return {i: _arrow(frame[i].iloc[1:].astype("str")) for i in wanted}


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


def _first_line_breaks(data: bytes, count: int) -> npt.NDArray[np.intp]:
    """`_line_breaks` of the start of the data, at least the first `count` (if there are)."""
    size = _SNIFF_BYTES
    while size < len(data):
        # A CR as the last byte may be the CR of a CR LF: only earlier breaks are certain.
        found = _line_breaks(data[:size])
        found = found[found < size - 1]
        if len(found) >= count:
            return found
        size *= 4
    return _line_breaks(data)


def _line_breaks(data: bytes) -> npt.NDArray[np.intp]:
    """Positions of the byte ending each line: LF, or CR not followed by LF."""
    raw = np.frombuffer(data, dtype=np.uint8)
    is_lf = raw == _LF
    if b"\r" not in data:
        return np.flatnonzero(is_lf)
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
    starts: npt.NDArray[np.intp]  # byte offset in the body where each record starts
    ends: npt.NDArray[np.intp]  # and where it ends (at its line break)
    quoted_breaks: bool  # whether a value holds a line break


def _csv_shape(
    path: Path, body: bytes, breaks: npt.NDArray[np.intp], separator: str, first_line: int
) -> _Shape:
    """Split the CSV text into records without parsing values, all in whole-array steps.

    In CSV written by a standard tool, a line break or separator is inside a quoted value
    exactly when an odd number of double quotes precedes it (an escaped quote is two
    quotes). That gives each record's start line and field count. Only the positions of
    quotes, line breaks, separators and blanks are kept, never a number per byte.
    """
    raw = np.frombuffer(body, dtype=np.uint8)
    size = raw.size
    quotes = _positions(body, raw, _QUOTE)
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
    # A record is blank when every byte in it is white space; one with a separator outside
    # quotes is not, so only the records of one field are looked at.
    blank = np.zeros(len(starts), dtype=bool)
    single = np.flatnonzero(fields == 1)
    if len(single):
        inside = raw[_ranges(starts[single], ends[single])]
        not_blank = np.flatnonzero(~np.isin(inside, _BLANK_BYTES))
        bounds = np.cumsum(ends[single] - starts[single])
        counts = np.diff(np.searchsorted(not_blank, np.concatenate(([0], bounds))))
        blank[single] = counts == 0
    return _Shape(
        lines=lines.astype(np.int64),
        fields=fields.astype(np.int64),
        blank=blank,
        header_end=int(ends[0]),
        starts=starts,
        ends=ends,
        quoted_breaks=len(record_ends) != len(breaks),
    )


def _positions(data: bytes, raw: npt.NDArray[np.uint8], byte: int) -> npt.NDArray[np.intp]:
    if bytes((byte,)) not in data:
        return np.empty(0, dtype=np.intp)
    return np.flatnonzero(raw == byte)


def _ranges(starts: npt.NDArray[np.intp], ends: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """The concatenated positions start..end-1 of each range, without a Python loop."""
    lengths = ends - starts
    total = int(lengths.sum())
    if not total:
        return np.empty(0, dtype=np.intp)
    steps = np.ones(total, dtype=np.intp)
    firsts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    present = lengths > 0
    steps[firsts[present]] = starts[present] - np.concatenate(([0], (ends[present] - 1)[:-1]))
    steps[0] = starts[present][0]
    return np.cumsum(steps)


def _quote_error(path: Path, body: bytes, first_line: int) -> SourceFormatError:
    raw = np.frombuffer(body, dtype=np.uint8)
    breaks = _line_breaks(body)
    quotes = np.flatnonzero(raw == _QUOTE)
    # Quotes per line; the first line with an odd number is where a quote is left open.
    per_line = np.bincount(np.searchsorted(breaks, quotes), minlength=len(breaks) + 1)
    odd = np.flatnonzero(per_line % 2)
    where = " " + _("regel {line}").format(line=first_line + int(odd[0])) if len(odd) else ""
    return SourceFormatError(
        _(
            '{path}{where}: de dubbele aanhalingstekens (") vormen geen paren, '
            "dus de waarden zijn niet uit elkaar te houden; een waarde met een "
            "aanhalingsteken erin moet tussen aanhalingstekens staan met het "
            'teken verdubbeld (""). Verbeter de regel, of {export_hint}'
        ).format(
            path=path,
            where=where,
            export_hint=_export_hint(),
        )
    )


def _school_year(value: str) -> str | None:
    match = _SCHOOLJAAR.fullmatch(value.strip())
    if match is None or int(match.group(2)) != int(match.group(1)) + 1:
        return None
    return f"{match.group(1)}-{match.group(2)}"


def _shown(names: Sequence[str]) -> str:
    # Each name is cut like any quoted value, and the list as a whole too.
    text = ", ".join(shorten(name) for name in names)
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


def _any_value_frame(frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
    # Whether each row holds at least one value that is not white space.
    if frame.columns.empty:
        return np.zeros(len(frame), dtype=bool)
    return np.asarray(frame.apply(lambda column: column.str.strip() != "").any(axis=1), dtype=bool)


def _any_value(columns: dict[int, pa.Array], count: int) -> npt.NDArray[np.bool_]:
    # Whether each row holds at least one value (the columns are stripped, null if empty).
    found = np.zeros(count, dtype=bool)
    for column in columns.values():
        if column.null_count == 0:
            return np.ones(count, dtype=bool)
        found |= pc.is_valid(column).to_numpy(zero_copy_only=False)
    return found


def _stripped(column: pa.Array) -> pa.Array:
    values = pc.utf8_trim_whitespace(column)
    empty = pc.equal(pc.binary_length(values), 0)
    if not pc.any(empty).as_py():
        return values
    return pc.if_else(empty, pa.scalar(None, _TEXT), values)


def _normalised(name: str, values: pa.Array) -> pa.Array:
    if name in _DATE_COLUMNS:
        return _iso_dates(values)
    if name == "geslacht":
        codes = pa.array(list(_GENDER_CODES.values()), type=_TEXT)
        keys = pa.array(list(_GENDER_CODES), type=_TEXT)
        found = pc.index_in(pc.utf8_lower(values), value_set=keys)
        return pc.coalesce(pc.take(codes, found), values)
    if name == "jaargroep":
        return _jaargroepen(values)
    return values


def _arrow(values: pd.Series) -> pa.Array:
    return pa.array(values, type=_TEXT, from_pandas=True)


def _as_series(columns: dict[str, pa.Array]) -> dict[str, pd.Series]:
    if not columns:
        return {}
    table = pa.table({name: values.cast(_TEXT) for name, values in columns.items()})
    frame = table.to_pandas(types_mapper={_TEXT: pandas_dtype("str")}.get)
    return {name: frame[name] for name in columns}


def _constant(value: str | None, count: int) -> pd.Series:
    """A "str" column holding one value (None: missing) in every row."""
    scalar = pa.scalar(value, _TEXT)
    values = pa.nulls(count, _TEXT) if value is None else pa.repeat(scalar, count)
    return _as_series({"values": values})["values"]


def _iso_dates(text: pa.Array) -> pa.Array:
    """Dates as ISO yyyy-mm-dd; a value that is no real date stays as it was.

    Dates written as dd-mm-jjjj or jjjj-mm-dd, nearly all of them, are converted with numpy
    on their bytes; the other values go through `_any_iso_dates`.
    """
    missing = pc.is_null(text).to_numpy(zero_copy_only=False)
    converted = np.zeros(len(text), dtype=bool)
    result = text
    if len(text) and not missing.all():
        candidate, real = _fixed_dates(text, missing)
        converted[real] = True
        if len(real):
            result = pc.replace_with_mask(text, pa.array(converted), candidate)
    rest = ~converted & ~missing
    if not rest.any():
        return result
    mask = pa.array(rest)
    return pc.replace_with_mask(result, mask, _any_iso_dates(text.filter(mask)))


# Days per month in a leap year, by month number (0 is no month).
_MONTH_DAYS = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _fixed_dates(
    text: pa.Array, missing: npt.NDArray[np.bool_]
) -> tuple[pa.Array, npt.NDArray[np.intp]]:
    """ISO text of the real dates written as dd-mm-jjjj or jjjj-mm-dd, and their rows.

    Only years from 1000 count as real here; other years are left to `_any_iso_dates`.
    """
    count = len(text)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[
        text.offset : text.offset + count + 1
    ]
    rows = np.flatnonzero((np.diff(offsets) == 10) & ~missing)
    if not len(rows):
        return pa.array([], type=_TEXT), rows
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)
    first = int(offsets[rows[0]])
    if len(rows) == count and int(offsets[-1]) - first == 10 * count:
        cells = data[first : first + 10 * count].reshape(count, 10)  # every value ten bytes
    else:
        cells = data[offsets[rows][:, None] + np.arange(10)]
    digit = (cells >= ord("0")) & (cells <= ord("9"))
    dash = cells == ord("-")
    dutch = digit[:, [0, 1, 3, 4, 6, 7, 8, 9]].all(axis=1) & dash[:, 2] & dash[:, 5]
    iso_form = digit[:, [0, 1, 2, 3, 5, 6, 8, 9]].all(axis=1) & dash[:, 4] & dash[:, 7]
    if dutch.all():
        year_bytes, month_bytes, day_bytes = cells[:, 6:10], cells[:, 3:5], cells[:, 0:2]
    else:
        flip = dutch[:, None]
        year_bytes = np.where(flip, cells[:, 6:10], cells[:, 0:4])
        month_bytes = np.where(flip, cells[:, 3:5], cells[:, 5:7])
        day_bytes = np.where(flip, cells[:, 0:2], cells[:, 8:10])
    year = (year_bytes.astype(np.int32) - ord("0")) @ np.array([1000, 100, 10, 1], dtype=np.int32)
    month = (month_bytes.astype(np.int32) - ord("0")) @ np.array([10, 1], dtype=np.int32)
    day = (day_bytes.astype(np.int32) - ord("0")) @ np.array([10, 1], dtype=np.int32)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days = _MONTH_DAYS[np.clip(month, 0, 12)] - ((month == 2) & ~leap)
    real = (
        (dutch | iso_form)
        & (year >= 1000)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= days)
    )
    found = int(real.sum())
    iso = np.empty((found, 10), dtype=np.uint8)
    iso[:, 0:4], iso[:, 5:7], iso[:, 8:10] = year_bytes[real], month_bytes[real], day_bytes[real]
    iso[:, 4] = iso[:, 7] = ord("-")
    ends = np.arange(0, 10 * found + 1, 10, dtype=np.int64)
    candidate = pa.Array.from_buffers(
        _TEXT, found, [None, pa.py_buffer(ends), pa.py_buffer(iso.tobytes())]
    )
    return candidate, rows[real]


def _any_iso_dates(text: pa.Array) -> pa.Array:
    """`_iso_dates` for any value, by regular expressions in Arrow."""
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
    return pc.if_else(real, candidate, text)


def _jaargroepen(text: pa.Array) -> pa.Array:
    # A plain number without leading zeros (nearly every value) is already the jaargroep.
    plain = pc.fill_null(pc.match_substring_regex(text, pattern=r"^[1-9][0-9]*$"), True)
    rest = pc.invert(plain)
    if not pc.any(rest).as_py():
        return text
    return pc.replace_with_mask(text, rest, _any_jaargroepen(text.filter(rest)))


def _any_jaargroepen(text: pa.Array) -> pa.Array:
    number = pc.struct_field(pc.extract_regex(text, pattern=_JAARGROEP_NUMBER), "n")
    letter = pc.if_else(
        pc.match_substring_regex(text, pattern=r"^[A-Za-z]$"), pc.utf8_upper(text), None
    )
    return pc.coalesce(number, letter, text)


def _first_positions(codes: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Positions of the first occurrence of each code, in that order, by hashing."""
    firsts: npt.NDArray[np.intp] = pd.Series(codes).drop_duplicates().index.to_numpy(np.intp)
    return firsts


def _groups(
    label: str, by_target: dict[str, pd.Series], lines: pd.Series
) -> tuple[pd.DataFrame, list[str]]:
    """One stamgroep per distinct group key, in order of first appearance."""
    keys = by_target.get("groepskey")
    if keys is None:
        return empty_frame(GROUP_COLUMNS), []
    key_text = _arrow(keys)
    names = by_target.get(GROUP_NAME)
    jaargroep = by_target.get("jaargroep")
    name_text = key_text if names is None else pc.coalesce(_arrow(names), key_text)
    jaargroep_text = pa.nulls(len(keys), _TEXT) if jaargroep is None else _arrow(jaargroep)
    # Group codes in order of first appearance (pandas' factorize), then per group with
    # numpy: the first name and jaargroep (skipping missing ones, as pandas' first does),
    # how many distinct ones (as nunique) and the smallest line.
    codes = pd.factorize(pd.Series(key_text.to_pandas(types_mapper=pd.ArrowDtype)))[0]
    rows = np.flatnonzero(codes >= 0)
    codes = codes[rows]
    count = int(codes.max()) + 1 if len(codes) else 0
    first_row = rows[_first_positions(codes)]
    line_min = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(line_min, codes, lines.to_numpy(dtype=np.int64)[rows])

    def first_and_distinct(values: pa.Array) -> tuple[pa.Array, npt.NDArray[np.int64]]:
        present = pc.is_valid(values).to_numpy(zero_copy_only=False)[rows]
        value_codes = pd.factorize(
            pd.Series(values.take(pa.array(rows[present])).to_pandas(types_mapper=pd.ArrowDtype))
        )[0]
        present_codes = codes[present]
        first_index = _first_positions(present_codes)
        take = np.full(count, -1, dtype=np.int64)
        take[present_codes[first_index]] = rows[present][first_index]
        first = values.take(pa.array(take, mask=take < 0))
        pairs = pd.unique(present_codes.astype(np.int64) * (len(value_codes) + 1) + value_codes)
        distinct = np.bincount(pairs // (len(value_codes) + 1), minlength=count)
        return first, distinct

    name_first, name_count = first_and_distinct(name_text)
    jaargroep_first, jaargroep_count = first_and_distinct(jaargroep_text)
    summary = pa.table(
        {
            "groepskey": key_text.take(pa.array(first_row)),
            "groepsnaam_first": name_first,
            "groepsnaam_count_distinct": pa.array(name_count),
            "jaargroep_first": jaargroep_first,
            "jaargroep_count_distinct": pa.array(jaargroep_count),
            "line_min": pa.array(line_min),
        }
    )
    count = summary.num_rows
    # A group whose pupils are in different jaargroepen is a combinatiegroep (EDEXML C).
    combined = pc.greater(summary["jaargroep_count_distinct"], 1)
    groups = _as_series(
        {
            "groepskey": summary["groepskey"],
            "groepsnaam": summary["groepsnaam_first"],
            "jaargroep": pc.if_else(
                combined, pa.scalar("C", _TEXT), summary["jaargroep_first"].cast(_TEXT)
            ),
            "soort": pa.repeat(pa.scalar("groep", _TEXT), count),
            "omschrijving": pa.nulls(count, _TEXT),
            SOURCE_FILE: pa.repeat(pa.scalar(label, _TEXT), count),
        }
    )
    frame = pd.DataFrame(groups)
    frame[SOURCE_LINE] = pd.Series(summary["line_min"].to_numpy(), dtype="int64")
    notes = []
    renamed = summary["groepskey"].filter(pc.greater(summary["groepsnaam_count_distinct"], 1))
    if len(renamed):
        notes.append(
            _("groepscode {value}: meer dan één groepsnaam; de eerste wordt gebruikt").format(
                value=_shown([str(key) for key in renamed.to_pylist()]),
            )
        )
    return frame, notes
