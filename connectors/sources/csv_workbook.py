"""Excel overzichten: the first (or named) sheet as a raw text table, read by calamine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Container, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import python_calamine

from connectors.errors import SourceFormatError
from connectors.i18n import _
from connectors.sources.csv_column_map import normalise_header
from connectors.sources.csv_values import (
    HEADER_SEARCH_LINES,
    Table,
    export_hint,
    shown,
    strip_values,
    to_arrow,
)

# Finds the header among (line, cells, separator) candidates: (line, separator), or raises.
HeaderFinder = Callable[[Path, Sequence[tuple[int, list[str], str]]], tuple[int, str]]


def read_workbook(
    path: Path,
    sheet_name: str | None,
    map_name: str,
    find_header: HeaderFinder,
    targets: Container[str],
) -> Table:
    """Read the pupils' sheet of a workbook as a raw text table, with spreadsheet row numbers.

    Args:
        path: the workbook.
        sheet_name: the sheet the column map names; None for the first.
        map_name: the column map's file name, for messages.
        find_header: picks the header row among the first rows, as for CSV.
        targets: the normalised headers the column map reads.

    Returns:
        The rows below the header with a value in a mapped column.

    Raises:
        SourceFormatError: the workbook is empty, locked, unreadable, lacks the sheet or the
            header.
    """
    if path.stat().st_size == 0:
        raise SourceFormatError(
            _("{path}: het bestand is leeg en bevat geen leerlingen; {export_hint}").format(
                path=path,
                export_hint=export_hint(),
            )
        )
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        if sheet_name is None:
            if not workbook.sheet_names:
                raise SourceFormatError(
                    _("{path}: de werkmap heeft geen werkbladen; {export_hint}").format(
                        path=path,
                        export_hint=export_hint(),
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
                    sheet_names=shown(workbook.sheet_names),
                    name=map_name,
                )
            )
        # Not skipping the empty area keeps row i of the list at spreadsheet row i + 1.
        rows = sheet.to_python(skip_empty_area=False)
    except python_calamine.PasswordError:
        raise SourceFormatError(
            _(
                "{path}: de werkmap is met een wachtwoord beveiligd; sla haar zonder wachtwoord op"
            ).format(
                path=path,
            )
        ) from None
    except python_calamine.CalamineError as exc:
        raise SourceFormatError(
            _("{path}: is geen leesbare Excel-werkmap ({name}); {export_hint}").format(
                path=path,
                name=type(exc).__name__,
                export_hint=export_hint(),
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
                export_hint=export_hint(),
            )
        )
    header_line, _header = find_header(path, candidates)
    header = [_cell_header(cell) for cell in rows[header_line - 1]]
    wanted = [i for i, name in enumerate(header) if normalise_header(name) in targets]
    cells = pd.DataFrame(rows[header_line:], columns=range(len(header)), dtype=object)
    values = pd.DataFrame(
        {i: _cells_as_text(cells[i]) for i in wanted}, index=cells.index, columns=wanted
    )
    lines = np.arange(header_line + 1, header_line + 1 + len(cells), dtype=np.int64)
    keep = any_value_frame(values)
    return Table(
        header=header,
        header_line=header_line,
        values={i: strip_values(to_arrow(values[i].loc[keep])) for i in wanted},
        lines=lines[keep],
        encoding="utf-8",
        notes=(),
    )


# -- cells ----------------------------------------------------------------------------


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


def any_value_frame(frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Return whether each row holds at least one value that is not white space."""
    if frame.columns.empty:
        return np.zeros(len(frame), dtype=bool)
    return np.asarray(frame.apply(lambda column: column.str.strip() != "").any(axis=1), dtype=bool)
