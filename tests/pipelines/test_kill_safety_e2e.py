"""Real `sluis run` processes killed while publishing; the next run settles and sends nothing twice.

The run is real (the CLI, Prefect's temporary server, the flow, the folder drop); only
the step hook (pipelines.stopping.STEP_HOOK) is set, so that the run says when it has
reached one boundary of publishing and waits there. The test then kills it, by SIGKILL
at every boundary, or by SIGTERM / SIGINT, and looks at the drop and lineage afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sluis_cli import run_args, sluis_env
from test_killed_run import descendants
from test_prefect_server import alive, wait_until_gone

from connectors.drops.base import DROP_STEPS, MANIFEST_NAME
from pipelines import stopping

pytestmark = pytest.mark.prefect

REPO = Path(__file__).resolve().parents[2]
# Two formats (EDEXML full, OneRoster delta) on folder drops; SFTP is covered per step
# in test_kill_safety.py against the test SFTP server.
SUPPLIERS = ["--supplier", "basispoort", "--supplier", "rekenapp"]

HELD_RUN = """\
import pathlib, sys, time
from pipelines import stopping

marker, step, how = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]

def hook(name):
    if name != step:
        return
    if not marker.exists():
        marker.write_text(name)
    if how == "sleep":
        time.sleep(600)  # the test kills the process here
    else:
        # A signal is on its way: wait for it, then let this publish finish, as it would.
        while stopping.requested() is None:
            time.sleep(0.05)

stopping.STEP_HOOK = hook
sys.argv = ["sluis", *sys.argv[4:]]
from pipelines.cli import main
main()
"""


def _start(root: Path, step: str, how: str) -> subprocess.Popen[bytes]:
    with (root / "output").open("wb") as output:
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                HELD_RUN,
                str(root / "reached"),
                step,
                how,
                *run_args(root, root / "samples"),
                *SUPPLIERS,
            ],
            cwd=root,
            env={**sluis_env(root), "PYTHONPATH": str(REPO)},
            stdout=output,
            stderr=subprocess.STDOUT,
            umask=0o022,
        )


def _wait_for_marker(root: Path, run: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 600
    marker = root / "reached"
    while not marker.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), (root / "output").read_text(errors="replace")


def _rerun(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *run_args(root, root / "samples"), *SUPPLIERS],
        cwd=root,
        env={**sluis_env(root), "SLUIS_LOCK_STALE_SECONDS": "2"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        umask=0o022,
    )


def _lineage(root: Path) -> sqlite3.Connection:
    return sqlite3.connect(root / "state" / "lineage.db")


def _visible(root: Path) -> dict[tuple[str, str], list[str]]:
    """(supplier, school) to the delivery folders with a manifest the suppliers see."""
    found: dict[tuple[str, str], list[str]] = {}
    for manifest in sorted((root / "drop").glob(f"*/*/{MANIFEST_NAME}")):
        if manifest.parent.name.startswith("."):
            continue
        data = json.loads(manifest.read_text())
        found.setdefault((data["supplier"], data["school"]), []).append(
            f"{data['supplier']}:{manifest.parent.name}"
        )
    return found


def _check_drop_equals_lineage(root: Path) -> None:
    leftovers = [p.name for p in (root / "drop").glob("*/.*")]
    assert leftovers == []
    with _lineage(root) as db:
        rows = db.execute("SELECT delivery_id, status FROM deliveries").fetchall()
    assert [key for key, status in rows if status == "publishing"] == []
    delivered = sorted(key for key, status in rows if status == "delivered")
    visible = _visible(root)
    assert sorted(key for keys in visible.values() for key in keys) == delivered
    # No duplicate: one export, two runs, one delivery per supplier and school.
    assert {where: len(keys) for where, keys in visible.items()} == {
        ("basispoort", "27ZX"): 1,
        ("rekenapp", "27ZX"): 1,
    }


def _check_aborted(root: Path, run_id: str) -> None:
    with _lineage(root) as db:
        [(status,)] = db.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchall()
    assert status == "aborted"
    events = [
        json.loads(line)
        for line in (root / "state" / "openlineage.ndjson").read_text().splitlines()
    ]
    assert [e["eventType"] for e in events if e["run"]["runId"] == run_id] == ["START", "ABORT"]


def _first_run(root: Path) -> str:
    with _lineage(root) as db:
        [(run_id,)] = db.execute("SELECT run_id FROM runs ORDER BY started_at LIMIT 1").fetchall()
    return str(run_id)


def _sigkill_at(root: Path, step: str) -> None:
    """Start a real run, SIGKILL it once it waits at `step`, and see its processes gone."""
    run = _start(root, step, "sleep")
    below: list[int] = []
    try:
        _wait_for_marker(root, run)
        below = descendants(run.pid)
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


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "data" / "samples" / "27ZX", tmp_path / "samples" / "27ZX")
    return tmp_path


@pytest.mark.parametrize(
    "step", [*DROP_STEPS, stopping.BEFORE_LINEAGE_COMMIT, stopping.AFTER_LINEAGE_COMMIT]
)
def test_a_run_sigkilled_while_publishing_is_settled_by_the_next_run(root: Path, step: str) -> None:
    _sigkill_at(root, step)
    killed = _first_run(root)

    again = _rerun(root)

    assert again.returncode == 0, again.stdout + again.stderr
    _check_drop_equals_lineage(root)
    _check_aborted(root, killed)
    # Not blocked by the dead run's lock: taken over after 2 s without a beat, and audited.
    with _lineage(root) as db:
        taken = db.execute(
            "SELECT subject FROM audit_log WHERE action = 'lock_takeover'"
        ).fetchall()
    assert taken == [("27ZX",)]


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
def test_a_signal_stops_a_run_cleanly_in_one_line(
    root: Path, signum: signal.Signals, code: int
) -> None:
    run = _start(root, "after_data_files", "wait")
    below: list[int] = []
    try:
        _wait_for_marker(root, run)
        below = descendants(run.pid)
        assert below, "the temporary Prefect server should run below sluis"
        run.send_signal(signum)
        returncode = run.wait(timeout=300)
        assert wait_until_gone(below) == []
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for pid in below:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    output = (root / "output").read_text(errors="replace")
    assert returncode == code, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.startswith("sluis:")]
    assert len(lines) == 1 and f"run gestopt door {signum.name}" in lines[0], output
    # What was being published finished and is recorded; nothing half-done is visible.
    leftovers = [p.name for p in (root / "drop").glob("*/.*")]
    assert leftovers == []
    with _lineage(root) as db:
        rows = db.execute("SELECT delivery_id, status FROM deliveries").fetchall()
    assert [key for key, status in rows if status == "publishing"] == []
    visible = _visible(root)
    delivered = sorted(key for key, status in rows if status == "delivered")
    assert sorted(key for keys in visible.values() for key in keys) == delivered
    _check_aborted(root, _first_run(root))
