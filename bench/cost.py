"""Prefect's fixed cost next to Sluis' own work: `sluis run` on one school against an empty flow.

    .venv/bin/python bench/cost.py
    .venv/bin/python bench/cost.py --repeat 5 --pupils 300 --json
    .venv/bin/python bench/cost.py --mode server

Writes one synthetic school, then times, each in a fresh Python process, `python -m pipelines
run` on it and a script that runs an empty `@flow` once, in two set-ups: the ephemeral API
(no server; every process starts a temporary one) and a running `prefect server start`
(PREFECT_API_URL set). Each `sluis run` starts from an empty lineage database already at
the current schema, as a nightly run does after installation. Both commands of a set-up
share its PREFECT_HOME and environment, so the difference of the medians is Sluis' own work
(imports, validation, policy, files, lineage, tasks and artifacts) and the ratio says how
much of a run is Prefect. A warm-up pair first registers both flows, as on a server that
syncs every night. For reference, parts are timed apart: the imports alone (what `sluis run`
loads against `from prefect import flow`), the libraries the product card fixes alone
(pandas with pyarrow, pandera, SQLAlchemy, lxml: what any pipeline on this stack loads
before its own code runs), and Sluis' stages in this process without Prefect. Timed
processes read compiled bytecode, as an installed Sluis does. A script, not a test:
timings are never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The interpreter whose Prefect and Sluis are timed; --python changes it, for instance to a
# venv made by the README's first command, which lacks the test extras (pandera imports
# hypothesis at its first validation when it is installed).
PYTHON = sys.executable
sys.path.insert(0, str(REPO))

EMPTY_FLOW = """\
from prefect import flow


@flow(name="empty")
def empty() -> None:
    return None


