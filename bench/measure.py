"""One measurement in a process of its own, as bench/run.py starts it (not run by hand).

    python bench/measure.py PART SPEC_JSON

PART is plain, stages, floor, flow, dask1, dask2 or empty (an empty Prefect flow:
Prefect's fixed cost); dask1 and dask2 are the flow with `--task-runner dask` on a local
cluster of 1 and 2 worker processes (SLUIS_DASK_WORKERS). The process first imports what
PART needs, then resets its peak RSS (Linux clear_refs) and reads its CPU clock: the
figures cover the measured part only, not the imports. CPU is user + system of every
thread, plus that of child processes (the Prefect API server a flow starts, and a local
Dask cluster's worker processes, their start-up included), whether they have ended or are
still running. The peak RSS is this process's; each Dask worker's is reported apart. The
result goes to SPEC["out"]/result.json, progress lines to SPEC["out"]/progress.txt.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

_TICK = os.sysconf("SC_CLK_TCK")
MEASURING = "measuring from here"


def _status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM of a process in KB (empty when it is gone)."""
    found = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    found[line[:5]] = int(line.split()[1])
    except OSError:
        pass
    return found


def reset_peak() -> bool:
    """Start the peak RSS afresh from the current RSS; False where the kernel does not allow."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def _descendants() -> list[tuple[int, float]]:
    """Live descendant processes and the CPU seconds each has used (and reaped) so far."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state, ppid, ... utime (14th field), stime, cutime, cstime.
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = sum(int(v) for v in fields[11:15]) / _TICK
    mine, todo = [], [os.getpid()]
    while todo:
        parent = todo.pop()
        for pid, ppid in parents.items():
            if ppid == parent:
                mine.append((pid, cpu[pid]))
                todo.append(pid)
    return mine


