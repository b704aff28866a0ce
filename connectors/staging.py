"""A run's staging area: frames on disk as Arrow IPC files, owner-only and hashed.

Validation writes each school's frames under ``<state>/staging/<run>/``, so that the flow
and its tasks pass paths and hashes instead of frames. Memory then follows one batch of
schools instead of the whole run, and a task on another machine (a Dask worker) reads the
same files through a path it shares. The files hold pupil values, so they get what the
state folder's other files get: 0600 files in 0700 folders. They are never fsynced: a run
that dies loses its staging with it, and the next run or `sluis reconcile` removes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Collection, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa

from connectors.errors import StagingError
from connectors.i18n import _

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "STAGING_DIRNAME",
    "make_private_folder",
    "read_frame",
    "read_table",
    "remove_run",
    "run_folder",
    "sweep",
    "write_frames",
]

STAGING_DIRNAME = "staging"
FILE_MODE = 0o600
DIR_MODE = 0o700
_SUFFIX = ".arrow"


def run_folder(state_dir: Path, run_id: str) -> Path:
    """Where run `run_id` stages its frames."""
    return state_dir / STAGING_DIRNAME / run_id


def make_private_folder(folder: Path, *, up_to: Path) -> None:
    """Create `folder` and its missing parents below `up_to`, each 0700 whatever the umask."""
    missing = []
    current = folder
    while current != up_to and not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another task made it meanwhile
            os.mkdir(path, DIR_MODE)
        os.chmod(path, DIR_MODE)


def _serialised(frame: pd.DataFrame) -> pa.Buffer:
    # pandas' metadata travels in the schema, so dtypes, index and column order come back
    # exactly as they went in: deliveries from staged frames are byte-identical.
    table = pa.Table.from_pandas(frame)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def write_frames(folder: Path, frames: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """Write each frame to ``folder/<name>.arrow`` (0600, new files only).

    `folder` must exist (see `make_private_folder`).

    Returns:
        The SHA-256 of each file by frame name: the reference a reader checks against.
    """
    hashes: dict[str, str] = {}
    for name, frame in frames.items():
        data = _serialised(frame)
        path = folder / f"{name}{_SUFFIX}"
        # O_EXCL: a staged file is written once; a second writer is a bug, not a retry.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as out:
            out.write(memoryview(data))
        hashes[name] = hashlib.sha256(memoryview(data)).hexdigest()
    return hashes


def read_frame(folder: Path, name: str, sha256: str) -> pd.DataFrame:
    """Read the frame `name` staged in `folder`, refusing a file that is not what was written.

    Raises:
        StagingError: the file is gone or its hash differs.
    """
    return read_table(folder, name, sha256).to_pandas()


def read_table(folder: Path, name: str, sha256: str) -> pa.Table:
    """`read_frame` as an Arrow table: for reading many small frames into one (a report).

    Raises:
        StagingError: the file is gone or its hash differs.
    """
    path = folder / f"{name}{_SUFFIX}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StagingError(
            _(
                "{path}: het tussenbestand van deze run is weg ({reason}); er wordt niets "
                "meer geleverd. Laat de map {staging} met rust zolang een run loopt en start "
                "de run opnieuw"
            ).format(path=path, reason=exc.strerror, staging=STAGING_DIRNAME)
        ) from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise StagingError(
            _(
                "{path}: het tussenbestand is veranderd sinds de validatie; er wordt niets "
                "meer geleverd. Start de run opnieuw"
            ).format(path=path)
        )
    return pa.ipc.open_file(pa.py_buffer(data)).read_all()


def remove_run(state_dir: Path, run_id: str) -> bool:
    """Remove run `run_id`'s staging; True when there was some."""
    folder = run_folder(state_dir, run_id)
    if not folder.is_dir():
        return False
    shutil.rmtree(folder)
    return True


def sweep(state_dir: Path, live: Collection[str]) -> int:
    """Remove the staging of every run not in `live` (killed runs); return how many."""
    root = state_dir / STAGING_DIRNAME
    if not root.is_dir():
        return 0
    removed = 0
    for folder in sorted(root.iterdir()):
        if folder.name not in live and remove_run(state_dir, folder.name):
            removed += 1
    return removed
