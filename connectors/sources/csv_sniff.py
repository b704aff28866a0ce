"""What an overzicht's bytes are: text or not, which encoding, which separator.

Both choices are decisions, not guesses, so no detection library is used (measured on a
0.8 MB overzicht, see the h3-sources report): the encoding is UTF-8 when the bytes are
valid UTF-8 (Arrow checks that in 0.1 ms) and Windows-1252 otherwise, where
charset-normalizer took 2-120 ms and named an Excel-NL Windows-1252 file cp1250; the
separator is the one under which a line holds the map's required headers, which csv's
Sniffer can only guess from character counts (16-820 ms on 64 KB, and no header check).
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import numpy as np
import pyarrow as pa

from connectors.errors import SourceFormatError
from connectors.i18n import N_, _
from connectors.sources.csv_values import TEXT, export_hint

_SEPARATORS = (";", ",")

# Bytes that never occur in a text export: NUL and C0 controls other than tab, line
# feed, form feed and carriage return. Random bytes hit one within a few hundred bytes.
_BINARY_BYTES = np.array(
    [b for b in range(32) if b not in (0x09, 0x0A, 0x0C, 0x0D)], dtype=np.uint8
)
SNIFF_BYTES = 1 << 16
_MAGIC = (
    (b"PK\x03\x04", N_("een Excel-werkmap of een ander zipbestand; sla het op als .xlsx")),
    (b"\xd0\xcf\x11\xe0", N_("een oude Excel-werkmap (.xls); sla het op als .xlsx of als CSV")),
    (b"\x89PNG", N_("een PNG-afbeelding")),
    (b"%PDF", N_("een PDF-document")),
)


def refuse_binary(path: Path, data: bytes) -> None:
    """Raise when the bytes are no text CSV: UTF-16, a known file type, or binary bytes."""
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
                    export_hint=export_hint(),
                )
            )
    binary = np.flatnonzero(
        np.isin(np.frombuffer(data[:SNIFF_BYTES], dtype=np.uint8), _BINARY_BYTES)
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
                export_hint=export_hint(),
            )
        )


def detect_encoding(path: Path, data: bytes) -> tuple[str, tuple[str, ...]]:
    """Return the encoding (UTF-8, else Windows-1252) and the notes to show about it."""
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
    text = pa.Array.from_buffers(TEXT, 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def split_line(text: str) -> list[tuple[str, list[str]]]:
    """Return a line's cells for each separator the csv module can split it on."""
    cells = []
    for separator in _SEPARATORS:
        try:
            cells.append(
                (separator, next(csv.reader([text], delimiter=separator, skipinitialspace=True)))
            )
        except (csv.Error, StopIteration):
            continue
    return cells
