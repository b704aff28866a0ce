"""A `sluis run` killed with SIGKILL takes its temporary Prefect server with it.

The run is real (the CLI, Prefect's temporary server, the flow); only the first step of
the flow is replaced by one that says it has been reached and then waits, so the kill
lands inside the flow at a known point, not after a guessed sleep.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sluis_cli import run_args, sluis_env
from test_prefect_server import alive, wait_until_gone

pytestmark = pytest.mark.prefect

REPO = Path(__file__).resolve().parents[2]

BLOCKED_RUN = """\
import pathlib, sys, time
import pipelines.tasks as tasks

marker = pathlib.Path(sys.argv[1])

def reached(*args, **kwargs):
    marker.write_text("in the flow")
    time.sleep(600)

tasks.stage_schools = reached
sys.argv = ["sluis", *sys.argv[2:]]
from pipelines.cli import main
main()
"""


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def test_a_sigkilled_run_leaves_no_prefect_server_behind(tmp_path: Path) -> None:
    shutil.copytree(REPO / "data" / "samples", tmp_path / "samples")
    reached = tmp_path / "reached"
    with (tmp_path / "output").open("wb") as output:
        run = subprocess.Popen(
            [
                sys.executable,
                "-c",
                BLOCKED_RUN,
                str(reached),
                *run_args(tmp_path, tmp_path / "samples"),
            ],
            cwd=tmp_path,
            env={**sluis_env(tmp_path), "PYTHONPATH": str(REPO)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    below: list[int] = []
    try:
        deadline = time.monotonic() + 600
        while not reached.exists() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert reached.exists(), (tmp_path / "output").read_text(errors="replace")
        below = descendants(run.pid)
        assert below, "the temporary Prefect server should run below sluis"
        run.send_signal(signal.SIGKILL)
        run.wait()
        assert wait_until_gone(below) == []
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for pid in below:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
