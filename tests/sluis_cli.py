"""Running the `sluis` command in a subprocess, as a coordinator would, for CLI tests."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from lxml import etree


def sluis_env(root: Path, *, state_env: bool = False) -> dict[str, str]:
    """The environment of a `sluis` run in `root`: its own Prefect home, nothing inherited.

    With `state_env`, SLUIS_STATE_DIR points at `root/state`, for the commands (approve,
    redeliver) that take the state folder from the environment.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLUIS_", "PREFECT_"))}
    env.update(
        PREFECT_HOME=str(root / "prefect"),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
        COLUMNS="200",
    )
    if state_env:
        env["SLUIS_STATE_DIR"] = str(root / "state")
    return env


def sluis(
    root: Path, *args: str, state_env: bool = False, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m pipelines *args` in `root` (see `sluis_env`), under the usual umask 022.

    The umask is set, not inherited, so that tests of file modes see what a server does.
    `env` adds settings (SLUIS_...) to that environment.
    """
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=root,
        env={**sluis_env(root, state_env=state_env), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        umask=0o022,
    )


def run_args(root: Path, source: Path) -> list[str]:
    """`run` on `source`, dropping into `root/drop` with the state in `root/state`."""
    return [
        "run",
        "--source",
        str(source),
        "--drop",
        str(root / "drop"),
        "--state",
        str(root / "state"),
    ]


def halve(export: Path) -> None:
    """Remove every other pupil from an EDEXML export, in place."""
    tree = etree.parse(str(export))
    pupils = tree.findall(".//leerlingen/leerling")
    for element in pupils[::2]:
        element.getparent().remove(element)
    tree.write(str(export), xml_declaration=True, encoding="UTF-8")


def sluis_in_process(*args: str) -> tuple[int, str, str]:
    """Run `sluis *args` in this process: exit code, stdout and stderr (for fast CLI tests)."""
    from pipelines.cli import main  # here, so the subprocess helpers need no Sluis import

    out, err = io.StringIO(), io.StringIO()
    argv, sys.argv = sys.argv, ["sluis", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()
