"""`sluis run` on the samples as a coordinator sees it: an 80-column terminal, run names and
drop folders as the README says them, and photos only where each consent allows.

Two runs of the real CLI (the second finds nothing changed) against Prefect's ephemeral
API with its own PREFECT_HOME, whose database is read for the run names.
"""

from __future__ import annotations

import csv
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from sluis_cli import run_args, sluis_env
from test_consent_per_purpose import latest_choices

pytestmark = pytest.mark.prefect

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
PHOTOS = {
    "schoolwebsite": "beeldmateriaal_website",
    "nieuwsbrief": "beeldmateriaal_nieuwsbrief",
    "parro": "beeldmateriaal_parro",
}


@dataclass
class Runs:
    root: Path
    first: subprocess.CompletedProcess[str]
    again: subprocess.CompletedProcess[str]

    @property
    def drop(self) -> Path:
        return self.root / "drop"

    def prefect_names(self, table: str) -> set[str]:
        with sqlite3.connect(self.root / "prefect" / "prefect.db") as db:
            return {name for (name,) in db.execute(f"select name from {table}")}  # noqa: S608


def _run_at_80_columns(root: Path, samples: Path) -> subprocess.CompletedProcess[str]:
    env = {**sluis_env(root), "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *run_args(root, samples)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("terminal")
    samples = root / "samples"
    shutil.copytree(REPO / "data" / "samples", samples)
    first = _run_at_80_columns(root, samples)
    again = _run_at_80_columns(root, samples)
    return Runs(root, first, again)


def _summary(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr[-3000:]
    start = result.stdout.index("Sluis: leveringen")
    # The table ends with its caption; the export notes after it are lines of their own.
    end = result.stdout.index("(zie README)", start) + len("(zie README)")
    return result.stdout[start:end]


def test_the_summary_reads_in_80_columns_with_no_cell_cut(runs: Runs) -> None:
    for result in (runs.first, runs.again):
        table = _summary(result)
        assert "…" not in table
        assert max(len(line) for line in table.splitlines()) <= 80
        for supplier in (*PHOTOS, "basispoort", "onderzoek", "rekenapp"):
            assert re.search(rf"^\s+{supplier}\s", table, re.MULTILINE), supplier
        for code in ("left_school", "no_consent", "out_of_scope"):
            assert re.search(rf"\b{code} \d+\b", table), code


def test_a_second_run_sends_nothing_and_every_row_says_0_and_why(runs: Runs) -> None:
    table = _summary(runs.again)
    rows = re.findall(r"nothing_to_deliver\s+(\d+) van (\d+)", table)
    assert len(rows) == 14  # 7 nightly suppliers, 2 schools
    assert {sent for sent, _ in rows} == {"0"}
    assert table.count("niets verzonden: niets") == 14
    assert re.findall(r"delivered\s+([1-9]\d*) van 60", _summary(runs.first))


def test_a_run_over_two_schools_reports_progress_as_plain_lines_off_a_terminal(
    runs: Runs,
) -> None:
    assert "voortgang: 2 van 2 exports gelezen" in runs.first.stderr
    assert "voortgang: 14 van 14 leveringen klaar" in runs.first.stderr
    assert "\x1b[" not in runs.first.stderr + runs.first.stdout


def test_flow_and_task_runs_are_named_as_the_readme_says(runs: Runs) -> None:
    flow_runs = runs.prefect_names("flow_run")
    task_runs = runs.prefect_names("task_run")
    assert flow_runs == {"sync-alle-scholen-cli"}
    assert f"`{next(iter(flow_runs))}`" in README
    assert "prepare-27zx-53nc" in task_runs
    assert "`prepare-27zx-53nc`" in README
    suppliers = {*PHOTOS, "basispoort", "onderzoek", "rekenapp"}
    assert {f"deliver-{s}-27zx-53nc" for s in suppliers} <= task_runs
    # The README's pattern of a deliver run: deliver-<supplier>-<schools>.
    assert "`deliver-<supplier>-<schools>`" in README
    assert all(name.startswith(("prepare-", "deliver-")) for name in task_runs)


def test_the_drop_folders_are_spelled_as_the_readme_says(runs: Runs) -> None:
    [layout] = re.findall(r"^drop/<supplier>/(\S+)/ ", README, re.MULTILINE)
    pattern = (
        re.escape(layout)
        .replace(re.escape("<yyyymmdd>"), r"\d{8}")
        .replace(re.escape("<hhmmss>"), r"\d{6}")
        .replace(re.escape("<brin>"), "(?P<brin>[0-9a-z]+)")
        .replace(re.escape("<run8>"), "(?P<run>[0-9a-f]{8})")
    )
    [example] = re.findall(r"e\.g\. `([^`]+)`", README)
    assert re.fullmatch(pattern, example)
    folders = [p for p in runs.drop.glob("*/*") if p.is_dir()]
    assert len(folders) == 14
    run_id = re.search(r"^Run: (\S+)$", runs.first.stdout, re.MULTILINE)
    assert run_id is not None
    for folder in folders:
        match = re.fullmatch(pattern, folder.name)
        assert match is not None, folder.name
        assert match["brin"] in {"27zx", "53nc"}
        assert match["run"] == run_id[1][:8]


def _names(export: Path) -> dict[str, tuple[str, str]]:
    tree = etree.parse(str(export))
    return {
        e.get("key"): (e.findtext("roepnaam") or "", e.findtext("achternaam") or "")
        for e in tree.iterfind(".//leerlingen/leerling")
    }


def _listed(folder: Path) -> set[tuple[str, str]]:
    return {
        (row["roepnaam"], row["achternaam"])
        for path in folder.glob("*.csv")
        for row in csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";")
    }


def test_a_child_with_consent_for_the_website_only_is_on_the_website_list_only(
    runs: Runs,
) -> None:
    checked = 0
    for school in ("27ZX", "53NC"):
        names = _names(REPO / "data" / "samples" / school / "EDEX.XML")
        unique = {k: n for k, n in names.items() if list(names.values()).count(n) == 1}
        lists = {
            supplier: _listed(next((runs.drop / supplier).glob(f"*-{school.lower()}-*")))
            for supplier in PHOTOS
        }
        choices = latest_choices(REPO / "data" / "samples" / school / "toestemmingen.csv")
        for key, said in choices.items():
            if key not in unique:
                continue
            yes = {s for s, c in PHOTOS.items() if said.get(c) == "ja"}
            on = {s for s, listed in lists.items() if unique[key] in listed}
            assert on <= yes, (school, key, on, yes)  # no list without its own ja
            if yes == {"schoolwebsite"} and said.get("deelname_onderzoek") != "ja":
                assert on == {"schoolwebsite"}, (school, key)
                checked += 1
    assert checked >= 2
