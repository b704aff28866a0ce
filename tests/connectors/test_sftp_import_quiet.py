"""Loading the SFTP drop prints no warning on a coordinator's terminal.

cryptography 51 deprecates DSA, and asyncssh loads its DSA support on import; that
warning reached every run with an SFTP drop (and failed every test of it under the
tests' warnings-as-errors) until connectors.drops filtered exactly that one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_sftp_drop_imports_without_a_warning_under_w_error() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import connectors.drops.sftp"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_other_warnings_still_come_through(tmp_path: Path) -> None:
    # The filter is for DSA from asyncssh alone: any other warning stays an error.
    code = (
        "import warnings, connectors.drops.sftp\nwarnings.warn('DSA is deprecated', UserWarning)\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "DSA is deprecated" in result.stderr