empty()
"""


@dataclass
class Timings:
    """Wall times of one set-up, in seconds, in the order they ran."""

    empty: list[float] = field(default_factory=list)
    sluis: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        empty = statistics.median(self.empty)
        sluis = statistics.median(self.sluis)
        return {
            "empty_s": [round(t, 3) for t in self.empty],
            "sluis_s": [round(t, 3) for t in self.sluis],
            "empty_median_s": round(empty, 3),
            "sluis_median_s": round(sluis, 3),
            "own_work_s": round(sluis - empty, 3),
            "ratio": round(sluis / empty, 3),
        }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prefect_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    """The environment of every timed process: its own PREFECT_HOME, nothing inherited."""
    env = {
        key: value
        for key, value in os.environ.items()
        # A PREFECT_API_URL or profile from the shell would silently turn the ephemeral
        # set-up into a server one; SLUIS_* settings would change what a run does.
        if not key.startswith(("PREFECT_", "SLUIS_"))
        # This machine's shell sets PYTHONDONTWRITEBYTECODE=1, so every process would
        # compile Sluis' modules from source (0.15-0.2 s); an installed Sluis has bytecode.
        and key != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        PREFECT_HOME=str(home),
        # Bytecode goes to the scratch folder, not into the checkout: the warm-up writes
        # it, the timed runs read it, for Prefect as for Sluis.
        PYTHONPYCACHEPREFIX=str(home.parent / "pycache"),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        # A fresh SQLite database takes 20-25 s to migrate on 2 cores, past the 20 s default.
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
    )
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def timed(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> float:
    """Seconds from start to exit of `command`; its output goes to `log`."""
    with log.open("ab") as out:
        started = time.perf_counter()
        result = subprocess.run(command, env=env, cwd=cwd, stdout=out, stderr=out, check=False)
        seconds = time.perf_counter() - started
    if result.returncode != 0:
        tail = log.read_text("utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"{command[:4]} exited {result.returncode}; end of {log}:\n{tail}")
    return seconds


def wait_healthy(url: str, server: subprocess.Popen[bytes], timeout: float = 180) -> float:
    """Seconds until the server answers /api/health; raises if it dies or never answers."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if server.poll() is not None:
            raise RuntimeError(f"prefect server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"prefect server not healthy after {timeout:.0f} s")


@contextmanager
def running_server(home: Path, log: Path) -> Iterator[str]:
    """A `prefect server start` on a free port; yields its API URL, always stops it."""
    port = free_port()
    prefect = Path(PYTHON).with_name("prefect")
    with log.open("ab") as out:
        server = subprocess.Popen(
            [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=prefect_env(home),
            stdout=out,
            stderr=out,
        )
    api_url = f"http://127.0.0.1:{port}/api"
    try:
        ready = wait_healthy(api_url, server)
        print(f"server ready in {ready:.1f} s on {api_url}", file=sys.stderr)
        yield api_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def measure(
    name: str,
    env: dict[str, str],
    source: Path,
    scratch: Path,
    repeat: int,
    pause: float,
) -> Timings:
    """Warm up once, then time both commands `repeat` times, alternating which goes first."""
    log = scratch / f"{name}-runs.log"
    runs = 0

    # A lineage database at the current schema revision with nothing in it yet: what a
    # nightly run finds once `sluis db upgrade` has run at installation. Creating the
    # schema is once per installation, not the per-run work this script measures.
    empty_state = scratch / f"{name}-empty-state"
    upgrade = [PYTHON, "-m", "pipelines", "db", "upgrade", "--state", str(empty_state)]
    subprocess.run(upgrade, env=env, cwd=scratch, check=True, capture_output=True)

    def sluis() -> float:
        nonlocal runs
        runs += 1
        # A fresh drop and an empty state each time: every run is the same first, full
        # delivery, never a delta against the previous one.
        state = scratch / f"{name}-state-{runs}"
        shutil.copytree(empty_state, state)
        command = [PYTHON, "-m", "pipelines", "run", "--source", str(source)]
        command += ["--drop", str(scratch / f"{name}-drop-{runs}"), "--state", str(state)]
        return timed(command, env, scratch, log)

    def empty() -> float:
        return timed([PYTHON, "-c", EMPTY_FLOW], env, scratch, log)

    print(f"{name}: warm-up", file=sys.stderr)
    empty()
    sluis()
    timings = Timings()
    for number in range(repeat):
        # Alternate the order so a drift (a server catching up, a cache warming) does not
        # land on one side only.
        pair = ((empty, timings.empty), (sluis, timings.sluis))
        for run, into in pair if number % 2 == 0 else reversed(pair):
            time.sleep(pause)
            into.append(run())
        print(
            f"{name}: run {number + 1}/{repeat}: empty {timings.empty[-1]:.2f} s, "
            f"sluis {timings.sluis[-1]:.2f} s",
            file=sys.stderr,
        )
    return timings


# The libraries the product card fixes, loaded by any pipeline built on that stack before
# a line of its own runs: timed apart, so the report can tell them from Sluis' own code.
STACK = "from prefect import flow; import pandas, pandera.pandas, sqlalchemy.orm, lxml.etree"


def measure_imports(env: dict[str, str], scratch: Path, repeat: int) -> tuple[Timings, Timings]:
    """Import time alone: Prefect's against what `sluis run` loads, and against the stack's.

    Returns:
        Prefect against Sluis' imports, and Prefect against Prefect plus the stack's
        libraries (pandas with pyarrow, pandera, SQLAlchemy, lxml).
    """
    log = scratch / "imports.log"
    prefect = [PYTHON, "-c", "from prefect import flow"]
    sluis = [PYTHON, "-c", "import pipelines.cli, pipelines.flows, pipelines.plan"]
    stack = [PYTHON, "-c", STACK]
    for command in (prefect, sluis, stack):  # warm-up: writes the bytecode
        timed(command, env, scratch, log)
    imports, libraries = Timings(), Timings()
    for _ in range(repeat):
        empty = timed(prefect, env, scratch, log)
        imports.empty.append(empty)
        libraries.empty.append(empty)
        imports.sluis.append(timed(sluis, env, scratch, log))
        libraries.sluis.append(timed(stack, env, scratch, log))
    return imports, libraries


def stages_in_process(source: Path, scratch: Path, repeat: int) -> list[float]:
    """Sluis' stages without Prefect, as bench/run.py times them (first call is a warm-up)."""
    # bench/ is sys.path[0] when this file runs as a script, so its sibling imports as `run`.
    from run import stages_without_prefect

    stages_without_prefect(source, scratch / "direct-warm-up")
    return [stages_without_prefect(source, scratch / f"direct-{n}") for n in range(repeat)]


def table(
    pupils: int,
    repeat: int,
    results: dict[str, Timings],
    imports: Timings,
    libraries: Timings,
    direct: list[float],
) -> str:
    labels = {
        "ephemeral": "ephemeral API",
        "server": "running server",
        "imports": "imports alone",
        "libraries": "stack libraries",
    }
    lines = [
        f"sluis run on 1 school of {pupils} pupils; median of {repeat} fresh processes",
        f"{'set-up':<16}{'empty flow':>12}{'sluis run':>12}{'Sluis own':>12}{'ratio':>8}",
    ]
    for mode, timings in {**results, "imports": imports, "libraries": libraries}.items():
        row = timings.summary()
        lines.append(
            f"{labels[mode]:<16}{row['empty_median_s']:>10.2f} s{row['sluis_median_s']:>10.2f} s"
            f"{row['own_work_s']:>+10.2f} s{row['ratio']:>8.2f}"
        )
    if direct:
        lines.append(
            f"Sluis' stages in process without Prefect (no imports): "
            f"{statistics.median(direct):.2f} s"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=300, help="pupils in the one school")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each command")
    parser.add_argument(
        "--mode", choices=("both", "ephemeral", "server"), default="both", help="set-ups to time"
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=2.0,
        help="seconds between runs, so a server can persist the last run's events first",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter of the venv to time (default: this one)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and logs")
    args = parser.parse_args()
    global PYTHON
    PYTHON = args.python

    from connectors.synthetic import write_samples

    scratch = Path(tempfile.mkdtemp(prefix="sluis-cost-"))
    try:
        source = scratch / "source"
        write_samples(source, schools=1, pupils_per_school=args.pupils, seed=args.seed)
        results: dict[str, Timings] = {}
        if args.mode in ("both", "ephemeral"):
            env = prefect_env(scratch / "prefect-ephemeral")
            results["ephemeral"] = measure(
                "ephemeral", env, source, scratch, args.repeat, args.pause
            )
        if args.mode in ("both", "server"):
            with running_server(
                scratch / "prefect-server", scratch / "prefect-server.log"
            ) as api_url:
                # The clients get a home of their own: only the API URL is shared.
                env = prefect_env(scratch / "prefect-client", api_url)
                results["server"] = measure("server", env, source, scratch, args.repeat, args.pause)
        # Part of Sluis' own work in both set-ups: its libraries load before the flow starts.
        imports, libraries = measure_imports(
            prefect_env(scratch / "prefect-imports"), scratch, args.repeat
        )
        direct = stages_in_process(source, scratch, args.repeat)
    finally:
        if args.keep:
            print(f"kept {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    if args.json:
        report = {
            "python": PYTHON,
            "pupils": args.pupils,
            "schools": 1,
            "repeat": args.repeat,
            "setups": {mode: timings.summary() for mode, timings in results.items()},
            "imports": imports.summary(),
            "stack_libraries": libraries.summary(),
            "stages_without_prefect_s": [round(t, 3) for t in direct],
            "stages_without_prefect_median_s": round(statistics.median(direct), 3),
        }
        print(json.dumps(report, indent=2))
    else:
        print(f"interpreter: {PYTHON}")
        print(table(args.pupils, args.repeat, results, imports, libraries, direct))


if __name__ == "__main__":
    main()
