"""Benchmark: Sluis on N synthetic pupils next to a plain script and the I/O floor, one run.

    nice -n 10 .venv/bin/python bench/run.py --pupils 10000 --schools 25
    nice -n 10 .venv/bin/python bench/run.py --pupils 200000 --schools 500
    nice -n 10 .venv/bin/python bench/run.py --pupils 2000000 --schools 7000 --time-limit 40
    nice -n 10 .venv/bin/python bench/run.py --pupils 10000 --schools 25 --parts dask1,dask2

Measures, each in a fresh process of its own so that peaks do not mix, on the same cached
sample (bench/samples.py) and in this order:

- plain: bench/plain.py, the anchor (iterparse, consent filter, a CSV per school and
  supplier);
- stages: Sluis' own stages without Prefect (extract, validate, policy, render, publish)
  for every shipped agreement, with the time of each stage;
- floor: the I/O floor (bench/floor.py): an lxml parse of the exports and a pyarrow read
  of the consents, plus a pyarrow/lxml write of every file the stages published, in every
  format (CSV, Parquet, OneRoster zip, EDEXML, manifest.json);
- empty: one empty Prefect flow with the same fresh Prefect home: Prefect's fixed cost;
- flow: the `sync` flow end to end (ephemeral Prefect API, fresh state and lineage);
- dask1, dask2: the same flow with `--task-runner dask`, on a local cluster of 1 and of 2
  worker processes (SLUIS_DASK_WORKERS), each with fresh state and lineage. Not in the
  default parts: ask for them with --parts. Work spreads over the workers by batch
  (SLUIS_BATCH_SIZE, 25 schools; --batch-size): with a single batch there is one prepare
  task, and each worker reads the batch back from staging for its deliver tasks.

Figures cover the measured part only (imports excluded): CPU is user + system of every
thread and child process (the Prefect API server a flow starts included, and a local Dask
cluster's worker processes), the figure to trust on a shared machine; wall is secondary,
except between dask1 and dask2, where spreading the work is the point. Peak RSS is that of
the measured part (the peak is reset after the imports); a Dask worker's is shown apart.
A measurement that passes --time-limit minutes or --rss-limit MB is stopped, and reported
with how far it got. A script, not a test: nothing is asserted. --json writes every
figure for later comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

PARTS = ("plain", "stages", "floor", "empty", "flow", "dask1", "dask2")
DEFAULT_PARTS = ("plain", "stages", "floor", "empty", "flow")
LABELS = {
    "plain": "plain script (bench/plain.py)",
    "stages": "Sluis stages, no Prefect",
    "floor": "I/O floor (read + write)",
    "empty": "empty Prefect flow",
    "flow": "sync flow, end to end",
    "dask1": "sync flow, Dask, 1 worker process",
    "dask2": "sync flow, Dask, 2 worker processes",
}
FLOWS = ("flow", "dask1", "dask2")
DASK_WORKERS = {"dask1": 1, "dask2": 2}


def stages_without_prefect(source: Path, drop: Path) -> float:
    """Wall seconds of Sluis' stages in this process (bench/cost.py times it this way)."""
    from measure import run_stages

    started = time.perf_counter()
    run_stages(source, drop)
    return time.perf_counter() - started


@dataclass
class Measured:
    """One measurement: the child's own figures plus how its process ended."""

    part: str
    result: dict[str, Any] = field(default_factory=dict)
    stopped: str = ""  # why the watchdog stopped it, empty when it finished
    exit_code: int = 0
    process_cpu_s: float = 0.0  # the whole process (imports included), from wait4
    process_peak_mb: float = 0.0
    elapsed_s: float = 0.0
    sampled_peak_mb: float = 0.0  # the watchdog's last view of the peak (after the reset)
    progress: str = ""
    partial: str = ""  # the floor of a stopped stages run: only what was published

    @property
    def complete(self) -> bool:
        return not (self.stopped or self.partial) and self.exit_code == 0 and bool(self.result)

    @property
    def finished(self) -> bool:
        """It ran to its end (a partial floor did, on partial input)."""
        return not self.stopped and self.exit_code == 0 and bool(self.result)

    @property
    def cpu(self) -> float:
        return float(self.result.get("cpu_s", 0.0))

    @property
    def wall(self) -> float:
        return float(self.result.get("wall_s", self.elapsed_s))

    @property
    def peak(self) -> float:
        return float(self.result.get("peak_rss_mb", self.sampled_peak_mb))


def _env(prefect_home: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # A PREFECT_API_URL or SLUIS_* setting from the shell would change what is measured.
        if not key.startswith(("PREFECT_", "SLUIS_"))
    }
    env.update(
        PREFECT_HOME=str(prefect_home),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
    )
    return env


