"""Plain CSV output: UTF-8, header row, minimal quoting, formula injection neutralised.

The writer is vectorised per column instead of going through `DataFrame.to_csv`: the csv
module on Python 3.11 leaves a bare carriage return unquoted when lines end in a line
feed, which splits a row for every reader, and to_csv is an order of magnitude slower.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

import pandas as pd
import pyarrow as pa

from connectors.errors import ConfigurationError, InputError
from connectors.formats.base import DataFile, check_frame, check_options

__all__ = ["DEFAULT_SEPARATOR", "SEPARATORS", "CsvFormat"]

SEPARATORS = (";", ",", "\t", "|")
# Dutch spreadsheets use the comma as decimal mark, so suppliers here expect ";".
DEFAULT_SEPARATOR = ";"

_OPTIONS = ("separator",)
_NO_OPTIONS: Mapping[str, str] = MappingProxyType({})
_ISO_DATE = "%Y-%m-%d"
# OWASP "CSV injection": a spreadsheet evaluates a cell that starts with one of these as
# a formula (tab and carriage return because Excel strips them before looking).
_FORMULA_START = r"[=+\-@\t\r]"


class CsvFormat:
    """Renders a frame as one `<basename>.csv` file.

    Options:
        separator: one of ";" (default), ",", a tab or "|".

    Cells are quoted only when they hold the separator, a double quote or a line break;
    a quote inside a quoted cell is doubled. Missing values are empty cells. Dates are
    written yyyy-mm-dd. A text cell (and a header name) that starts with = + - @, a tab
    or a carriage return gets a leading single quote so a spreadsheet shows it as text.
    Numbers are not text cells: -5 in a numeric column stays -5.
    """

    def render(
        self,
        frame: pd.DataFrame,
        *,
        basename: str,
        options: Mapping[str, str] = _NO_OPTIONS,
    ) -> list[DataFile]:
        """Render `frame` as CSV.

        Args:
            frame: the delivered frame; its index is not written and it is not mutated.
            basename: file name without extension.
            options: format options, see the class docstring.

        Returns:
            One data file, `<basename>.csv`, with one row per frame row.

        Raises:
            ConfigurationError: an unknown option, a separator that is not allowed, a bad
                basename, or a frame without usable column names.
            InputError: a text value is not valid Unicode (a lone surrogate).
        """
        check_options(options, format_name="csv", known=_OPTIONS)
        separator = _separator(options)
        check_frame(frame, format_name="csv")

        try:
            content = _render_text(frame, separator).encode("utf-8")
        except UnicodeEncodeError:
            # from None: the codec error quotes the offending text.
            raise InputError(
                f"csv {basename!r}: a text value is not valid Unicode (a lone surrogate); "
                "nothing was delivered"
            ) from None
        return [DataFile(name=f"{basename}.csv", content=content, rows=len(frame))]


def _render_text(frame: pd.DataFrame, separator: str) -> str:
    header = pd.Series(list(frame.columns), dtype="str")
    header_cells = _quote(_neutralise(header), separator).tolist()
    columns = [_cells(frame.iloc[:, position], separator) for position in range(frame.shape[1])]
    if len(columns) == 1:
        # A lone empty cell would be a blank line, which readers skip as no row at all.
        columns[0] = columns[0].mask(columns[0] == "", '""')
    lines = columns[0]
    for column in columns[1:]:
        lines = lines + separator + column
    text = separator.join(header_cells) + "\n"
    if len(frame):
        text += lines.str.cat(sep="\n") + "\n"
    return text


def _separator(options: Mapping[str, str]) -> str:
    separator = options.get("separator", DEFAULT_SEPARATOR)
    if separator not in SEPARATORS:
        allowed = ", ".join(repr(value) for value in SEPARATORS)
        raise ConfigurationError(
            f"csv separator {separator!r} is not allowed; allowed separators: {allowed}"
        )
    return separator


def _cells(column: pd.Series, separator: str) -> pd.Series:
    """Turn one column into finished cell strings: text, neutralised, quoted, '' if missing."""
    text, is_text = _as_text(column.reset_index(drop=True))
    if is_text:
        text = _neutralise(text)
    return _quote(text, separator).fillna("")


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


def _neutralise(text: pd.Series) -> pd.Series:
    starts_formula = text.str.match(_FORMULA_START, na=False)
    return text.mask(starts_formula, "'" + text)


def _quote(text: pd.Series, separator: str) -> pd.Series:
    needs_quotes = text.str.contains(f'[{re.escape(separator)}"\r\n]', regex=True, na=False)
    quoted = '"' + text.str.replace('"', '""', regex=False) + '"'
    return text.mask(needs_quotes, quoted)
