"""Synthetic exports for the benchmarks, generated once per set of parameters and reused.

    python bench/samples.py --pupils 2000000 --schools 7000

The cache lives outside the repository (default <temp dir>/sluis-bench, e.g.
/tmp/sluis-bench, or SLUIS_BENCH_CACHE),
one folder per parameter set and generator version: a change to connectors/synthetic*.py
(the generator and the modules it is split into) gives a new folder instead of silently
reusing old data. A folder counts only once its `complete.json` is written, so an
interrupted generation is redone, never reused.
Generation is one school at a time (about 20 MB of memory at any scale); at 2M pupils it
takes a few minutes of CPU, so the benchmarks pay it once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT_CACHE = Path(
    os.environ.get("SLUIS_BENCH_CACHE") or Path(tempfile.gettempdir(), "sluis-bench")
)
# The generator and the modules it is split into: a change to any of them is a new version.
_GENERATOR = sorted((REPO / "connectors").glob("synthetic*.py"))


@dataclass(frozen=True)
class Sample:
    """A generated source folder and what it holds."""

    source: Path
    schools: int
    pupils_per_school: int
    seed: int
    generated_cpu_s: float
    generated_wall_s: float
    reused: bool

    @property
    def pupils(self) -> int:
        return self.schools * self.pupils_per_school


def _folder(cache: Path, schools: int, per_school: int, seed: int) -> Path:
    digest = hashlib.sha256()
    for path in _GENERATOR:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    version = digest.hexdigest()[:10]
    return cache / f"s{schools}-p{per_school}-seed{seed}-gen{version}"


def sample(
    pupils: int, schools: int, *, seed: int = 7, cache: Path = DEFAULT_CACHE, quiet: bool = False
) -> Sample:
    """The cached sample for these parameters, generated first when missing.

    `pupils` is divided evenly over the schools (rounded down), as `sluis sample` does.
    """
    from connectors.synthetic import write_samples

    per_school = max(1, pupils // schools)
    folder = _folder(cache, schools, per_school, seed)
    marker = folder / "complete.json"
    if marker.is_file():
        done = json.loads(marker.read_text("utf-8"))
        return Sample(
            folder / "source",
            schools,
            per_school,
            seed,
            done["cpu_s"],
            done["wall_s"],
            reused=True,
        )
    if folder.exists():
        shutil.rmtree(folder)  # an interrupted generation: start again
    folder.mkdir(parents=True)
    if not quiet:
        print(f"generating {schools * per_school} pupils in {schools} schools into {folder}")
    cpu, wall = time.process_time(), time.perf_counter()
    write_samples(folder / "source", schools=schools, pupils_per_school=per_school, seed=seed)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    marker.write_text(json.dumps({"cpu_s": round(cpu, 2), "wall_s": round(wall, 2)}), "utf-8")
    return Sample(folder / "source", schools, per_school, seed, cpu, wall, reused=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=10_000)
    parser.add_argument("--schools", type=int, default=25)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    import resource

    found = sample(args.pupils, args.schools, seed=args.seed, cache=args.cache)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    state = "reused" if found.reused else "generated"
    print(
        f"{state} {found.source}: {found.pupils} pupils in {found.schools} schools; "
        f"generation took {found.generated_cpu_s:.1f} s CPU, {found.generated_wall_s:.1f} s wall"
        + ("" if found.reused else f", peak RSS {peak:.0f} MB")
    )


if __name__ == "__main__":
    main()
