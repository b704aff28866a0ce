"""A real run killed while publishing leaves its staging owner-only, and the next run sweeps it.

Staging (connectors.staging) is the one place in the state folder, besides Sluis' own
copies of deliveries, that holds pupil values while a run lives. A SIGKILL gives the run no
chance to remove it: what is left must be 0600 in 0700 folders, and the next run removes
it before it stages its own (issue 12.1).
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from leak_search import files_under, found_in, found_in_file, readable
from test_kill_safety_e2e import _first_run, _rerun, _sigkill_at, root
from test_sync_end_to_end import sample_values

from connectors.drops.base import DROP_STEPS
from connectors.staging import run_folder

pytestmark = pytest.mark.prefect

__all__ = ["root"]  # the fixture, from the kill-safety tests


def test_a_killed_runs_staging_is_owner_only_holds_the_values_and_is_swept_next(
    root: Path,
) -> None:
    _sigkill_at(root, DROP_STEPS[0])
    state = root / "state"
    killed = run_folder(state, _first_run(root))
    left = files_under(killed)
    assert left, "a killed run leaves its staging"
    for path in [killed, *killed.rglob("*")]:
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.lstat().st_mode) == expected, path
    values = sample_values()
    # The leak search reads staging like any other file: the values are there ...
    assert found_in(b"\n".join(readable(p) for p in left), values.surnames)
    # ... and nowhere else in the state folder but Sluis' own copies of deliveries.
    for path in files_under(state):
        if path.is_relative_to(killed) or path.is_relative_to(state / "archive"):
            continue
        if path.is_relative_to(state / "held"):
            continue
        try:
            hits = found_in_file(path, values.surnames | values.bsns)
        except FileNotFoundError:
            continue  # gone since it was listed (SQLite's -wal/-shm): nothing left to leak
        assert hits == set(), path

    again = _rerun(root)

    assert again.returncode == 0, again.stdout + again.stderr
    assert not killed.exists()
    assert list((state / "staging").iterdir()) == []
