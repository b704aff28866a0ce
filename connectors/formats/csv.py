"""Plain CSV output: UTF-8, header row, minimal quoting, formula injection neutralised.

The writer is vectorised per column instead of going through `DataFrame.to_csv`: the csv
module on Python 3.11 leaves a bare carriage return unquoted when lines end in a line
feed, which splits a row for every reader, and to_csv is an order of magnitude slower.

Cells are finished with pyarrow.compute on all columns at once: every column becomes an
Arrow string array (pandas' default "str" dtype already is one, other dtypes are turned
into text by pandas first), the arrays are laid end to end, and each step (missing to
empty, neutralise, quote) is one C call over all cells. Per-column pandas `.str` calls
cost about a millisecond of fixed overhead each, which dominated the render time of the
small per-school frames a nightly run writes by the thousand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.errors import ConfigurationError
from connectors.formats.base import DataFile, Format, FormatSpec, RenderRequest, check_frame
from connectors.i18n import _

__all__ = ["DEFAULT_SEPARATOR", "SEPARATORS", "CsvFormat", "join_cells"]

SEPARATORS = (";", ",", "\t", "|")
# Dutch spreadsheets use the comma as decimal mark, so suppliers here expect ";".
DEFAULT_SEPARATOR = ";"

_OPTIONS = ("separator",)
_ISO_DATE = "%Y-%m-%d"
# OWASP "CSV injection": a spreadsheet evaluates a cell that starts with one of these as
# a formula (tab and carriage return because Excel strips them before looking).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# RE2 (pyarrow.compute) patterns; without the m flag, ^ is the start of the whole cell.
_FORMULA_PATTERN = "^([" + "".join(f"\\x{{{ord(char):02x}}}" for char in _FORMULA_START) + "])"


class CsvFormat(Format):
    """Renders a frame as one `<basename>.csv` file.

    Options:
        separator: one of ";" (default), ",", a tab or "|".

    Cells are quoted only when they hold the separator, a double quote or a line break;
    a quote inside a quoted cell is doubled. Missing values are empty cells. Dates are
    written yyyy-mm-dd. A text cell (and a header name) that starts with = + - @, a tab
    or a carriage return gets a leading single quote so a spreadsheet shows it as text.
    Numbers are not text cells: -5 in a numeric column stays -5.
    """

    # A delta carries a `change` column (added, changed, removed) beside the fields; a
    # missing value is an empty cell, so nothing has to be made up (no needs).
    spec = FormatSpec(name="csv", flat=True, expresses_deletions=True, options=_OPTIONS)

    def write(self, frame: pd.DataFrame, request: RenderRequest) -> list[DataFile]:
        """Render `frame` as CSV.

        Args:
            frame: the delivered frame; its index is not written and it is not mutated.
            request: the basename (file name without extension) and the format options
                (see the class docstring); its context is not used: a flat file has no
                header, groups or teachers.

        Returns:
            One data file, `<basename>.csv`, with one row per frame row.

        Raises:
            ConfigurationError: an unknown option, a separator that is not allowed, a bad
                basename, or a frame without usable column names.
            InputError: a text value is not valid Unicode (a lone surrogate).
        """
        basename, options = request.basename, request.options
        separator = _separator(options)
        check_frame(frame, format_name="csv")

        try:
            content = _render_bytes(frame, separator)
        except UnicodeEncodeError:
            raise self.not_unicode(basename) from None
        return [DataFile(name=f"{basename}.csv", content=content, rows=len(frame))]


def _render_bytes(frame: pd.DataFrame, separator: str) -> bytes:
    header = separator.join(_header_cell(name, separator) for name in frame.columns) + "\n"
    rows = len(frame)
    if not rows:
        return header.encode("utf-8")
    arrays, text_flags = zip(*(_as_arrow_text(column) for _, column in frame.items()), strict=True)
    return header.encode("utf-8") + join_cells(arrays, text_flags, separator=separator, eol="\n")


def join_cells(
    arrays: Sequence[pa.Array], text_flags: Sequence[bool], *, separator: str, eol: str
) -> bytes:
    """CSV lines from columns of large_string cells (missing null), each line ended by eol.

    Missing cells become empty, text cells (`text_flags`, per column) that start like a
    formula get a leading ', and cells holding the separator, a quote or a line break are
    quoted. The OneRoster writer writes its files with this too.
    """
    rows = len(arrays[0])
    if not rows:
        return b""
    # Every column end to end: one C call per step for the whole file.
    cells = pc.fill_null(pa.concat_arrays(arrays), _large(""))
    cells = _neutralise(cells, tuple(text_flags), rows)
    cells = _quote(cells, separator)
    columns = [cells.slice(position * rows, rows) for position in range(len(arrays))]
    if len(columns) == 1:
        # A lone empty cell would be a blank line, which readers skip as no row at all.
        columns[0] = pc.if_else(pc.equal(columns[0], _large("")), _large('""'), columns[0])
    lines = pc.binary_join_element_wise(*columns, _large(separator))
    # The lines as the one list of a list array, so that one kernel joins them all.
    as_one_list = pa.LargeListArray.from_arrays(pa.array([0, rows], pa.int64()), lines)
    body: bytes = pc.binary_join(as_one_list, _large(eol)).cast(pa.large_binary())[0].as_py()
    return body + eol.encode("utf-8")


def _large(text: str) -> pa.Scalar:
    """A large_string scalar: the string kernels want every argument of the cells' type."""
    return pa.scalar(text, type=pa.large_string())


