"""End to end: `sluis run` on the bundled samples, then a search for pupil values everywhere.

Runs the real CLI in a subprocess against Prefect's ephemeral API with its own
PREFECT_HOME, so Prefect's own database can be searched too.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from leak_search import files_under, found_in, found_in_file, readable
from lxml import etree
from oneroster_check import check_package, run_reference_validator
from sluis_cli import run_args, sluis

pytestmark = pytest.mark.prefect

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    root: Path
    result: subprocess.CompletedProcess[str]

    @property
    def drop(self) -> Path:
        return self.root / "drop"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def prefect_home(self) -> Path:
        return self.root / "prefect"


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory,
) -> Run:
    root = tmp_path_factory.mktemp("e2e")
    samples = root / "samples"
    shutil.copytree(REPO / "data" / "samples", samples)
    return Run(root, sluis(root, *run_args(root, samples)))


@dataclass(frozen=True)
class PupilValues:
    surnames: set[str]
    bsns: set[str]
    free_texts: set[str]


def sample_values() -> PupilValues:
    """What the samples hold that must not leak, read independently of Sluis' reader."""
    surnames, bsns, texts = set(), set(), set()
    for path in sorted((REPO / "data" / "samples").glob("*/EDEX.XML")):
        tree = etree.parse(str(path))
        # A blank achternaam (a deliberate defect in the samples) is not a value to find.
        surnames |= {
            e.text.strip()
            for e in tree.iterfind(".//leerling/achternaam")
            if e.text and e.text.strip()
        }
        bsns |= {e.text.strip() for e in tree.iterfind(".//leerling/bsn") if e.text}
        texts |= {
            e.text.strip()
            for e in tree.iterfind(".//leerling/toevoegingen//opmerking")
            if e.text and e.text.strip()
        }
    assert surnames and bsns and texts, "the samples must hold names, BSNs and free text"
    return PupilValues(surnames, bsns, texts)


def test_the_run_succeeds_and_delivers_every_supplier_for_every_school(run: Run) -> None:
    assert run.result.returncode == 0, run.result.stderr[-3000:]
    manifests = sorted(run.drop.glob("*/*/manifest.json"))
    assert {(m.parent.parent.name, json.loads(m.read_text())["school"]) for m in manifests} == {
        (supplier, school)
        for supplier in (
            "basispoort",
            "bestuur",
            "schoolwebsite",
            "nieuwsbrief",
            "parro",
            "onderzoek",
            "rekenapp",
        )
        for school in ("27ZX", "53NC")
    }
    for manifest_path in manifests:
        manifest = json.loads(manifest_path.read_text())
        counts = manifest["counts"]
        assert (
            counts["input"]
            == counts["delivered"] + sum(counts["withheld"].values()) + (counts["quarantined"])
        )
        assert counts["input"] == 60
        assert counts["quarantined"] >= 2
        for entry in manifest["files"]:
            data = (manifest_path.parent / entry["name"]).read_bytes()
            import hashlib

            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert "Traceback" not in run.result.stdout + run.result.stderr


def test_no_pupil_value_is_anywhere_outside_the_deliveries_allowed_to_hold_it(run: Run) -> None:
    assert run.result.returncode == 0
    values = sample_values()
    everything = values.surnames | values.bsns | values.free_texts
    logs = (run.result.stdout + run.result.stderr).encode("utf-8")
    assert found_in(logs, everything) == set(), "pupil values in the console output"

    # The archive keeps a byte-identical copy of each published delivery for re-delivery:
    # it may hold what the deliveries hold, and nothing else.
    archive = run.state / "archive"
    delivered = {p.relative_to(run.drop): p.read_bytes() for p in files_under(run.drop)}
    archived = {p.relative_to(archive): p.read_bytes() for p in files_under(archive)}
    assert archived == delivered
    own_files = [
        p
        for p in files_under(run.state) + files_under(run.prefect_home)
        if archive not in p.parents
    ]
    assert any(p.name.startswith("prefect.db") for p in own_files), "Prefect DB not found"
    for path in own_files:
        assert found_in_file(path, everything) == set(), f"pupil values in {path}"
    # Prefect's database, read as rows too (in case a page is compressed or split).
    with sqlite3.connect(run.prefect_home / "prefect.db") as db:
        dump = "\n".join(db.iterdump()).encode("utf-8")
    assert found_in(dump, everything) == set()

    for path in files_under(run.drop):
        data = readable(path)
        supplier = path.relative_to(run.drop).parts[0]
        assert found_in(data, values.bsns | values.free_texts) == set(), path
        if supplier == "onderzoek" or path.name == "manifest.json":
            assert found_in(data, values.surnames) == set(), path
    website = b"".join(p.read_bytes() for p in (run.drop / "schoolwebsite").rglob("*.csv"))
    assert found_in(website, values.surnames), "the website list should hold names"


