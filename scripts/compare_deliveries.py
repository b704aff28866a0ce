"""Check that two checkouts of Sluis deliver the same bytes from the same exports.

    .venv/bin/python scripts/compare_deliveries.py --before /tmp/main-copy --after . \
        --source data/samples --source /tmp/sluis-bench/s25-p400-seed7-gen<hash>/source

For each source, each checkout runs Sluis' stages (extract, validate, every shipped
agreement's policy, render, publish into a folder drop, as bench/measure.py does) in a
process of its own, with the same run id, creation time, run date and secrets. Then every
delivered data file is compared byte for byte, and every manifest field except the times
and run ids. Exit 0 when everything is the same, 1 with the differing paths (never their
contents) otherwise. A tool for performance work, not a test: the tests pin behaviour,
this pins the bytes of a whole run across a change.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# Manifest fields that differ between any two runs by design.
_VOLATILE = frozenset({"created_at", "run_id", "published_at", "started_at", "ended_at"})

# Runs inside the checkout (its own packages first on sys.path), not in this process.
_RUNNER = """
import json, sys
from datetime import UTC, date, datetime
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import pipelines.delivery as delivery
import pipelines.work as work
from connectors.drops.folder import FolderDrop
from contracts.agreements import BUNDLED_AGREEMENTS, load_agreements
from pipelines.plan import batches, discover_schools

source, drop, batch_size = Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
today = date(2026, 11, 2)
created = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
secret = b"compare-deliveries-0123456789abcdef"
found = discover_schools(source, None, "toestemmingen.csv")
prepared = [work.prepare_schools(b, today=today) for b in batches(found, batch_size)]
target = FolderDrop(drop)
statuses = {}
for loaded in load_agreements(BUNDLED_AGREEMENTS):
    for batch in prepared:
        for outcome in delivery.deliver_schools(
            batch, loaded, run_id="00000000-compare", created_at=created, secret=secret,
            targets=delivery.DeliveryTargets(drop=target), membership_secret=secret,
        ):
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
print(json.dumps(statuses, sort_keys=True))
"""


def _run(checkout: Path, source: Path, drop: Path, batch_size: int) -> str:
    drop.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(checkout), str(source), str(drop), str(batch_size)],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["(no message)"]
        raise SystemExit(f"{checkout}: the stages failed on {source}: {tail[0]}")
    return done.stdout.strip()


def _without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def _files(root: Path) -> dict[str, Path]:
    # Delivery folders are named by run and time; compare by supplier, school and file name.
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(root).parts
        manifest = json.loads((path.parent / "manifest.json").read_text(encoding="utf-8"))
        found[f"{relative[0]}/{manifest.get('school')}/{path.name}"] = path
    return found


def compare(before: Path, after: Path) -> list[str]:
    """Paths (never contents) that differ between two drops."""
    one, two = _files(before), _files(after)
    problems = [f"only before: {k}" for k in sorted(one.keys() - two.keys())]
    problems += [f"only after: {k}" for k in sorted(two.keys() - one.keys())]
    for key in sorted(one.keys() & two.keys()):
        a, b = one[key], two[key]
        if a.name == "manifest.json":
            same = _without_volatile(json.loads(a.read_text("utf-8"))) == _without_volatile(
                json.loads(b.read_text("utf-8"))
            )
        else:
            same = a.read_bytes() == b.read_bytes()
        if not same:
            problems.append(f"differs: {key}")
    return problems


def main() -> None:
    """Run both checkouts on every source and compare their drops."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout before the change")
    parser.add_argument("--after", type=Path, required=True, help="checkout after the change")
    parser.add_argument("--source", type=Path, action="append", required=True)
    parser.add_argument("--batch-size", type=int, default=25)
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory(prefix="sluis-compare-") as scratch:
        for number, source in enumerate(args.source):
            drops = [Path(scratch) / str(number) / side for side in ("before", "after")]
            statuses = [
                _run(checkout.resolve(), source.resolve(), drop, args.batch_size)
                for checkout, drop in zip((args.before, args.after), drops, strict=True)
            ]
            problems = compare(*drops)
            if statuses[0] != statuses[1]:
                problems.insert(0, f"outcomes differ: {statuses[0]} against {statuses[1]}")
            files = len(_files(drops[0]))
            verdict = "the same" if not problems else f"{len(problems)} differences"
            sys.stdout.write(f"{source}: {files} files, outcomes {statuses[0]}: {verdict}\n")
            for problem in problems:
                sys.stdout.write(f"  {problem}\n")
            failed |= bool(problems)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