def _header_cell(name: str, separator: str) -> str:
    """One header name as a finished cell: neutralised like a text cell, quoted if needed."""
    if name.startswith(_FORMULA_START):
        name = "'" + name
    if any(char in name for char in (separator, '"', "\r", "\n")):
        name = '"' + name.replace('"', '""') + '"'
    return name


def _separator(options: Mapping[str, str]) -> str:
    separator = options.get("separator", DEFAULT_SEPARATOR)
    if separator not in SEPARATORS:
        allowed = ", ".join(repr(value) for value in SEPARATORS)
        raise ConfigurationError(
            _(
                "csv-scheidingsteken {separator} is niet toegestaan; toegestane "
                "scheidingstekens: {allowed}"
            ).format(
                separator=repr(separator),
                allowed=allowed,
            )
        )
    return separator


def _neutralise(cells: pa.Array, text_flags: tuple[bool, ...], rows: int) -> pa.Array:
    """Prefix ' to the text cells that start like a formula; other columns stay as they are.

    `cells` holds the columns end to end, `rows` cells each; `text_flags` says per column
    whether it holds text.
    """
    if not any(text_flags):
        return cells
    neutralised = pc.replace_substring_regex(cells, pattern=_FORMULA_PATTERN, replacement="'\\1")
    if all(text_flags):
        return neutralised
    is_text = pa.concat_arrays([pa.repeat(flag, rows) for flag in text_flags])
    return pc.if_else(is_text, neutralised, cells)


def _quote(cells: pa.Array, separator: str) -> pa.Array:
    """Quote the cells that hold the separator, a quote or a line break; double their quotes."""
    special = "".join(f"\\x{{{ord(char):02x}}}" for char in (separator, '"', "\r", "\n"))
    needs_quotes = pc.match_substring_regex(cells, pattern=f"[{special}]")
    if not pc.any(needs_quotes).as_py():
        return cells
    doubled = pc.replace_substring(cells, pattern='"', replacement='""')
    quoted = pc.binary_join_element_wise(_large('"'), doubled, _large('"'), _large(""))
    return pc.if_else(needs_quotes, quoted, cells)


def _as_arrow_text(column: pd.Series) -> tuple[pa.Array, bool]:
    """Return the column as an Arrow large_string array and whether it holds text."""
    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        # Already Arrow strings underneath: nothing is converted value by value.
        array, is_text = pa.array(column.array), True
    else:
        text, is_text = _as_text(column)
        array = pa.array(text.array, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    return array, is_text


def _as_text(column: pd.Series) -> tuple[pd.Series, bool]:
    """Return the column as strings (missing stays missing) and whether it holds text."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _as_text(column.astype(dtype.categories.dtype))
    if isinstance(dtype, pd.ArrowDtype):
        arrow_type = dtype.pyarrow_dtype
        if pa.types.is_date(arrow_type) or pa.types.is_timestamp(arrow_type):
            return column.dt.strftime(_ISO_DATE).astype("str"), False
        is_text = (
            pa.types.is_string(arrow_type)
            or pa.types.is_large_string(arrow_type)
            or pa.types.is_string_view(arrow_type)
        )
        return column.astype("str"), is_text
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return column.dt.strftime(_ISO_DATE).astype("str"), False
    if pd.api.types.is_object_dtype(dtype):
        if pd.api.types.infer_dtype(column, skipna=True) in ("datetime", "datetime64"):
            return pd.to_datetime(column).dt.strftime(_ISO_DATE).astype("str"), False
        # str() of a datetime.date is already yyyy-mm-dd.
        return column.astype("str"), True
    if isinstance(dtype, pd.StringDtype):
        return column.astype("str"), True
    return column.astype("str"), False