def test_what_sluis_and_prefect_keep_is_for_the_owner_only_whatever_the_umask(run: Run) -> None:
    # sluis_cli runs sluis under umask 022, where a plain open() makes a 0644 file.
    assert run.result.returncode == 0
    for root in (run.state, run.prefect_home):
        for path in [root, *root.rglob("*")]:
            expected = 0o700 if path.is_dir() else 0o600
            assert stat.S_IMODE(path.lstat().st_mode) == expected, path
    # The drop root: supplier groups pass through to their folders, nobody lists it.
    assert stat.S_IMODE(run.drop.stat().st_mode) == 0o751
    # Deliveries stay as they were: the supplier's group reads them.
    for path in run.drop.rglob("*"):
        expected = 0o750 if path.is_dir() else 0o640
        assert stat.S_IMODE(path.lstat().st_mode) == expected, path


def test_quarantine_report_points_at_lines_without_values(run: Run) -> None:
    reports = list(run.state.glob("runs/*/quarantine.csv"))
    assert len(reports) == 1
    text = reports[0].read_text(encoding="utf-8")
    header = text.splitlines()[0].split(";")
    assert header[:5] == ["brincode", "subject", "source_file", "source_line", "leerlingkey"]
    rules = {line.split(";")[6] for line in text.splitlines()[1:]}
    assert {"name_rule", "jaargroep_required", "not_in_future"} <= rules


def test_oneroster_deliveries_pass_a_strict_importer_and_invent_nothing(run: Run) -> None:
    """On main: 'onbekend' for pupils without a surname, and the IB teacher of the
    plusgroepen (which rekenapp does not receive) in every package."""
    assert run.result.returncode == 0
    packages = sorted((run.drop / "rekenapp").glob("*/*.zip"))
    assert len(packages) == 2
    for path in packages:
        package = check_package(path.read_bytes())
        teachers = package.users("teacher")
        assert teachers and "leerkracht-LK007" not in teachers
        for user in package.rows("users"):
            assert "onbekend" not in (user["givenName"], user["familyName"])
    run_reference_validator(packages)
    # 53NC has two pupils without an achternaam: withheld, counted, and in the report.
    [manifest] = (run.drop / "rekenapp").glob("*53nc*/manifest.json")
    assert json.loads(manifest.read_text())["counts"]["withheld"]["incomplete_for_format"] == 2
    [report] = run.state.glob("runs/*/quarantine.csv")
    gaps = [
        line for line in report.read_text(encoding="utf-8").splitlines() if "incomplete_for" in line
    ]
    assert len(gaps) == 2 and all(line.startswith("53NC;leerling;") for line in gaps)
    assert all("Leverancier rekenapp krijgt de leerling daarom niet" in line for line in gaps)


def test_lineage_records_the_run_and_every_delivery(run: Run) -> None:
    with sqlite3.connect(run.state / "lineage.db") as db:
        runs = db.execute("select status from runs").fetchall()
        deliveries = db.execute("select supplier, school, status from deliveries").fetchall()
    assert runs == [("completed",)]
    assert len(deliveries) == 14  # 7 nightly suppliers, 2 schools
    assert {d[2] for d in deliveries} == {"delivered"}


def test_a_broken_export_fails_with_one_line_and_leaves_deliveries_intact(run: Run) -> None:
    before = {p: p.read_bytes() for p in files_under(run.drop)}
    broken = run.root / "broken"
    shutil.copytree(REPO / "data" / "samples", broken)
    export = broken / "53NC" / "EDEX.XML"
    export.write_bytes(export.read_bytes()[: len(export.read_bytes()) // 2])

    result = sluis(run.root, *run_args(run.root, broken))

    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    last = [line for line in result.stderr.splitlines() if line.startswith("sluis:")]
    assert len(last) == 1 and str(export) in last[0]
    after = {p: p.read_bytes() for p in files_under(run.drop)}
    assert after == before, "a failed run must not change any delivery"


def test_openlineage_events_start_and_complete_without_pupil_values(run: Run) -> None:
    events = [
        json.loads(line)
        for line in (run.state / "openlineage.ndjson").read_text(encoding="utf-8").splitlines()
    ]
    # The first run's pair; later tests in this module add their own runs' events.
    assert [e["eventType"] for e in events[:2]] == ["START", "COMPLETE"]
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"]
    complete = events[1]
    assert len(complete["outputs"]) == 14
    stats = {
        o["name"]: o["outputFacets"]["outputStatistics"]["rowCount"] for o in complete["outputs"]
    }
    assert all(isinstance(v, int) for v in stats.values())


def test_an_erased_pupil_is_left_out_of_the_next_run(run: Run) -> None:
    """sluis vergeet, then a run: withheld as erased, recorded in the audit log."""
    samples = run.root / "samples"
    key = "257899"
    result = sluis(
        run.root,
        "vergeet",
        key,
        "--school",
        "27ZX",
        "--reden",
        "verzoek ouders",
        "--state",
        str(run.state),
    )
    assert result.returncode == 0, result.stderr
    second = sluis(run.root, *run_args(run.root, samples), "--supplier", "basispoort")
    assert second.returncode == 0, second.stderr[-2000:]
    manifests = sorted((run.drop / "basispoort").glob("*27zx*/manifest.json"))
    latest = json.loads(manifests[-1].read_text())
    assert latest["counts"]["withheld"].get("erased") == 1
    data = b"".join(p.read_bytes() for p in manifests[-1].parent.glob("*.xml"))
    assert b"<leerling " in data and f'key="{key}"'.encode() not in data
    verify = sluis(run.root, "audit", "verify", "--state", str(run.state))
    assert verify.returncode == 0, verify.stderr
