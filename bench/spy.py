"""Where the time goes: py-spy on one measurement of bench/run.py, aggregated per place.

    nice -n 10 .venv/bin/python bench/spy.py --pupils 200000 --schools 500 --part flow
    .venv/bin/python bench/spy.py --aggregate /tmp/sluis-spy/flow.raw

Starts the measurement as bench/run.py does (PART is stages or flow), attaches
`py-spy record --idle --threads --format raw` to it once its imports are done, and
aggregates the samples by the innermost frame in Sluis' own packages (connectors,
contracts, policy, lineage, pipelines), as file:line and function. py-spy is not a
dependency of Sluis: `.venv/bin/pip install py-spy` first.

Two tables, both in thread-seconds (samples / rate):

- Sluis' threads, idle included: the samples of the threads that ran a Sluis frame (the
  flow's main thread, the task runner's workers). A thread waiting inside Sluis' code
  counts at the place where it waits (the main thread at `wait(futures)`, for instance);
  one waiting outside it (a worker between tasks) is left out and counted apart; busy
  samples without a Sluis frame (Prefect's task engine) are grouped by thread name.
- Busy, every thread: samples whose innermost frame is not a wait (lock, select, queue,
  join); those without a Sluis frame are grouped by thread name. Then the same busy
  samples by Sluis function including what it calls (record_outcome with the lineage
  writes under it, for instance), as shares of the busy total.

py-spy samples by the clock: on a loaded machine a thread that is ready but not scheduled
counts where it stands, so the shares are of thread-seconds, not of CPU seconds. Samples
without any Python frame (the interpreter shutting down after the measured part) are left
out and counted apart.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")
_OWN = re.compile(r"(?:^|/)((?:connectors|contracts|policy|lineage|pipelines)/[\w/]+\.py)$")
_THREAD = re.compile(r"^thread \((?P<id>[^)]*)\)(?::\s*(?P<name>.*))?$")
# Innermost frames of a thread that waits rather than works (py-spy names a method
# Class.method and a nested function outer.<locals>.inner; the last part is matched).
_WAITS = (
    ("threading.py", ("wait", "_wait_for_tstate_lock", "join", "acquire")),
    ("selectors.py", ("select",)),
    ("queue.py", ("get", "put")),
    ("concurrent/futures/_base.py", ("result", "wait", "as_completed")),
    ("concurrent/futures/thread.py", ("_worker",)),  # an idle worker waits for work here
    ("asyncio/base_events.py", ("_run_once", "run_forever")),
    ("asyncio/runners.py", ("run",)),
    # Prefect's heartbeat thread sleeps between beats (the sleep itself has no frame).
    ("prefect/flow_engine.py", ("heartbeat_loop",)),
)


@dataclass
class Profile:
    """Samples per place, per thread, and which were waits."""

    rate: int
    own_threads: Counter[str] = field(default_factory=Counter)  # place -> samples
    busy: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)  # busy samples under a function
    threads: dict[str, list[int]] = field(default_factory=dict)  # name -> [samples, waits]
    frameless: int = 0  # samples without a Python frame: interpreter start-up or shutdown
    idle_elsewhere: int = 0  # Sluis' threads waiting outside Sluis (a worker between tasks)

    def seconds(self, samples: int) -> float:
        return samples / self.rate


def _waiting(file: str, function: str) -> bool:
    last = function.rsplit(".", 1)[-1]
    return any(file.endswith(name) and last in functions for name, functions in _WAITS)


def aggregate(raw: Path, rate: int) -> Profile:
    """Read py-spy's raw (collapsed stack) output into a Profile."""
    lines = []
    sluis_threads: set[str] = set()
    names: dict[str, str] = {}
    for text in raw.read_text("utf-8", errors="replace").splitlines():
        stack, _, count = text.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        parts = stack.split(";")
        head = _THREAD.match(parts[0])
        thread = head["id"] if head else "?"
        if head and head["name"]:
            names[thread] = head["name"]
        frames = [m for m in (_FRAME.match(p) for p in parts[1:]) if m]
        own = [m for m in frames if _OWN.search(m["file"])]
        if own:
            sluis_threads.add(thread)
        lines.append((thread, frames, own, int(count)))
    profile = Profile(rate)
    for thread, frames, own, count in lines:
        if not frames:
            profile.frameless += count
            continue
        name = names.get(thread, thread)
        place = None
        if own:
            inner = own[-1]
            place = f"{_OWN.search(inner['file'])[1]}:{inner['line']} {inner['function']}"  # type: ignore[index]
        leaf = frames[-1] if frames else None
        waiting = leaf is not None and _waiting(leaf["file"], leaf["function"])
        totals = profile.threads.setdefault(name, [0, 0])
        totals[0] += count
        totals[1] += count if waiting else 0
        if thread in sluis_threads:
            if place is None and waiting:
                profile.idle_elsewhere += count
            else:
                profile.own_threads[place or f"(no Sluis frame, busy) {name}"] += count
        if not waiting:
            profile.busy[place or f"(no Sluis frame) thread {name}"] += count
            callers = {f"{_OWN.search(m['file'])[1]} {m['function']}" for m in own}  # type: ignore[index]
            for caller in callers:
                profile.inclusive[caller] += count
    return profile


