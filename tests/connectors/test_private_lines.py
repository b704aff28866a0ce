"""Text written as it is made (the quarantine report's page) is the owner's alone."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from connectors.private_files import write_private_lines


def test_lines_are_joined_by_line_breaks_into_a_0600_file_whatever_the_umask(
    tmp_path: Path,
) -> None:
    def lines() -> Iterator[str]:
        yield "<p>één</p>"
        yield ""
        yield "<p>twee</p>"

    path = tmp_path / "page.html"
    path.write_text("older and longer content that must go", encoding="utf-8")
    old = os.umask(0o022)
    try:
        write_private_lines(path, lines())
    finally:
        os.umask(old)
    assert path.read_bytes() == "<p>één</p>\n\n<p>twee</p>".encode()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_no_lines_is_an_empty_file(tmp_path: Path) -> None:
    path = write_private_lines(tmp_path / "empty.html", iter(()))
    assert path.read_bytes() == b""
