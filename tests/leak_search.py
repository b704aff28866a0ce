"""The leak search the end-to-end tests run over every file Sluis and Prefect leave behind.

A value is found where it stands as a word: not inside a longer word, so "Bos" is not
found in "Bosch". Files are read as the value would be stored in them: Arrow IPC and
Parquet cell by cell, zip members unpacked, SQLite databases row by row.

Binary bytes (AES-GCM ciphertext, SQLite's pages and WAL) hold any short byte sequence by
chance: a 3-letter surname between two non-word bytes turns up about once in 30 million
random positions, so the ciphertext and page bytes of the lineage database (the sealed
`ref` of each pupil a delta supplier holds, freed pages, record headers) now and then show
one of the samples' 13 surnames of three or four letters, the likely cause of a CI run that
reported "Wit" in lineage.db. A leak is never that: whatever writes pupil values writes all
of them, and the samples hold 27 surnames of six bytes or more,
each of which a random byte string shows about once in 2**48 positions. So raw binary is
searched for those longer values only, and every value is searched in what a file decodes
to: text files, the cells of a table, SQLite's text cells and any blob that is UTF-8 text.
"""

from __future__ import annotations

import re
import sqlite3
import zipfile
from contextlib import closing
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

SQLITE: Final = b"SQLite format 3\x00"
# Files `readable` decodes: Arrow IPC, Parquet, zip.
DECODED: Final = (b"ARROW1", b"PAR1", b"PK\x03\x04")
# The shortest value searched in raw binary; see the module docstring.
RAW_MINIMUM: Final = 6


def found_in(data: bytes, values: set[str]) -> set[str]:
    hits = set()
    for value in values:
        pattern = rb"(?<![\w])" + re.escape(value.encode("utf-8")) + rb"(?![\w])"
        if re.search(pattern, data):
            hits.add(value)
    return hits


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def readable(path: Path) -> bytes:
    """A file's bytes as a leak search must read them: cells of Arrow IPC and Parquet one per
    line, zip members unpacked. Their raw bytes hide values: Arrow packs a column's strings
    back to back (no word boundary between them), Parquet and zip compress.
    """
    data = path.read_bytes()
    if data.startswith(b"ARROW1"):
        table = pa.ipc.open_file(pa.py_buffer(data)).read_all()
    elif data.startswith(b"PAR1"):
        table = pq.read_table(path)
    elif data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(path) as archive:
            return b"\n".join(archive.read(name) for name in archive.namelist())
    else:
        return data
    cells = [str(v) for column in table.columns for v in column.to_pylist() if v is not None]
    return "\n".join(cells).encode("utf-8")


def sqlite_cells(path: Path) -> bytes:
    """Every cell of every table, one per line: text as it is, a blob only if it is UTF-8."""
    cells: list[bytes] = []
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            quoted = table.replace('"', '""')
            for row in db.execute(f'SELECT * FROM "{quoted}"'):  # noqa: S608 - own schema
                for value in row:
                    if isinstance(value, bytes):
                        try:
                            value.decode("utf-8")
                        except UnicodeDecodeError:
                            continue  # ciphertext: opaque by design
                        cells.append(value)
                    elif value is not None:
                        cells.append(str(value).encode("utf-8"))
    return b"\n".join(cells)


def is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def found_in_file(path: Path, values: set[str]) -> set[str]:
    """The values `path` holds, read as the module docstring says."""
    raw = path.read_bytes()
    long_values = {v for v in values if len(v.encode("utf-8")) >= RAW_MINIMUM}
    if raw.startswith(SQLITE):
        return found_in(sqlite_cells(path), values) | found_in(raw, long_values)
    if raw.startswith(DECODED) or is_text(raw):
        return found_in(readable(path), values)
    return found_in(raw, long_values)
