"""End to end: a withdrawal in an odd spelling, an unreadable row and an erasure typed with
a lower-case BRIN all keep the child off the lists, through `sluis run` on the samples."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from lxml import etree
from sluis_cli import run_args, sluis

pytestmark = pytest.mark.prefect

REPO = Path(__file__).resolve().parents[2]
WEBSITE = "beeldmateriaal_website"


def _on_the_website(consents: Path) -> list[str]:
    """Keys whose latest website row of 2026-2027 says ja (the samples are ISO and clean)."""
    with consents.open(encoding="utf-8-sig", newline="") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter=";") if r["categorie"] == WEBSITE]
    latest: dict[str, tuple[str, bool, str]] = {}
    for row in rows:
        if row["schooljaar"] != "2026-2027":
            continue
        mark = (row["gewijzigd_op"], row["waarde"].strip() == "nee", row["waarde"].strip())
        latest[row["leerlingkey"]] = max(latest.get(row["leerlingkey"], mark), mark)
    return sorted(key for key, (_, _, value) in latest.items() if value == "ja")


def _names(export: Path) -> dict[str, tuple[str, str]]:
    tree = etree.parse(str(export))
    return {
        e.get("key"): (e.findtext("roepnaam") or "", e.findtext("achternaam") or "")
        for e in tree.iterfind(".//leerlingen/leerling")
    }


def test_withdrawn_unreadable_and_erased_pupils_leave_every_list(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    shutil.copytree(REPO / "data" / "samples", samples)
    school = samples / "27ZX"
    names = _names(school / "EDEX.XML")
    counts: dict[tuple[str, str], int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    # Pupils whose names are unique, so the website list (names only) tells them apart.
    yes = [k for k in _on_the_website(school / "toestemmingen.csv") if counts[names[k]] == 1]
    withdrawn, unreadable, erased = yes[:3]
    with (school / "toestemmingen.csv").open("a", encoding="utf-8", newline="") as handle:
        handle.write(f" {withdrawn} ;2026 - 2027;Beeldmateriaal website;N;21-11-2026 08:00\r\n")
        handle.write(f"{unreadable};2026-2027;beeldmateriaal_website;misschien;2026-11-21\r\n")
    forget = sluis(
        tmp_path,
        "vergeet",
        erased,
        "--reden",
        "verzoek ouders",
        "--school",
        "27zx",
        "--source",
        str(samples),
        "--state",
        str(tmp_path / "state"),
    )
    assert forget.returncode == 0, forget.stderr

    result = sluis(tmp_path, *run_args(tmp_path, samples))
    assert result.returncode == 0, result.stderr[-3000:]
    [folder] = (tmp_path / "drop" / "schoolwebsite").glob("*-27zx-*")
    listed = {
        (row["roepnaam"], row["achternaam"])
        for path in folder.glob("*.csv")
        for row in csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";")
    }
    assert names[withdrawn] not in listed
    assert names[unreadable] not in listed
    assert names[erased] not in listed
    assert any(names[k] in listed for k in yes[3:]), "the others stay on the list"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["withheld"]["consent_unreadable"] == 1
    assert manifest["counts"]["withheld"]["erased"] == 1
    # The erased pupil goes to nobody: Basispoort's EDEXML has her key no more.
    [basispoort] = (tmp_path / "drop" / "basispoort").glob("*-27zx-*")
    keys = {
        e.get("key")
        for path in basispoort.glob("*.xml")
        for e in etree.parse(str(path)).iterfind(".//leerling")
    }
    assert erased not in keys and withdrawn in keys