def _hwm_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_part(
    part: str, spec: dict[str, Any], *, time_limit_s: float, rss_limit_mb: float
) -> Measured:
    """Start one measurement process and watch it until it ends or passes a limit."""
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(HERE / "measure.py"), part, json.dumps(spec)]
    measured = Measured(part)
    started = time.perf_counter()
    with (out / "output.log").open("wb") as log:
        child = subprocess.Popen(
            command,
            cwd=out,
            env=_env(out / "prefect-home"),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: a stop takes the Prefect server too
        )
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            measured.sampled_peak_mb = max(measured.sampled_peak_mb, _hwm_mb(child.pid))
            elapsed = time.perf_counter() - started
            if not measured.stopped and elapsed > time_limit_s:
                measured.stopped = f"stopped after {elapsed / 60:.1f} min (--time-limit)"
            elif not measured.stopped and measured.sampled_peak_mb > rss_limit_mb:
                measured.stopped = f"stopped at {measured.sampled_peak_mb:.0f} MB RSS (--rss-limit)"
            if measured.stopped:
                os.killpg(child.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.5)
        child.returncode = os.waitstatus_to_exitcode(status)
    measured.elapsed_s = time.perf_counter() - started
    measured.exit_code = child.returncode
    measured.process_cpu_s = usage.ru_utime + usage.ru_stime
    measured.process_peak_mb = usage.ru_maxrss / 1024
    result = out / "result.json"
    if result.is_file():
        measured.result = json.loads(result.read_text("utf-8"))
    progress = out / "progress.txt"
    if progress.is_file():
        lines = progress.read_text("utf-8").splitlines()
        measured.progress = lines[-1] if lines else ""
    if part in FLOWS and not measured.complete:
        measured.progress = _flow_progress(out)
    if not measured.complete and not measured.stopped:
        tail = (out / "output.log").read_text("utf-8", errors="replace")[-1500:]
        print(f"{part} exited {child.returncode}; end of its output:\n{tail}", file=sys.stderr)
    return measured


def _flow_progress(out: Path) -> str:
    """How far a stopped flow got: its finished tasks (from its log) and published folders."""
    log = (out / "output.log").read_text("utf-8", errors="replace")
    finished = {"prepare": 0, "deliver": 0}
    for line in log.splitlines():
        if "Finished in state Completed" in line:
            for kind in finished:
                if f"Task run '{kind}-" in line:
                    finished[kind] += 1
    published = sum(1 for _ in (out / "drop").glob("*/*/manifest.json"))
    return (
        f"{finished['prepare']} prepare and {finished['deliver']} deliver tasks finished, "
        f"{published} deliveries published"
    )


