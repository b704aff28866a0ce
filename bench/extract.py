"""Extraction throughput: EDEXML and CSV readers next to the plainest read of the same file.

    python bench/extract.py --pupils 200000

The floor for EDEXML is lxml's iterparse walking every element and doing nothing else; for
CSV it is pyarrow's CSV reader. Each is measured in the same process on the same file, best
of --repeat runs. A script, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def best(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def iterparse_floor(path: Path) -> None:
    from lxml import etree

    for _, element in etree.iterparse(
        str(path), events=("end",), resolve_entities=False, no_network=True, load_dtd=False
    ):
        if element.tag == "leerling":
            element.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import pyarrow.csv as pacsv
    from source_writers import write_parnassys_csv

    from connectors.sources.csv_export import CsvExportSource
    from connectors.sources.edexml import EdexmlSource
    from connectors.synthetic import write_samples

    scratch = Path(tempfile.mkdtemp(prefix="sluis-extract-"))
    [school] = write_samples(scratch, schools=1, pupils_per_school=args.pupils, seed=11)
    edexml = school / "EDEX.XML"
    export = EdexmlSource().extract(edexml)
    csv_path = scratch / "overzicht.csv"
    write_parnassys_csv(export, csv_path)
    print(
        f"{args.pupils} pupils: EDEX.XML {edexml.stat().st_size / 1e6:.1f} MB, "
        f"CSV {csv_path.stat().st_size / 1e6:.1f} MB"
    )

    rows = [
        (
            "EDEXML",
            best(args.repeat, lambda: EdexmlSource().extract(edexml)),
            best(args.repeat, lambda: iterparse_floor(edexml)),
            "lxml iterparse, no work",
        ),
        (
            "CSV",
            best(args.repeat, lambda: CsvExportSource().extract(csv_path)),
            best(
                args.repeat,
                lambda: pacsv.read_csv(csv_path, parse_options=pacsv.ParseOptions(delimiter=";")),
            ),
            "pyarrow read_csv",
        ),
    ]
    for name, sluis_s, floor_s, floor_name in rows:
        print(
            f"{name:7s} Sluis {sluis_s:6.2f} s ({args.pupils / sluis_s:9.0f} pupils/s)   "
            f"floor {floor_s:6.2f} s ({floor_name})   ratio {sluis_s / floor_s:5.1f}x"
        )


if __name__ == "__main__":
    main()