def table(
    title: str,
    counts: Counter[str],
    profile: Profile,
    top: int,
    total: int | None = None,
    what: str = "place (innermost Sluis frame)",
) -> str:
    total = total or sum(counts.values())
    rows = [
        f"{title}: {profile.seconds(total):.1f} thread-seconds",
        f"| {what:<70} | {'thread-s':>9} | {'share':>6} |",
        f"|{'-' * 72}|{'-' * 11}|{'-' * 8}|",
    ]
    for place, samples in counts.most_common(top):
        rows.append(
            f"| {place[:70]:<70} | {profile.seconds(samples):>9.1f} | "
            f"{100 * samples / total:>5.1f}% |"
        )
    return "\n".join(rows)


def render(profile: Profile, top: int) -> str:
    threads = sorted(profile.threads.items(), key=lambda item: -item[1][0])
    lines = [
        table("Sluis' threads, idle included", profile.own_threads, profile, top),
        "",
        table("Busy (innermost frame not a wait), every thread", profile.busy, profile, top),
        "",
        table(
            "Busy, by Sluis function with what it calls (shares of the busy total)",
            profile.inclusive,
            profile,
            top + 5,
            total=sum(profile.busy.values()),
            what="Sluis function, with what it calls",
        ),
        "",
        "threads (samples as thread-seconds, of which waiting):",
    ]
    if profile.frameless or profile.idle_elsewhere:
        lines.insert(
            -1,
            f"left out: {profile.seconds(profile.frameless):.1f} thread-seconds without a Python "
            "frame (interpreter shutdown after the measured part), and "
            f"{profile.seconds(profile.idle_elsewhere):.1f} thread-seconds of Sluis' threads "
            "waiting outside Sluis' code (a task worker between tasks)\n",
        )
    for name, (samples, waits) in threads[:12]:
        lines.append(
            f"  {name[:40]:<40} {profile.seconds(samples):>8.1f} s  "
            f"waiting {profile.seconds(waits):>8.1f} s"
        )
    return "\n".join(lines)


def record(args: argparse.Namespace) -> Path:
    """Run the measurement under py-spy; returns the raw output file."""
    from run import run_part
    from samples import DEFAULT_CACHE, sample

    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy not found: .venv/bin/pip install py-spy")
    found = sample(args.pupils, args.schools, seed=args.seed, cache=args.cache or DEFAULT_CACHE)
    out = args.out
    if out.exists():
        shutil.rmtree(out)
    spec = {"source": str(found.source), "out": str(out / args.part), "drop": str(out / "drop")}
    if args.part == "flow":
        spec["state"] = str(out / "state")
    raw = out / f"{args.part}.raw"
    progress = out / args.part / "progress.txt"
    attached: list[subprocess.Popen[bytes]] = []

    def attach() -> None:
        # Attach once the measured part starts, so the imports are not in the profile.
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if progress.is_file():
                for line in progress.read_text("utf-8").splitlines():
                    if "measuring from here (pid " in line:
                        pid = line.rsplit("(pid ", 1)[1].rstrip(")")
                        command = [spy, "record", "--pid", pid, "--idle", "--threads"]
                        command += ["--format", "raw", "--rate", str(args.rate), "-o", str(raw)]
                        log = (out / "py-spy.log").open("wb")
                        attached.append(subprocess.Popen(command, stdout=log, stderr=log))
                        return
            time.sleep(0.2)

    import threading

    watcher = threading.Thread(target=attach, daemon=True)
    watcher.start()
    measured = run_part(
        args.part, spec, time_limit_s=args.time_limit * 60, rss_limit_mb=args.rss_limit
    )
    watcher.join(timeout=5)
    for process in attached:
        process.wait(timeout=120)
    print(
        f"{args.part} at {found.pupils} pupils under py-spy ({args.rate} Hz): "
        f"{measured.cpu:.1f} s CPU, {measured.wall:.1f} s wall"
        + ("" if measured.complete else f" INCOMPLETE: {measured.stopped}")
    )
    (out / "measured.json").write_text(json.dumps(measured.result, indent=2), "utf-8")
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=200_000)
    parser.add_argument("--schools", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--part", choices=("stages", "flow"), default="flow")
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("/tmp/sluis-spy"))  # noqa: S108
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--time-limit", type=float, default=60, help="minutes")
    parser.add_argument("--rss-limit", type=float, default=12_000, help="MB")
    parser.add_argument("--aggregate", type=Path, default=None, help="only aggregate this file")
    args = parser.parse_args()
    raw = args.aggregate or record(args)
    print(render(aggregate(raw, args.rate), args.top))


if __name__ == "__main__":
    main()
