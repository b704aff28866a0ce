"""Files and folders only their owner can read or enter (0600 and 0700), whatever the umask.

Sluis' state (lineage database, quarantine reports, keys, archive, held deliveries,
OpenLineage events) holds pupil keys and delivery copies. Modes passed to open() and
mkdir() are cut by the process umask, and the usual umask 022 leaves a file readable
by everyone on the server; so every mode is set again, exactly, after creation.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "make_private_dir",
    "make_private_file",
    "write_private_file",
    "write_private_lines",
]

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def make_private_dir(path: Path) -> Path:
    """Create `path` and its missing parents as 0700 folders; return `path`.

    Folders that exist already keep their mode: a parent such as /srv belongs to the
    administrator, not to Sluis.

    Raises:
        OSError: a folder cannot be created (the caller names the setting to fix).
    """
    missing: list[Path] = []
    folder = path
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # made at the same moment by another run: not ours to change
        os.chmod(folder, PRIVATE_DIR_MODE)
    if not path.is_dir():
        raise NotADirectoryError(20, "Not a directory", str(path))
    return path


def make_private_file(path: Path) -> Path:
    """Create `path` empty as a 0600 file if it is missing, or make an existing one 0600.

    For files another library opens after this (SQLite, which gives its -wal and -shm
    files the database file's mode; the OpenLineage file transport, which appends).

    Raises:
        OSError: the file cannot be created or opened.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | _NOFOLLOW, PRIVATE_FILE_MODE)
    try:
        # A file someone else owns (a shared --db path) cannot be changed; leave it be.
        with contextlib.suppress(PermissionError):
            os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_private_file(path: Path, content: bytes) -> Path:
    """Write `content` to `path` as a 0600 file, replacing what it held.

    Raises:
        OSError: the file cannot be written.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), PRIVATE_FILE_MODE)
        handle.write(content)
    return path


def write_private_lines(path: Path, lines: Iterable[str]) -> Path:
    """Write `lines` to `path` as UTF-8 text, joined by line breaks, as a 0600 file.

    What `write_private_file` does for text written as it is made, never held whole.

    Raises:
        OSError: the file cannot be written.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        os.fchmod(handle.fileno(), PRIVATE_FILE_MODE)
        for number, line in enumerate(lines):
            handle.write(f"\n{line}" if number else line)
    return path
