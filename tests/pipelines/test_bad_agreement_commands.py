"""`sluis datamap` and `sluis serve` cope with a bad agreement file: it skips its supplier."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sluis_cli import sluis_in_process as sluis

from contracts.agreements import BUNDLED_AGREEMENTS
from pipelines.serve import describe, plan_deployments
from pipelines.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def agreements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "suppliers"
    shutil.copytree(BUNDLED_AGREEMENTS, folder, ignore=shutil.ignore_patterns("*.py*"))
    text = (folder / "basispoort.yaml").read_text(encoding="utf-8")
    (folder / "leesapp.yaml").write_text(
        text.replace("id: basispoort", "id: leesapp") + "fields: []\n", encoding="utf-8"
    )
    monkeypatch.setenv("SLUIS_AGREEMENTS_DIR", str(folder))
    return folder


def test_datamap_maps_the_good_agreements_and_names_the_one_left_out(
    agreements: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUIS_SCHOOL_NAMES", '{"07XY": "OBS De Linde"}')
    code, out, err = sluis("datamap", "--school", "07XY", "--out", str(tmp_path / "map"))

    assert code == 1
    assert "Gegevenskaart geschreven" in out
    [line] = err.strip().splitlines()
    assert line.startswith("sluis: de gegevenskaart laat leesapp weg")
    assert "leesapp.yaml: regel " in line and "dubbele sleutel 'fields'" in line
    html = (tmp_path / "map" / "datamap.html").read_text(encoding="utf-8")
    assert "Basispoort" in html


def test_serve_plans_without_the_bad_agreement_and_says_so(agreements: Path) -> None:
    settings = Settings(source=REPO / "data" / "samples")

    plans = plan_deployments(settings, "school")

    assert [p.school for p in plans] == ["27ZX", "53NC"]
    lines = describe(settings, plans)
    assert any(
        line.startswith("overeenkomst overgeslagen tot ze is hersteld: ") and "leesapp.yaml" in line
        for line in lines
    )
