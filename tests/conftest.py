"""Shared fixtures: paths to the bundled samples and to ../shared/reference."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data" / "samples"
REFERENCE = REPO.parent / "shared" / "reference"

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("SLUIS_HYPOTHESIS_PROFILE", "ci"))


def _require_reference(sub: str) -> Path:
    path = REFERENCE / sub
    if not path.exists():
        reason = f"reference files not found at {path} (the ../shared checkout beside the repo)"
        if os.environ.get("SLUIS_REQUIRE_REFERENCE") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture
def edexml_reference() -> Path:
    """Folder with the official EDEXML 2.1 XSDs and sample files (read-only, not copied)."""
    return _require_reference("edexml")


@pytest.fixture
def uwlr_reference() -> Path:
    """Folder with the UWLR 2.2 leerlinggegevens schemas (read-only, not copied)."""
    return _require_reference("uwlr-2.2-leerlinggegevens")


@pytest.fixture
def oneroster_reference() -> Path:
    """Folder with the saved OneRoster CSV sample sets and SOURCE.md (read-only, not copied)."""
    return _require_reference("oneroster")


@pytest.fixture
def openlineage_reference() -> Path:
    """Folder with the OpenLineage 2-0-2 JSON schemas in spec/ (read-only, not copied)."""
    return _require_reference("openlineage")


@pytest.fixture
def samples_dir() -> Path:
    """The bundled synthetic samples in data/samples."""
    return SAMPLES


@pytest.fixture(autouse=True)
def _scrub_sluis_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's own SLUIS_ settings."""
    for name in list(os.environ):
        if name.startswith("SLUIS_") and name not in {
            "SLUIS_REQUIRE_REFERENCE",
            "SLUIS_REQUIRE_POSTGRES",
            "SLUIS_HYPOTHESIS_PROFILE",
        }:
            monkeypatch.delenv(name, raising=False)
