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

This module wires the steps; each lives in its own module: `csv_column_map` (the YAML
map), `csv_sniff` (text or not, encoding, separator), `csv_parse` (records, their lines
and Arrow's parse), `csv_workbook` (Excel), `csv_values` (the raw table and the value
normalisers) and `csv_groups` (the stamgroepen).
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from connectors.errors import SourceFormatError
from connectors.i18n import _
from connectors.identifiers import canonical_brin
from connectors.sources.base import (
    PUPIL_COLUMNS,
    SCHOOL_FIELDS,
    SOURCE_FILE,
    SOURCE_LINE,
    TEACHER_COLUMNS,
    SchoolExport,
    empty_frame,
    require_file,
    sha256_of_file,
    unreadable,
)
from connectors.sources.csv_column_map import (
    GROUP_NAME,
    ColumnMap,
    load_column_map,
    normalise_header,
    school_year,
)
from connectors.sources.csv_groups import read_groups
from connectors.sources.csv_parse import (
    arrow_parse,
    arrow_rows,
    csv_header,
    csv_shape,
    first_line_breaks,
    line_breaks,
    pandas_rows,
)
from connectors.sources.csv_sniff import SNIFF_BYTES, detect_encoding, refuse_binary, split_line
from connectors.sources.csv_values import (
    HEADER_SEARCH_LINES,
    TEXT,
    Table,
    as_series,
    constant,
    export_hint,
    normalised,
    shown,
    text_table,
)
from connectors.sources.csv_workbook import read_workbook

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

_SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"})


# -- the source -----------------------------------------------------------------------


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
        require_file(path, _("de leerlingenexport"), _("controleer het bronpad"))
        try:
            if path.suffix.lower() in _SPREADSHEET_SUFFIXES:
                table = read_workbook(
                    path,
                    self.column_map.sheet,
                    self.column_map_path.name,
                    self._find_header,
                    self._targets,
                )
                digest = sha256_of_file(path)
            else:
                data = path.read_bytes()
                table = self._read_csv(path, data)
                digest = hashlib.sha256(data).hexdigest()  # as sha256_of_file, without a re-read
        except OSError as exc:
            raise unreadable(path, exc, _("de leerlingenexport")) from None
        return self._export(path, digest, table)

    # -- CSV ----------------------------------------------------------------------------

    def _read_csv(self, path: Path, data: bytes) -> Table:
        refuse_binary(path, data)
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        if not (data[:SNIFF_BYTES].strip() or data.strip()):
            raise SourceFormatError(
                _("{path}: het bestand is leeg en bevat geen leerlingen; {export_hint}").format(
                    path=path,
                    export_hint=export_hint(),
                )
            )
        encoding, notes = detect_encoding(path, data)

        # Lines as the eye sees them, quotes or not: title lines above the header may hold
        # anything, so the CSV structure is only looked at from the header on.
        breaks = first_line_breaks(data, HEADER_SEARCH_LINES)
        starts = np.concatenate(([0], breaks + 1))
        candidates: list[tuple[int, list[str], str]] = []
        for index in range(min(HEADER_SEARCH_LINES, len(starts))):
            end = int(breaks[index]) if index < len(breaks) else len(data)
            text = data[int(starts[index]) : end].decode(encoding).rstrip("\r")
            if text.strip():
                candidates.extend((index + 1, cells, sep) for sep, cells in split_line(text))
        header_line, separator = self._find_header(path, candidates)

        offset = int(starts[header_line - 1])
        body = data[offset:] if offset else data
        if b'"' not in body and b"\x00" not in body:
            # Without quotes a record is a line: if Arrow finds every line below the header
            # as wide as the header (so no blank line either), row i is on line header + 1 + i.
            end = int(breaks[header_line - 1]) - offset if header_line <= len(breaks) else len(body)
            header_text = body[:end].decode(encoding)
            width = header_text.count(separator) + 1
            header = csv_header(path, body, header_text, separator, width, header_line)
            wanted = [i for i, name in enumerate(header) if normalise_header(name) in self._targets]
            table = (
                arrow_parse(
                    body, end + 1, separator, encoding, width, wanted, multiline=False, blank=False
                )
                if width > 1  # with one column, a blank line is a row of one empty value
                else None
            )
            if table is not None:
                count = table.num_rows
                columns = {i: table.column(str(i)).combine_chunks().cast(TEXT) for i in wanted}
                lines = np.arange(header_line + 1, header_line + 1 + count, dtype=np.int64)
                return text_table(header, header_line, columns, lines, encoding, notes)

        shape = csv_shape(path, body, line_breaks(body), separator, header_line)
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
                    export_hint=export_hint(),
                )
            )

        header_text = body[: shape.header_end].decode(encoding)
        header = csv_header(path, body, header_text, separator, width, header_line)
        wanted = [i for i, name in enumerate(header) if normalise_header(name) in self._targets]
        parsed = arrow_rows(body, shape, separator, encoding, width, wanted, lines_with_data)
        columns = (
            parsed
            if parsed is not None
            else pandas_rows(path, body, shape, separator, encoding, width, wanted)
        )
        lines_below = shape.lines[1:][lines_with_data[1:]]
        if not lines_with_data[1:].all():
            mask = pa.array(lines_with_data[1:])
            columns = {i: column.filter(mask) for i, column in columns.items()}
        return text_table(header, header_line, columns, lines_below, encoding, notes)

    # -- Excel --------------------------------------------------------------------------

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
                    export_hint=export_hint(),
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
        found = shown([cell.strip() for cell in cells if cell.strip()])
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
                export_hint=export_hint(),
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
                        headers=shown(headers),
                        target=target,
                    )
                )

    # -- assembly -----------------------------------------------------------------------

    def _export(self, path: Path, digest: str, table: Table) -> SchoolExport:
        if not table.values or len(table.lines) == 0:
            raise SourceFormatError(
                _(
                    "{path}: bevat geen leerlingen (geen rijen onder de kopregel op "
                    "regel {header_line}); {export_hint}"
                ).format(
                    path=path,
                    header_line=table.header_line,
                    export_hint=export_hint(),
                )
            )
        label = str(path)
        texts: dict[str, pa.Array] = {}
        ignored: list[str] = []
        for index, name in enumerate(table.header):
            target = self._targets.get(normalise_header(name))
            if target is not None:
                texts[target] = normalised(target, table.values[index])
            elif name:
                ignored.append(name)
        by_target = as_series(texts)
        count = len(table.lines)
        lines = pd.Series(table.lines, dtype="int64")

        school, from_map = self._school(path, by_target, lines, table.header_line)
        group_key = by_target.get("groepskey")
        group_name = by_target.get(GROUP_NAME)
        if group_key is not None and group_name is not None:
            by_target["groepskey"] = group_key.fillna(group_name)
        elif group_name is not None:
            by_target["groepskey"] = group_name

        missing = constant(None, count)
        pupils = pd.DataFrame({name: by_target.get(name, missing) for name in PUPIL_COLUMNS})
        pupils[SOURCE_FILE] = constant(label, count)
        pupils[SOURCE_LINE] = lines
        groups, group_notes = read_groups(label, by_target, lines)

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
                    ignored=shown(ignored),
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
                year = school_year(value)
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
