"""Generated keys: made once, kept where only the owner can read them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pipelines.keys import pseudonym_secret


def test_a_generated_key_and_the_folders_made_for_it_are_for_the_owner_only(
    tmp_path: Path,
) -> None:
    state = tmp_path / "srv" / "state"
    previous = os.umask(0o022)
    try:
        key = pseudonym_secret("onderzoek", {}, state)
    finally:
        os.umask(previous)
    assert len(key) == 32
    assert pseudonym_secret("onderzoek", {}, state) == key
    assert stat.S_IMODE((state / "keys" / "onderzoek.key").stat().st_mode) == 0o600
    for folder in (tmp_path / "srv", state, state / "keys"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
