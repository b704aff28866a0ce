"""The isin hot spot of issue 12: pandas' Series.isin against policy.isin, alone and in diff.

    nice -n 10 .venv/bin/python bench/isin.py --calls 2000 --pupils 286

One school's size (2M pupils in 7,000 schools is 286 per school), as delta.diff and
structure._group_keys see it once per school and supplier. `diff` is also timed with
Series.isin put back in its place, which is main's diff. CPU seconds, best of --repeat.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def best(repeat: int, calls: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(calls):
            work()
        times.append(time.process_time() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--pupils", type=int, default=286)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import pandas as pd

    import policy.delta
    from policy.isin import isin

    n = args.pupils
    ids = pd.Series([f"{i:064x}" for i in range(n)], dtype="str")
    rows = pd.Series([f"r{i}" for i in range(n)], dtype="str")
    # The supplier holds most of them, plus a few who left.
    held = pd.Series([f"{i:064x}" for i in range(n // 20, n + n // 20)], dtype="str")
    state = pd.DataFrame({"pupil_hash": held, "row_hash": rows}, dtype="str")

    def series_isin(values: pd.Series, candidates: pd.Series) -> pd.Series:
        return values.isin(candidates)

    def main_diff() -> object:
        policy.delta.isin = series_isin  # type: ignore[assignment]
        try:
            return policy.delta.diff(ids, rows, state)
        finally:
            policy.delta.isin = isin

    rows_out = [
        ("Series.isin (main)", best(args.repeat, args.calls, lambda: held.isin(ids))),
        ("policy.isin", best(args.repeat, args.calls, lambda: isin(held, ids))),
        ("delta.diff with Series.isin (main)", best(args.repeat, args.calls, main_diff)),
        (
            "delta.diff with policy.isin",
            best(args.repeat, args.calls, lambda: policy.delta.diff(ids, rows, state)),
        ),
    ]
    print(f"{args.calls} calls, {n} candidates each, best of {args.repeat}:")
    for name, seconds in rows_out:
        print(f"  {name:<38}{seconds:8.2f} s CPU")


if __name__ == "__main__":
    main()
