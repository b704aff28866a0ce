"""The way a school is protected and recovers: hold on mass change, approve, re-deliver.

One scenario on the bundled samples, through the real CLI (Prefect's ephemeral API for
the runs): deliver, run again (nothing new), lose half of one school's pupils (held,
exit 3), approve (published, recorded with who), re-deliver (the same bytes again).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sluis_cli import halve, run_args
from sluis_cli import sluis as run_sluis

pytestmark = pytest.mark.prefect

REPO = Path(__file__).resolve().parents[2]


def sluis(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_sluis(root, *args, state_env=True)


def run_on(root: Path, source: Path) -> subprocess.CompletedProcess[str]:
    return sluis(root, *run_args(root, source))


def run_id_of(result: subprocess.CompletedProcess[str]) -> str:
    line = next(x for x in result.stdout.splitlines() if x.startswith("Run: "))
    return line.removeprefix("Run: ").strip()


def deliveries(root: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(root / "state" / "lineage.db") as db:
        return db.execute(
            "select supplier, school, status from deliveries order by created_at, delivery_id"
        ).fetchall()


def audit(root: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(root / "state" / "lineage.db") as db:
        return db.execute(
            "select actor, action, subject, details from audit_log order by seq"
        ).fetchall()


def drop_folders(root: Path, supplier: str) -> list[Path]:
    return sorted(p.parent for p in (root / "drop" / supplier).glob("*/manifest.json"))


@dataclass
class Scenario:
    root: Path
    results: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    root = tmp_path_factory.mktemp("hold")
    samples = root / "samples"
    shutil.copytree(REPO / "data" / "samples", samples)
    s = Scenario(root)
    s.results["first"] = run_on(root, samples)
    s.results["again"] = run_on(root, samples)
    halve(samples / "53NC" / "EDEX.XML")
    s.results["halved"] = run_on(root, samples)
    return s


def test_the_same_export_twice_delivers_nothing_new_and_says_so(scenario: Scenario) -> None:
    first, again = scenario.results["first"], scenario.results["again"]
    assert first.returncode == 0, first.stderr[-2000:]
    assert again.returncode == 0, again.stderr[-2000:]
    assert "niets verzonden: niets veranderd sinds de vorige levering" in again.stdout
    assert "niets gewijzigd sinds levering" in again.stdout + again.stderr
    statuses = [status for _, _, status in deliveries(scenario.root)]
    per_run = len(statuses) // 3  # three runs, each with a delivery per supplier and school
    assert per_run == 14  # 7 nightly suppliers, 2 schools
    assert statuses[:per_run] == ["delivered"] * per_run
    assert statuses[per_run : 2 * per_run] == ["nothing_to_deliver"] * per_run


def test_half_an_export_is_held_with_exit_3_and_a_clear_message(scenario: Scenario) -> None:
    halved = scenario.results["halved"]
    assert halved.returncode == 3, halved.stderr[-2000:]
    assert "Traceback" not in halved.stdout + halved.stderr
    run_id = run_id_of(halved)
    message = halved.stderr
    assert "levering aan basispoort voor 53NC wacht op akkoord" in message
    assert "leerlingen verwijderd (" in message and "drempel 10%" in message
    assert f"sluis approve {run_id} basispoort" in message
    # Nothing of the held run reached the supplier; the other school was not affected.
    held = [d for d in deliveries(scenario.root)[20:] if d[2] == "held"]
    assert ("basispoort", "53NC", "held") in held
    assert all(school == "53NC" for _, school, _ in held)


def test_approve_publishes_the_held_delivery_and_records_who(scenario: Scenario) -> None:
    run_id = run_id_of(scenario.results["halved"])
    before = drop_folders(scenario.root, "basispoort")
    result = sluis(scenario.root, "approve", run_id, "basispoort", "--door", "ict-coordinator")
    assert result.returncode == 0, result.stderr
    after = drop_folders(scenario.root, "basispoort")
    [new] = sorted(set(after) - set(before))
    manifest = json.loads((new / "manifest.json").read_text())
    assert manifest["run_id"] == run_id and manifest["school"] == "53NC"
    assert manifest["changes"]["removed"] > 0
    entries = [e for e in audit(scenario.root) if e[1] == "delivery_approved"]
    assert [(e[0], e[2]) for e in entries] == [("ict-coordinator", f"basispoort:{new.name}")]
    # Approving twice is refused: nothing is held any more.
    again = sluis(scenario.root, "approve", run_id, "basispoort")
    assert (
        again.returncode == 2 and "houdt niets tegen voor leverancier 'basispoort'" in again.stderr
    )


def test_redeliver_publishes_each_schools_last_delivery_again_unchanged(
    scenario: Scenario,
) -> None:
    before = drop_folders(scenario.root, "basispoort")
    result = sluis(scenario.root, "redeliver", "basispoort", "--door", "ict-coordinator")
    assert result.returncode == 0, result.stderr
    new = sorted(set(drop_folders(scenario.root, "basispoort")) - set(before))
    assert len(new) == 2  # one per school
    for folder in new:
        manifest = json.loads((folder / "manifest.json").read_text())
        mine = [
            p
            for p in before
            if json.loads((p / "manifest.json").read_text())["school"] == manifest["school"]
        ]
        last = max(mine, key=lambda p: json.loads((p / "manifest.json").read_text())["created_at"])
        old_manifest = json.loads((last / "manifest.json").read_text())
        assert manifest["redelivery_of"] == last.name
        assert manifest["files"] == old_manifest["files"]
        for entry in manifest["files"]:
            assert (folder / entry["name"]).read_bytes() == (last / entry["name"]).read_bytes()
        assert manifest["run_id"] != old_manifest["run_id"]
    actions = [(e[0], e[1]) for e in audit(scenario.root)]
    assert actions.count(("ict-coordinator", "redelivery")) == 2


def test_redeliver_of_an_unknown_delivery_names_the_known_ones(scenario: Scenario) -> None:
    result = sluis(scenario.root, "redeliver", "basispoort", "--delivery", "nope")
    assert result.returncode == 2
    assert "kreeg geen levering 'nope'" in result.stderr
    assert "Traceback" not in result.stderr
