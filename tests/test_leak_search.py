"""The leak search itself: it finds a value wherever a file stores it as a value, and not
where random bytes happen to spell a short one (see tests/leak_search.py)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from leak_search import found_in_file

VALUES = {"Wit", "Jansen"}
# Bytes that are not UTF-8 (0xff never is), as ciphertext almost never is.
NOISE = b"\xff\x9c\x00"


def database(path: Path, *cells: str | bytes) -> Path:
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE t (v)")
        db.executemany("INSERT INTO t VALUES (?)", [(c,) for c in cells])
        db.commit()
    return path


def test_a_short_value_in_a_text_cell_is_found(tmp_path: Path) -> None:
    assert found_in_file(database(tmp_path / "a.db", "Wit"), VALUES) == {"Wit"}


def test_a_value_in_a_blob_that_is_text_is_found(tmp_path: Path) -> None:
    assert found_in_file(database(tmp_path / "a.db", b"Wit"), VALUES) == {"Wit"}


def test_random_bytes_that_spell_a_short_value_are_not_a_leak(tmp_path: Path) -> None:
    blob = NOISE + b" Wit " + NOISE
    assert found_in_file(database(tmp_path / "a.db", blob), VALUES) == set()
    raw = tmp_path / "key.bin"
    raw.write_bytes(blob)
    assert found_in_file(raw, VALUES) == set()


def test_a_long_value_in_binary_bytes_is_found(tmp_path: Path) -> None:
    blob = NOISE + b" Jansen " + NOISE
    assert found_in_file(database(tmp_path / "a.db", blob), VALUES) == {"Jansen"}
    raw = tmp_path / "page.bin"
    raw.write_bytes(blob)
    assert found_in_file(raw, VALUES) == {"Jansen"}


def test_a_short_value_in_a_text_file_is_found(tmp_path: Path) -> None:
    text = tmp_path / "log.txt"
    text.write_text("leerling Wit, groep 3\n", encoding="utf-8")
    assert found_in_file(text, VALUES) == {"Wit"}
