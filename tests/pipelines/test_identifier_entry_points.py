"""Identifiers typed at the command line are matched as people type them, everywhere."""

from __future__ import annotations

import contextlib
import io
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.errors import SluisError, UsageError
from lineage.store import LineageStore
from pipelines.cli import main
from pipelines.holds import approve, redeliver
from pipelines.keys import check_run_keys
from pipelines.plan import SchoolInput, select_school
from pipelines.settings import Settings

RUN = str(uuid.UUID(int=0xB6C9D0E0A434C419A551F0E0D7C2A11))
FOLDER = f"20261101t020000z-07xy-{RUN[:8]}"


def _schools() -> list[SchoolInput]:
    return [SchoolInput(Path(f"/exports/{name}/EDEX.XML"), None) for name in ("07XY", "27ZX")]


@pytest.mark.parametrize("typed", ["07xy", " 07XY", "07Xy ", "07XY"])
def test_sluis_run_school_is_matched_in_any_case_with_spaces(typed: str) -> None:
    assert [s.name for s in select_school(_schools(), typed)] == ["07XY"]


@pytest.mark.parametrize("typed", ["07X", " ", "07XY/..", "x" * 10_000])
def test_an_unknown_school_is_refused_with_the_value_shortened(typed: str) -> None:
    with pytest.raises(UsageError) as caught:
        select_school(_schools(), typed)
    assert len(str(caught.value)) < 120


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Lineage with one run and one delivery to basispoort (no held or archived files)."""
    settings = Settings(state_dir=tmp_path / "state", drop_dir=tmp_path / "drop")
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    check_run_keys(settings, store.engine, ())  # the keys, as the run that delivered made them
    now = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    store.start_run(
        RUN, started_at=now, trigger="cli", dry_run=False, parameters={}, sluis_version="t"
    )
    store.record_delivery(
        RUN,
        delivery_id=f"basispoort:{FOLDER}",
        supplier="basispoort",
        school="07XY",
        agreement_sha256="1" * 64,
        agreement_reference="Verwerkersovereenkomst Basispoort",
        fields=["eckid"],
        mode="full",
        counts={"input": 1, "delivered": 1, "withheld": {}, "quarantined": 0},
        files=[{"name": "b.xml", "sha256": "2" * 64, "rows": 1}],
        manifest_sha256="3" * 64,
        location=f"drop/basispoort/{FOLDER}",
        status="delivered",
        created_at=now,
    )
    store.finish_run(RUN, status="completed", finished_at=now)
    store.dispose()
    return settings


def test_approve_finds_the_run_and_supplier_in_any_case(settings: Settings) -> None:
    # Found: it then says the run held nothing, instead of "not in the lineage database".
    with pytest.raises(UsageError, match="houdt niets tegen voor leverancier 'basispoort'"):
        approve(settings, f" {RUN.upper()} ", "Basispoort ", "ict")


def test_redeliver_finds_a_delivery_named_in_upper_case(settings: Settings) -> None:
    # Found: it is then refused for what this bare lineage lacks (members, archive).
    with pytest.raises(SluisError) as caught:
        redeliver(settings, "BASISPOORT", f" {FOLDER.upper()}", "ict", version="t")
    assert "kreeg geen levering" not in str(caught.value)
    assert FOLDER in str(caught.value)


def test_datamap_names_the_school_by_its_canonical_brin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUIS_SCHOOL_NAMES", '{"07xy": "OBS De Linde"}')
    argv, sys.argv = sys.argv, ["sluis", "datamap", "--school", " 07xy", "--out", str(tmp_path)]
    try:
        with contextlib.redirect_stdout(io.StringIO()), pytest.raises(SystemExit) as done:
            main()
    finally:
        sys.argv = argv
    assert done.value.code in (0, None)
    html = (tmp_path / "datamap.html").read_text(encoding="utf-8")
    assert "07XY" in html and "07xy" not in html