def _median(runs: list[Measured]) -> Measured:
    """The run with the median CPU (all runs when incomplete: the first incomplete one)."""
    broken = [m for m in runs if not m.complete]
    if broken:
        return broken[0]
    ordered = sorted(runs, key=lambda m: m.cpu)
    return ordered[(len(ordered) - 1) // 2]


def _count_files(drop: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in drop.glob("*/*/*"):
        kind = "manifest.json" if path.name == "manifest.json" else path.suffix.lstrip(".")
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def measure_all(args: argparse.Namespace, source: Path, scratch: Path) -> dict[str, Measured]:
    limits = {"time_limit_s": args.time_limit * 60, "rss_limit_mb": args.rss_limit}
    runs: dict[str, list[Measured]] = {part: [] for part in args.parts}
    for number in range(args.repeat):
        base = scratch / f"run-{number}"
        stages_drop = base / "stages" / "drop"
        for part in args.parts:
            out = base / part
            spec: dict[str, Any] = {"source": str(source), "out": str(out)}
            if part == "floor":
                spec.update(drop=str(stages_drop), scratch=str(out / "written"))
            elif part in ("plain", "stages", *FLOWS):
                spec.update(drop=str(out / "drop"))
            if part in FLOWS:
                spec.update(state=str(out / "state"))
            if part in DASK_WORKERS:
                spec.update(workers=DASK_WORKERS[part])
            if part == "stages" or (part in FLOWS and args.batch_size):
                spec.update(batch_size=args.batch_size)
            if part == "floor" and not stages_drop.is_dir():
                print("floor: skipped, it writes what the stages published", file=sys.stderr)
                continue
            print(f"run {number + 1}/{args.repeat}: {part} ...", file=sys.stderr, flush=True)
            measured = run_part(part, spec, **limits)
            if part == "floor" and runs.get("stages") and not runs["stages"][-1].complete:
                published = runs["stages"][-1].result.get("files", {}).get("manifest.json", 0)
                measured.partial = (
                    f"the stages stopped, so it wrote only their {published} published "
                    "deliveries (the reads are complete)"
                )
            if part in ("stages", *FLOWS) and (out / "drop").is_dir():
                measured.result["files"] = _count_files(out / "drop")
                if not measured.result.get("part"):  # stopped: keep the count apart
                    measured.result = {"files": measured.result["files"]}
            runs[part].append(measured)
            state = "done" if measured.complete else measured.stopped or "failed"
            print(
                f"  {state}: {measured.cpu:.1f} s CPU, {measured.wall:.1f} s wall, "
                f"peak {measured.peak:.0f} MB",
                file=sys.stderr,
                flush=True,
            )
            if part == "floor" and not args.keep:
                shutil.rmtree(out / "written", ignore_errors=True)
        if not args.keep:
            for part in ("plain", "stages", *FLOWS):
                shutil.rmtree(base / part / "drop", ignore_errors=True)
    return {part: _median(found) for part, found in runs.items() if found}


_RUN_FIELDS = (
    "stopped",
    "exit_code",
    "process_cpu_s",
    "process_peak_mb",
    "elapsed_s",
    "sampled_peak_mb",
    "progress",
    "partial",
)


def _load(saved: dict[str, Any]) -> dict[str, Measured]:
    """The measurements of a --json file, as they were measured."""
    found = {}
    for part, figures in saved["measurements"].items():
        run = {k: figures[k] for k in _RUN_FIELDS if k in figures}
        result = {k: v for k, v in figures.items() if k not in (*_RUN_FIELDS, "complete")}
        found[part] = Measured(part, result=result, **run)
    return found


def _ratio(a: Measured | None, b: Measured | None, *, minus: Measured | None = None) -> str:
    if a is None or b is None or not a.complete or not b.complete or b.cpu <= 0:
        return "-"
    top = a.cpu - (minus.cpu if minus is not None and minus.complete else 0.0)
    return f"{top / b.cpu:.2f} x"


def _wall_ratio(a: Measured | None, b: Measured | None) -> str:
    if a is None or b is None or not a.complete or not b.complete or a.wall <= 0:
        return "-"
    return f"{a.wall / b.wall:.2f} x ({b.wall / a.wall:.2f} x as fast)"


def report(pupils: int, schools: int, found: dict[str, Measured], note: str) -> str:
    lines = [
        f"{pupils} pupils in {schools} schools, every shipped agreement; {note}",
        "",
        f"{'measurement':<40}{'CPU s':>10}{'wall s':>10}{'pupils/CPU s':>14}"
        f"{'pupils/s':>10}{'peak MB':>9}{'from MB':>9}",
    ]
    for part in PARTS:
        m = found.get(part)
        if m is None:
            continue
        rates = m.complete and part != "empty"
        rate = f"{pupils / m.cpu:>14.0f}" if rates and m.cpu else f"{'-':>14}"
        wall_rate = f"{pupils / m.wall:>10.0f}" if rates and m.wall else f"{'-':>10}"
        cpu = f"{m.cpu:>10.2f}" if m.finished else f"{'-':>10}"
        start = f"{m.result['start_rss_mb']:>9.0f}" if "start_rss_mb" in m.result else f"{'-':>9}"
        lines.append(
            f"{LABELS[part]:<40}{cpu}{m.wall:>10.2f}{rate}{wall_rate}{m.peak:>9.0f}{start}"
        )
        if m.partial:
            lines.append(f"    PARTIAL: {m.partial}")
        if not m.finished:
            reason = m.stopped or f"exited {m.exit_code}"
            lines.append(f"    INCOMPLETE: {reason}; last progress: {m.progress or '-'}")
            lines.append(
                f"    at the stop: {m.elapsed_s:.0f} s wall, {m.process_cpu_s:.0f} s CPU of the "
                f"process (imports included, its child processes not), peak RSS "
                f"{m.sampled_peak_mb:.0f} MB; published: {m.result.get('files', {})}"
            )
        for label, figures in m.result.get("split", {}).items():
            files = f"  ({figures['files']} files)" if "files" in figures else ""
            lines.append(
                f"    {label:<36}{figures['cpu_s']:>10.2f}{figures['wall_s']:>10.2f}{files}"
            )
        if m.result.get("cpu_children_s"):
            which = "Prefect API server" + (", Dask workers" if part in DASK_WORKERS else "")
            lines.append(
                f"    of which child processes ({which}): "
                f"{m.result['cpu_children_s']:.2f} s CPU, "
                f"peak {m.result.get('children_peak_rss_mb', 0):.0f} MB"
            )
        workers = m.result.get("dask_workers")
        if workers:
            apart = "" if workers.get("pids_apart") else " (NOT apart from the flow's process)"
            lines.append(
                f"    of which Dask workers ({workers['count']} "
                f"process{'es' if workers['count'] != 1 else ''}{apart}): "
                f"{workers['cpu_s']:.2f} s CPU with their start-up, the largest peak "
                f"{workers['peak_rss_mb']:.0f} MB"
            )
        if m.result.get("outcomes"):
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(m.result["outcomes"].items()))
            lines.append(f"    outcomes: {outcomes}; files: {m.result.get('files', {})}")
    plain, stages, floor, empty, flow, dask1, dask2 = (found.get(p) for p in PARTS)
    lines += [
        "",
        "ratios of CPU seconds, measured in this run:",
        f"  stages / plain script                {_ratio(stages, plain)}",
        f"  stages / I/O floor                   {_ratio(stages, floor)}",
        f"  plain script / I/O floor             {_ratio(plain, floor)}",
        f"  flow / I/O floor                     {_ratio(flow, floor)}",
        f"  (flow - empty flow) / I/O floor      {_ratio(flow, floor, minus=empty)}",
        f"  flow / stages                        {_ratio(flow, stages)}",
    ]
    if dask1 is not None or dask2 is not None:
        lines += [
            "",
            "Dask (the flow on a local cluster; CPU includes the worker processes):",
            f"  Dask 2 workers / 1 worker (wall)     {_wall_ratio(dask2, dask1)}",
            f"  Dask 2 workers / 1 worker (CPU)      {_ratio(dask2, dask1)}",
            f"  Dask 2 workers / threads flow (wall) {_wall_ratio(dask2, flow)}",
            f"  Dask 2 workers / threads flow (CPU)  {_ratio(dask2, flow)}",
        ]
    if floor is not None and floor.complete:
        split = floor.result.get("split", {})
        old = sum(
            split.get(k, {}).get("cpu_s", 0.0)
            for k in ("read: EDEXML parse", "read: consents", "write: CSV", "write: Parquet")
        )
        lines.append(
            f"  floor without EDEXML, OneRoster and manifests (the old floor): {old:.2f} s CPU"
        )
    for part in ("stages", "flow"):  # a Dask worker's peak is not in its flow's
        m = found.get(part)
        if m is not None and m.peak:
            lines.append(f"  peak RSS per pupil, {part:<7}{m.peak * 1024 * 1024 / pupils:>10.0f} B")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=10_000)
    parser.add_argument("--schools", type=int, default=25)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--parts",
        default=",".join(DEFAULT_PARTS),
        help=f"comma-separated, from {', '.join(PARTS)} (floor needs stages; "
        f"default {','.join(DEFAULT_PARTS)})",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each part; the median")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="schools per batch, for the stages and (as SLUIS_BATCH_SIZE) the flows",
    )
    parser.add_argument("--time-limit", type=float, default=60, help="minutes per measurement")
    parser.add_argument("--rss-limit", type=float, default=12_000, help="MB per measurement")
    parser.add_argument("--cache", type=Path, default=None, help="sample cache folder")
    parser.add_argument("--scratch", type=Path, default=None, help="where runs write")
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--keep", action="store_true", help="keep the drops and scratch")
    parser.add_argument("--from-json", type=Path, default=None, help="print a saved run again")
    args = parser.parse_args()
    args.parts = [p for p in PARTS if p in args.parts.split(",")]
    if args.from_json:
        saved = json.loads(args.from_json.read_text("utf-8"))
        print(report(saved["pupils"], saved["schools"], _load(saved), saved.get("note", "")))
        return

    from samples import DEFAULT_CACHE, sample

    cache = args.cache or DEFAULT_CACHE
    found_sample = sample(args.pupils, args.schools, seed=args.seed, cache=cache)
    where = "reused" if found_sample.reused else "generated"
    note = f"sample {where} ({found_sample.generated_cpu_s:.0f} s CPU to generate, not timed here)"
    scratch = Path(tempfile.mkdtemp(prefix="sluis-bench-run-", dir=args.scratch))
    try:
        found = measure_all(args, found_sample.source, scratch)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print(f"kept {scratch}", file=sys.stderr)
    if args.repeat > 1:
        note += f"; median of {args.repeat} runs by CPU"
    print(report(found_sample.pupils, args.schools, found, note))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "pupils": found_sample.pupils,
                    "schools": args.schools,
                    "source": str(found_sample.source),
                    "repeat": args.repeat,
                    "note": note,
                    "measurements": {
                        part: {
                            **m.result,
                            "complete": m.complete,
                            "stopped": m.stopped,
                            "exit_code": m.exit_code,
                            "process_cpu_s": m.process_cpu_s,
                            "process_peak_mb": m.process_peak_mb,
                            "elapsed_s": m.elapsed_s,
                            "sampled_peak_mb": m.sampled_peak_mb,
                            "progress": m.progress,
                            "partial": m.partial,
                        }
                        for part, m in found.items()
                    },
                },
                indent=2,
            ),
            "utf-8",
        )


if __name__ == "__main__":
    main()