class Progress:
    def __init__(self, out: Path) -> None:
        self.path = out / "progress.txt"

    def __call__(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as progress:
            progress.write(f"{time.strftime('%H:%M:%S')} {line}\n")


class Mark:
    """CPU and wall clock from the start of the measured part."""

    def __init__(self, progress: Progress) -> None:
        # bench/spy.py attaches py-spy when it reads this line.
        progress(f"{MEASURING} (pid {os.getpid()})")
        self.peak_reset = reset_peak()
        self.start_rss_kb = _status().get("VmRSS", 0)
        self.times = os.times()
        self.wall = time.perf_counter()

    def result(self) -> dict[str, Any]:
        now = os.times()
        wall = time.perf_counter() - self.wall
        own = (now.user - self.times.user) + (now.system - self.times.system)
        reaped = (now.children_user - self.times.children_user) + (
            now.children_system - self.times.children_system
        )
        live = _descendants()
        status = _status()
        return {
            "cpu_s": own + reaped + sum(c for _, c in live),
            "cpu_own_s": own,
            "cpu_children_s": reaped + sum(c for _, c in live),
            "wall_s": wall,
            "peak_rss_mb": status.get("VmHWM", 0) / 1024,
            "start_rss_mb": self.start_rss_kb / 1024,
            "peak_reset": self.peak_reset,
            "children_peak_rss_mb": max(
                (_status(pid).get("VmHWM", 0) / 1024 for pid, _ in live), default=0.0
            ),
        }


def _timed(clock: Any, label: str, function: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with clock.timing(label):
            return function(*args, **kwargs)

    return wrapper


def run_stages(
    source: Path,
    drop: Path,
    *,
    batch_size: int | None = None,
    publish: Any = None,
    progress: Any = None,
) -> dict[str, int]:
    """Sluis' own work without Prefect: extract, validate, policy, render, publish.

    As the flow does: every school is prepared into a staging folder first (its frames in
    Arrow IPC files beside `drop`), then batch by batch each batch is read back from
    staging once and delivered to every shipped agreement, into a folder drop (no archive
    copy, no lineage).

    Returns:
        The number of outcomes by status.
    """
    import pipelines.delivery as delivery
    import pipelines.work as work
    from connectors.drops.folder import FolderDrop
    from contracts.agreements import BUNDLED_AGREEMENTS, load_agreements
    from pipelines.plan import batches, discover_schools
    from pipelines.settings import Settings
    from policy.batch import SchoolBatch

    note = progress or (lambda line: None)
    today = date.today()
    found = discover_schools(source, None, "toestemmingen.csv")
    agreements = load_agreements(BUNDLED_AGREEMENTS)
    root = drop.parent / "staging-root"
    root.mkdir(mode=0o700, parents=True)
    prepared = []
    for number, batch in enumerate(batches(found, batch_size or Settings().batch_size), 1):
        prepared.append(
            work.stage_schools(
                batch,
                today=today,
                folder=root / "bench" / f"batch-{number:05d}",
                root=root,
                agreements=[loaded.agreement for loaded in agreements],
            )
        )
        note(f"prepared batch {number}, {sum(len(b) for b in prepared)} schools")
    drop.mkdir(parents=True)
    target = FolderDrop(drop)
    if publish is not None:
        target.publish = publish(target.publish)  # type: ignore[method-assign]
    secret = b"benchmark-secret-0123456789abcdef"
    created = datetime.now(UTC).replace(microsecond=0)
    statuses: dict[str, int] = {}
    # Batch by batch, every agreement in turn, each batch read from staging once: as the
    # flow's deliver tasks do (pipelines/steps.py, pipelines/tasks.py).
    for number, batch in enumerate(prepared, start=1):
        # Shared by the batch's agreements, as pipelines.tasks._batch shares it.
        schools = SchoolBatch([school.load() for school in batch])
        for loaded in agreements:
            outcomes = delivery.deliver_schools(
                schools,
                loaded,
                run_id="00000000-bench",
                created_at=created,
                secret=secret,
                targets=delivery.DeliveryTargets(drop=target),
                membership_secret=secret,
            )
            for outcome in outcomes:
                statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
        note(f"delivered batch {number}/{len(prepared)} to {len(agreements)} suppliers")
    return statuses


# The stage entry points timed apart (module attributes the stages call through).
_APPLY = "policy: apply agreement"
_RENDER = "render (formats, groups, teachers)"
_PUBLISH = "publish (folder drop)"
_STAGE = "staging: write"
_LOAD = "staging: read back"
_GAPS = "format gaps (report)"


def measure_stages(spec: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Sluis' stages, timed per stage by wrapping their entry points."""
    from floor import Clock

    import pipelines.delivery as delivery
    import pipelines.work as work
    from contracts.staged import StagedSchool

    clock = Clock()
    prepare, deliver = work.prepare_schools, delivery.deliver_schools
    work.stage_school = _timed(clock, _STAGE, work.stage_school)
    work.format_gaps_per_school = _timed(clock, _GAPS, work.format_gaps_per_school)
    StagedSchool.load = _timed(clock, _LOAD, StagedSchool.load)  # type: ignore[method-assign]
    work.prepare_schools = _timed(clock, "extract + validate", prepare)
    work.validate_schools = _timed(clock, "validate", work.validate_schools)
    delivery.deliver_schools = _timed(clock, "deliver", deliver)
    delivery.apply_agreement_batch = _timed(clock, _APPLY, delivery.apply_agreement_batch)
    delivery._render = _timed(clock, _RENDER, delivery._render)
    mark = Mark(progress)
    statuses = run_stages(
        Path(spec["source"]),
        Path(spec["drop"]),
        batch_size=spec.get("batch_size"),
        publish=lambda method: _timed(clock, _PUBLISH, method),
        progress=progress,
    )
    result = mark.result()

    def left(total: str, *parts: str) -> dict[str, float]:
        return {
            "cpu_s": clock.cpu[total] - sum(clock.cpu[p] for p in parts),
            "wall_s": clock.wall[total] - sum(clock.wall[p] for p in parts),
        }

    def own(label: str) -> dict[str, float]:
        return {"cpu_s": clock.cpu[label], "wall_s": clock.wall[label]}

    result["split"] = {
        "extract (sources, consents)": left("extract + validate", "validate"),
        "validate (contracts)": own("validate"),
        _APPLY: own(_APPLY),
        "policy: compare, delta, manifest": left("deliver", _APPLY, _RENDER, _PUBLISH),
        _RENDER: own(_RENDER),
        _PUBLISH: own(_PUBLISH),
        _STAGE: own(_STAGE),
        _LOAD: own(_LOAD),
        _GAPS: own(_GAPS),
    }
    result["outcomes"] = statuses
    return result


def measure_floor(spec: dict[str, Any], progress: Progress) -> dict[str, Any]:
    from floor import Clock, read_inputs, write_outputs

    clock = Clock()
    mark = Mark(progress)
    read = read_inputs(Path(spec["source"]), clock)
    progress(f"read {read} input files")
    written = write_outputs(Path(spec["drop"]), Path(spec["scratch"]), clock)
    progress(f"wrote {written} output files")
    result = mark.result()
    # Only the timed reading and writing count, not decoding the published files first.
    result["cpu_s"] = sum(clock.cpu.values())
    result["wall_s"] = sum(clock.wall.values())
    result["split"] = {
        label: {"cpu_s": clock.cpu[label], "wall_s": clock.wall[label], "files": clock.files[label]}
        for label in sorted(clock.cpu)
    }
    return result


def measure_plain(spec: dict[str, Any], progress: Progress) -> dict[str, Any]:
    import plain

    mark = Mark(progress)
    pupils = plain.run(Path(spec["source"]), Path(spec["drop"]))
    progress(f"plain: {pupils} pupils read")
    return mark.result()


def measure_flow(spec: dict[str, Any], progress: Progress) -> dict[str, Any]:
    from pipelines.cli import run_sync
    from pipelines.flows import SyncRequest

    if spec.get("batch_size"):  # read by the run's settings
        os.environ["SLUIS_BATCH_SIZE"] = str(spec["batch_size"])
    request = SyncRequest(
        source=spec["source"], drop=spec["drop"], state=spec["state"], trigger="cli"
    )
    mark = Mark(progress)
    summary = run_sync(request)
    result = mark.result()
    statuses: dict[str, int] = {}
    for row in summary["rows"]:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    result["outcomes"] = statuses
    return result


def _own_figures() -> dict[str, float]:
    """CPU seconds (since the process started) and peak RSS of the process it runs in."""
    times = os.times()
    return {
        "cpu_s": times.user + times.system,
        "peak_rss_mb": _status().get("VmHWM", 0) / 1024,
        "pid": os.getpid(),
    }


def measure_dask(spec: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """The flow as `sluis run --task-runner dask` runs it, SPEC["workers"] worker processes.

    The workers are child processes of this one, so their CPU is in the flow's figure as the
    Prefect server's is. Once every task has ended (when the flow starts recording), each
    worker is asked for its own CPU and peak RSS, reported apart.
    """
    # Read by the run's settings, as the CLI's --task-runner dask sets it.
    os.environ["SLUIS_TASK_RUNNER"] = "dask"
    os.environ["SLUIS_DASK_WORKERS"] = str(spec["workers"])
    from prefect.context import FlowRunContext

    from pipelines import steps

    workers: dict[str, dict[str, float]] = {}
    record = steps.record

    def recording(*args: Any, **kwargs: Any) -> Any:
        context = FlowRunContext.get()
        runner = getattr(context, "task_runner", None)
        client = getattr(runner, "client", None)
        if client is not None:
            workers.update(client.run(_own_figures))
        return record(*args, **kwargs)

    steps.record = recording
    result = measure_flow(spec, progress)
    result["dask_workers"] = {
        "count": len(workers),
        "cpu_s": sum(w["cpu_s"] for w in workers.values()),
        "peak_rss_mb": max((w["peak_rss_mb"] for w in workers.values()), default=0.0),
        "pids_apart": all(int(w["pid"]) != os.getpid() for w in workers.values()),
    }
    return result


def measure_empty(spec: dict[str, Any], progress: Progress) -> dict[str, Any]:
    from prefect import flow

    @flow(name="empty", persist_result=False)
    def empty() -> None:
        return None

    mark = Mark(progress)
    empty()
    return mark.result()


PARTS = {
    "plain": measure_plain,
    "stages": measure_stages,
    "floor": measure_floor,
    "flow": measure_flow,
    "dask1": measure_dask,
    "dask2": measure_dask,
    "empty": measure_empty,
}


def main() -> None:
    part, spec = sys.argv[1], json.loads(sys.argv[2])
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    result = PARTS[part](spec, Progress(out))
    result["part"] = part
    staged = out / ".result.json"
    staged.write_text(json.dumps(result, indent=2), "utf-8")
    staged.replace(out / "result.json")


if __name__ == "__main__":
    main()
