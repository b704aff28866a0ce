"""Benchmark: time `sync` end to end on N synthetic pupils, next to the I/O floor.

    python bench/run.py --pupils 10000 --schools 25
    python bench/run.py --pupils 200000 --schools 500

Prints, for one run: pupils per second of the whole flow (Prefect included), the same for
Sluis' own stages run without Prefect, peak RSS, and the I/O floor measured in the same
process: a plain lxml parse of every export plus a pyarrow read of every consent file, and a
pyarrow write of the same output tables. A script, not a test: timings are never asserted.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def io_floor(source: Path, drop: Path, scratch: Path) -> tuple[float, float]:
    """Seconds to read the inputs and to write the same outputs, with no logic at all."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    from lxml import etree

    started = time.perf_counter()
    for export in sorted(source.glob("*/EDEX.XML")):
        etree.parse(str(export))
    for consents in sorted(source.glob("*/toestemmingen.csv")):
        pacsv.read_csv(consents, parse_options=pacsv.ParseOptions(delimiter=";"))
    read_s = time.perf_counter() - started

    tables = []
    for path in sorted(drop.rglob("*.csv")):
        tables.append(pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=";")))
    for path in sorted(drop.rglob("*.parquet")):
        tables.append(pq.read_table(path))
    scratch.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for number, table in enumerate(tables):
        pacsv.write_csv(table, scratch / f"{number}.csv")
        pq.write_table(table, scratch / f"{number}.parquet", compression="zstd")
    write_s = time.perf_counter() - started
    return read_s, write_s


def stages_without_prefect(source: Path, drop: Path) -> float:
    """Sluis' own work (extract, validate, policy, render, publish) without Prefect."""
    from connectors.drops.folder import FolderDrop
    from contracts.agreements import BUNDLED_AGREEMENTS, load_agreements
    from pipelines.delivery import DeliveryTargets, deliver_schools
    from pipelines.plan import batches, discover_schools
    from pipelines.settings import Settings
    from pipelines.work import prepare_schools

    started = time.perf_counter()
    today = date.today()
    found = discover_schools(source, None, "toestemmingen.csv")
    prepared = [prepare_schools(b, today=today) for b in batches(found, Settings().batch_size)]
    drop.mkdir()
    target = FolderDrop(drop)
    secret = b"benchmark-secret-0123456789abcdef"
    created = datetime.now(UTC).replace(microsecond=0)
    for loaded in load_agreements(BUNDLED_AGREEMENTS):
        for batch in prepared:
            deliver_schools(
                batch,
                loaded,
                run_id="00000000-bench",
                created_at=created,
                secret=secret,
                targets=DeliveryTargets(drop=target),
                membership_secret=secret,
            )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=10_000)
    parser.add_argument("--schools", type=int, default=25)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()

    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    scratch = Path(tempfile.mkdtemp(prefix="sluis-bench-"))
    os.environ.setdefault("PREFECT_HOME", str(scratch / "prefect"))
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    from connectors.synthetic import write_samples

    source = scratch / "source"
    per_school = max(1, args.pupils // args.schools)
    started = time.perf_counter()
    write_samples(source, schools=args.schools, pupils_per_school=per_school, seed=args.seed)
    pupils = per_school * args.schools
    print(
        f"generated {pupils} pupils in {args.schools} schools "
        f"({time.perf_counter() - started:.1f} s, not timed below)"
    )

    own_s = stages_without_prefect(source, scratch / "drop-direct")
    own_rss = peak_rss_mb()

    from pipelines.cli import run_sync
    from pipelines.flows import SyncRequest

    request = SyncRequest(
        source=str(source),
        drop=str(scratch / "drop"),
        state=str(scratch / "state"),
        trigger="cli",
    )
    started = time.perf_counter()
    run_sync(request)
    flow_s = time.perf_counter() - started

    read_s, write_s = io_floor(source, scratch / "drop", scratch / "floor")
    floor_s = read_s + write_s
    print(f"pupils                      {pupils}")
    print(
        f"sync flow, end to end       {flow_s:8.2f} s  {pupils / flow_s:10.0f} pupils/s"
        "  (includes Prefect's ephemeral API start-up)"
    )
    print(f"Sluis stages, no Prefect    {own_s:8.2f} s  {pupils / own_s:10.0f} pupils/s")
    print(
        f"I/O floor (read + write)    {floor_s:8.2f} s  (read {read_s:.2f} s, "
        f"write {write_s:.2f} s)"
    )
    print(f"stages / I/O floor          {own_s / floor_s:8.1f} x")
    print(
        f"peak RSS                    {peak_rss_mb():8.0f} MB "
        f"(after stages alone: {own_rss:.0f} MB)"
    )
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        print(f"kept {scratch}")


if __name__ == "__main__":
    main()
