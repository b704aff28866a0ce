"""CSV records below the header: their lines and field counts, and their values by Arrow."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from connectors.errors import SourceFormatError
from connectors.i18n import _
from connectors.sources.csv_sniff import SNIFF_BYTES
from connectors.sources.csv_values import TEXT, export_hint, to_arrow

_QUOTE = ord('"')
_LF = ord("\n")
_CR = ord("\r")
_BLANK_BYTES = np.array([ord(" "), ord("\t"), _CR, _LF], dtype=np.uint8)


def csv_header(
    path: Path, body: bytes, text: str, separator: str, width: int, header_line: int
) -> list[str]:
    """Return the header's names, tokenised like the rows below it (it may hold quotes)."""
    try:
        header = next(
            csv.reader(io.StringIO(text, newline=""), delimiter=separator, skipinitialspace=True)
        )
    except (csv.Error, StopIteration):
        header = []
    if len(header) != width:
        raise quote_error(path, body, header_line)
    return [name.strip() for name in header]


def arrow_rows(
    body: bytes,
    shape: Shape,
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
    empty lines are left out. Anything else returns None, for `pandas_rows`.
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
    table = arrow_parse(
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
        values = table.column(str(i)).combine_chunks().cast(TEXT)
        if len(where) == len(shape.lines) - 1:
            columns[i] = values
        else:
            index = np.full(len(shape.lines) - 1, -1, dtype=np.int64)
            index[where] = np.arange(len(where))
            taken = values.take(pa.array(index, mask=index < 0))
            columns[i] = pc.fill_null(taken, "")
    return columns


def arrow_parse(
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


def pandas_rows(
    path: Path,
    body: bytes,
    shape: Shape,
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
        raise quote_error(path, body, header_line) from None
    if len(frame) != len(shape.lines):
        # pandas and the byte scan split records differently: only a stray quote does that.
        raise quote_error(path, body, header_line)
    return {i: to_arrow(frame[i].iloc[1:].astype("str")) for i in wanted}


def first_line_breaks(data: bytes, count: int) -> npt.NDArray[np.intp]:
    """`line_breaks` of the start of the data, at least the first `count` (if there are)."""
    size = SNIFF_BYTES
    while size < len(data):
        # A CR as the last byte may be the CR of a CR LF: only earlier breaks are certain.
        found = line_breaks(data[:size])
        found = found[found < size - 1]
        if len(found) >= count:
            return found
        size *= 4
    return line_breaks(data)


def line_breaks(data: bytes) -> npt.NDArray[np.intp]:
    """Positions of the byte ending each line: LF, or CR not followed by LF."""
    raw = np.frombuffer(data, dtype=np.uint8)
    is_lf = raw == _LF
    if b"\r" not in data:
        return np.flatnonzero(is_lf)
    lone_cr = raw == _CR
    lone_cr[:-1] &= ~is_lf[1:]
    return np.flatnonzero(is_lf | lone_cr)


@dataclass(frozen=True)
class Shape:
    """Per CSV record from the header on: its first line, field count and blankness."""

    lines: npt.NDArray[np.int64]
    fields: npt.NDArray[np.int64]
    blank: npt.NDArray[np.bool_]
    header_end: int  # byte offset in the body where the header record ends
    starts: npt.NDArray[np.intp]  # byte offset in the body where each record starts
    ends: npt.NDArray[np.intp]  # and where it ends (at its line break)
    quoted_breaks: bool  # whether a value holds a line break


def csv_shape(
    path: Path, body: bytes, breaks: npt.NDArray[np.intp], separator: str, first_line: int
) -> Shape:
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
        raise quote_error(path, body, first_line)

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
    return Shape(
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


def quote_error(path: Path, body: bytes, first_line: int) -> SourceFormatError:
    """Return the error for quotes that do not pair up, naming the first line with an odd count."""
    raw = np.frombuffer(body, dtype=np.uint8)
    breaks = line_breaks(body)
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
            export_hint=export_hint(),
        )
    )
