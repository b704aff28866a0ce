"""`sluis datamap` writes the map of a school Sluis knows, under its name, and no other."""

from __future__ import annotations

from pathlib import Path

import pytest
from sluis_cli import sluis_in_process as sluis

REPO = Path(__file__).resolve().parents[2]


def test_datamap_refuses_a_school_it_does_not_know(tmp_path: Path) -> None:
    code, _, err = sluis(
        "datamap", "--school", "Bla bla", "--out", str(tmp_path / "o"),
        "--state", str(tmp_path / "state"), "--source", str(REPO / "data" / "samples"),
    )  # fmt: skip
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "kent zo'n school niet" in err
    assert "27ZX" in err  # the known ones are listed
    assert not (tmp_path / "o" / "datamap.html").exists()


def test_datamap_of_a_known_school_carries_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUIS_SCHOOL_NAMES", '{"27zx": "RKBS de Flint"}')
    code, _, err = sluis(
        "datamap", "--school", " 27zx ", "--out", str(tmp_path / "o"),
        "--state", str(tmp_path / "state"),
    )  # fmt: skip
    assert code == 0, err
    page = (tmp_path / "o" / "datamap.html").read_text(encoding="utf-8")
    assert "Welke gegevens deelt RKBS de Flint (BRIN 27ZX) met wie?" in page
