"""Shared fixtures: paths to the bundled samples and to ../shared/reference."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    import pandas as pd

    from connectors.sources.base import SchoolExport

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


# --- builders of small raw exports, for contract and policy tests --------------------------

DEFAULT_SCHOOL = {
    "schooljaar": "2026-2027",
    "peildatum": "2026-10-01",
    "brincode": "07XY",
    "dependancecode": "00",
    "schoolkey": None,
    "instellingsnummer": None,
    "aanmaakdatum": None,
    "xsdversie": "2.1",
}
DEFAULT_GROUPS = [
    {"groepskey": "G3", "groepsnaam": "Groep 3 Vossen", "jaargroep": "3", "soort": "groep"},
    {"groepskey": "G12", "groepsnaam": "Groep 1/2 Egels", "jaargroep": "C", "soort": "groep"},
    {"groepskey": "SG1", "groepsnaam": "Plusgroep rekenen", "jaargroep": None,
     "soort": "samengestelde_groep"},
]


def pupil(key: str, **values: object) -> dict[str, object]:
    """A valid pupil in groep 3 unless overridden."""
    base: dict[str, object] = {
        "leerlingkey": key,
        "eckid": "https://ketenid.nl/201703/" + (key.encode().hex() * 128)[:128],
        "achternaam": "Jansen",
        "roepnaam": "Sem",
        "geboortedatum": "2019-05-01",
        "geslacht": "1",
        "groepskey": "G3",
    }
    base.update(values)
    return base


def make_export(
    pupils: list[dict[str, object]],
    groups: list[dict[str, object]] | None = None,
    school: dict[str, object] | None = None,
) -> "SchoolExport":
    """Build a raw SchoolExport like a source would, from plain dicts."""
    import pandas as pd

    from connectors.sources.base import (
        GROUP_COLUMNS,
        PUPIL_COLUMNS,
        TEACHER_COLUMNS,
        SchoolExport,
        empty_frame,
    )

    def frame(rows: list[dict[str, object]], columns: tuple[str, ...]) -> pd.DataFrame:
        data = {c: pd.Series([r.get(c) for r in rows], dtype="str") for c in columns}
        result = pd.DataFrame(data)
        result["source_file"] = pd.Series(["export.xml"] * len(rows), dtype="str")
        result["source_line"] = pd.Series(range(10, 10 + len(rows)), dtype="int64")
        return result

    return SchoolExport(
        path=Path("export.xml"),
        sha256="0" * 64,
        format="edexml",
        school={**DEFAULT_SCHOOL, **(school or {})},  # type: ignore[dict-item]
        school_line=3,
        pupils=frame(pupils, PUPIL_COLUMNS),
        groups=frame(DEFAULT_GROUPS if groups is None else groups, GROUP_COLUMNS),
        teachers=empty_frame(TEACHER_COLUMNS),
    )


def make_consents(rows: list[tuple[str, str, str, str, str]]) -> "pd.DataFrame":
    """Raw consent rows: (leerlingkey, schooljaar, categorie, waarde, gewijzigd_op)."""
    import pandas as pd

    columns = ("leerlingkey", "schooljaar", "categorie", "waarde", "gewijzigd_op")
    data = {c: pd.Series([r[i] for r in rows], dtype="str") for i, c in enumerate(columns)}
    result = pd.DataFrame(data)
    result["source_file"] = pd.Series(["toestemmingen.csv"] * len(rows), dtype="str")
    result["source_line"] = pd.Series(range(2, 2 + len(rows)), dtype="int64")
    return result


@pytest.fixture
def builders() -> object:
    """Access to pupil(), make_export() and make_consents() from tests."""
    import types

    return types.SimpleNamespace(pupil=pupil, make_export=make_export, make_consents=make_consents)
