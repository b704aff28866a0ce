"""Read a school's consent export (privacy-voorkeuren CSV) into a raw string frame.

The file is read faithfully: one row per CSV record, values stripped and, for
`categorie` and `waarde`, lower-cased. Which record wins (latest `gewijzigd_op`) and which
school year counts are policy decisions and happen in policy/, not here.

Error messages name the file, the line or byte offset and a fix, never a value.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv

from connectors.errors import SourceFormatError
from connectors.i18n import _
from connectors.sources.base import SOURCE_FILE, SOURCE_LINE, require_file, unreadable

__all__ = ["CONSENT_COLUMNS", "read_consents"]

CONSENT_COLUMNS = ("leerlingkey", "schooljaar", "categorie", "waarde", "gewijzigd_op")

# Parro/ParnasSys users type these freely ("Ja", " NEE "); case carries no meaning.
_LOWER_CASED = frozenset({"categorie", "waarde"})
_SEPARATORS = (";", ",")
_MAX_HEADER_SHOWN = 120
# What str.strip() strips from an ASCII value (the csv path strips every field with it).
_ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


def _export_hint() -> str:
    return _("exporteer de privacyvoorkeuren opnieuw als CSV met kopregel {header}").format(
        header=";".join(CONSENT_COLUMNS)
    )


def read_consents(path: Path) -> pd.DataFrame:
    """Read a consent export CSV into raw string columns with provenance.

    The separator (`;` or `,`) is taken from the header line; a UTF-8 byte order mark is
    allowed. Header names are matched case-insensitively after stripping; other columns
    are ignored and never read into the frame.

    Args:
        path: the consent export, usually `toestemmingen.csv` beside the school export.

    Returns:
        A frame with columns CONSENT_COLUMNS (dtype "str", missing as NA), source_file
        ("str") and source_line ("int64", the header is line 1). Only a header gives an
        empty frame: nobody consented.

    Raises:
        ConfigurationError: the path does not name a readable file.
        SourceFormatError: the file is empty, not UTF-8, not valid CSV or lacks a
            required header.
    """
    path = Path(path)
    require_file(path, _("de toestemmingenexport"), _("controleer het pad"))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise unreadable(path, exc, _("de toestemmingenexport")) from None

    text = _decode(path, data)
    if not text.strip():
        raise SourceFormatError(
            _("{path}: de toestemmingenexport is leeg (geen kopregel); {export_hint}").format(
                path=path,
                export_hint=_export_hint(),
            )
        )

    # Only \r and \n end a CSV line; str.splitlines would also split on \x0b, \x1c, ...
    header_line = io.StringIO(text, newline="").readline().rstrip("\r\n")
    separator = _sniff_separator(header_line)
    fast = _read_plain(path, text, header_line, separator)
    if fast is not None:
        return fast
    # strict: an unclosed quote would otherwise swallow the rest of the file silently.
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=separator, skipinitialspace=True, strict=True
    )
    columns: dict[str, list[str | None]] = {name: [] for name in CONSENT_COLUMNS}
    lines: list[int] = []
    last_line = 0
    try:
        header = next(reader)
        positions = _header_positions(path, header)
        last_line = reader.line_num
        for record in reader:
            # A quoted field may span lines: a record starts right after the previous one.
            line = last_line + 1
            last_line = reader.line_num
            if not any(field.strip() for field in record):
                continue
            for name, index in positions.items():
                value = record[index].strip() if index < len(record) else ""
                if value and name in _LOWER_CASED:
                    value = value.lower()
                columns[name].append(value or None)
            lines.append(line)
    except csv.Error as exc:
        raise SourceFormatError(
            _(
                "{path} regel {value}: geen geldige CSV ({exc}; staat er een "
                "aanhalingsteken open?); {export_hint}"
            ).format(
                path=path,
                value=last_line + 1,
                exc=exc,
                export_hint=_export_hint(),
            )
        ) from None

    return _frame(path, columns, lines)


def _frame(
    path: Path,
    columns: Mapping[str, Sequence[str | None] | pa.ChunkedArray],
    lines: Sequence[int],
) -> pd.DataFrame:
    # A pyarrow column becomes the "str" Series without a Python object per value.
    frame = pd.DataFrame({name: pd.Series(columns[name], dtype="str") for name in CONSENT_COLUMNS})
    frame[SOURCE_FILE] = pd.Series([str(path)] * len(lines), dtype="str")
    frame[SOURCE_LINE] = pd.Series(lines, dtype="int64")
    return frame


def _read_plain(path: Path, text: str, header_line: str, separator: str) -> pd.DataFrame | None:
    """The common export, read by pyarrow; None where only the csv module reads it exactly.

    Plain means: ASCII, no quote, no NUL, no carriage return outside CRLF, and every
    record as wide as the header. Then a record is one physical line, so line numbers
    follow from where the line ends are, and the csv path's stripping, lower-casing and
    blank-record rule are pyarrow kernels. Anything else (a quoted field, a short row, a
    name with an accent in another column) goes the csv module's way, with its errors.
    """
    if not text.isascii() or '"' in text or "\x00" in text or not header_line.strip():
        return None
    if text.count("\r") != text.count("\r\n"):
        return None
    header = header_line.split(separator)
    positions = _header_positions(path, [name.lstrip(" ") for name in header])
    first_end = len(header_line) + (2 if text.startswith("\r\n", len(header_line)) else 1)
    body = text[first_end:].encode("ascii")
    # Physical lines of the body (a last line without its line end counts too), and
    # which of them pyarrow reads as a row: the non-empty ones.
    data = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(data == ord("\n"))
    if len(data) and (not len(ends) or ends[-1] != len(data) - 1):
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1)) if len(ends) else np.zeros(0, dtype=np.int64)
    lengths = ends - starts
    crlf = (
        (lengths > 0) & (data[np.maximum(ends - 1, 0)] == ord("\r")) if len(ends) else lengths > 0
    )
    filled = (lengths - crlf.astype(np.int64)) > 0
    row_lines = np.flatnonzero(filled) + 2  # the header is line 1
    names = [f"c{i}" for i in range(len(header))]
    if not len(row_lines):
        return _frame(path, {name: [] for name in CONSENT_COLUMNS}, [])
    invalid: list[int] = []

    def refuse(_row: object) -> str:
        invalid.append(1)
        return "skip"

    table = pa_csv.read_csv(
        pa.py_buffer(body),
        read_options=pa_csv.ReadOptions(column_names=names, use_threads=False),
        parse_options=pa_csv.ParseOptions(
            delimiter=separator, quote_char=False, invalid_row_handler=refuse
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
        ),
    )
    if invalid or table.num_rows != len(row_lines):
        return None
    cells = [pc.utf8_trim(table.column(name), characters=_ASCII_SPACE) for name in names]
    # The csv path skips a record whose every field is blank, read or not.
    kept = np.zeros(len(row_lines), dtype=bool)
    for cell in cells:
        kept |= pc.not_equal(cell, "").to_numpy(zero_copy_only=False)
    columns: dict[str, pa.ChunkedArray] = {}
    for name, index in positions.items():
        values = cells[index]
        if name in _LOWER_CASED:
            values = pc.ascii_lower(values)
        values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
        columns[name] = values.filter(pa.array(kept))
    return _frame(path, columns, row_lines[kept].tolist())


def _decode(path: Path, data: bytes) -> str:
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = bom + exc.start
        line = data.count(b"\n", 0, offset) + 1
        raise SourceFormatError(
            _(
                "{path} byte {offset} (regel {line}): de toestemmingenexport is "
                "geen UTF-8; sla de export op als UTF-8 (in Excel: CSV UTF-8) en "
                "probeer het opnieuw"
            ).format(
                path=path,
                offset=offset,
                line=line,
            )
        ) from None


def _sniff_separator(header_line: str) -> str:
    # Excel-NL writes ';', other tools ','. The header decides: the separator that
    # yields more of the required names wins; on a tie, the one that occurs at all.
    def score(separator: str) -> int:
        names = {_normalise(name) for name in next(csv.reader([header_line], delimiter=separator))}
        return len(names.intersection(CONSENT_COLUMNS))

    best = max(_SEPARATORS, key=lambda separator: (score(separator), separator in header_line))
    return best


def _header_positions(path: Path, header: list[str]) -> dict[str, int]:
    found = [_normalise(name) for name in header]
    positions: dict[str, int] = {}
    for index, name in enumerate(found):
        if name in CONSENT_COLUMNS:
            if name in positions:
                raise SourceFormatError(
                    _("{path} regel 1: kop {name} staat er twee keer in; {export_hint}").format(
                        path=path,
                        name=repr(name),
                        export_hint=_export_hint(),
                    )
                )
            positions[name] = index
    missing = [name for name in CONSENT_COLUMNS if name not in positions]
    if missing:
        if positions:
            shown = ", ".join(repr(name) for name in found if name)
            if len(shown) > _MAX_HEADER_SHOWN:
                shown = shown[: _MAX_HEADER_SHOWN - 1] + "…"
            found_text = f"found: {shown}"
        else:
            # Without a single known name, line 1 is probably a data row: not echoed.
            found_text = f"found {len(found)} columns, none of them known; is the header missing?"
        raise SourceFormatError(
            _("{path} regel 1: kop {value} ontbreekt ({found_text}); {export_hint}").format(
                path=path,
                value=", ".join(missing),
                found_text=found_text,
                export_hint=_export_hint(),
            )
        )
    return positions


def _normalise(name: str) -> str:
    return name.strip().lower()
