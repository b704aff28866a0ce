"""Builders of small raw exports and consent rows, for contract and policy tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from connectors.sources.base import (
    GROUP_COLUMNS,
    PUPIL_COLUMNS,
    TEACHER_COLUMNS,
    VESTIGING_COLUMNS,
    SchoolExport,
    empty_frame,
)

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
    {
        "groepskey": "SG1",
        "groepsnaam": "Plusgroep rekenen",
        "jaargroep": None,
        "soort": "samengestelde_groep",
    },
]


def eckid(key: str) -> str:
    """The well-formed ECK iD `pupil` gives the pupil with leerlingkey `key`."""
    return "https://ketenid.nl/201703/" + (key.encode().hex() * 128)[:128]


def pupil(key: str, **values: object) -> dict[str, object]:
    """A valid pupil in groep 3 unless overridden."""
    base: dict[str, object] = {
        "leerlingkey": key,
        "eckid": eckid(key),
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
    vestigingen: list[dict[str, object]] | None = None,
    teachers: list[dict[str, object]] | None = None,
) -> SchoolExport:
    """Build a raw SchoolExport like a source would, from plain dicts."""

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
        teachers=frame(teachers, TEACHER_COLUMNS) if teachers else empty_frame(TEACHER_COLUMNS),
        vestigingen=frame(vestigingen or [], VESTIGING_COLUMNS),
    )


def make_consents(rows: list[tuple[str, str, str, str, str]]) -> pd.DataFrame:
    """Raw consent rows: (leerlingkey, schooljaar, categorie, waarde, gewijzigd_op)."""
    columns = ("leerlingkey", "schooljaar", "categorie", "waarde", "gewijzigd_op")
    data = {c: pd.Series([r[i] for r in rows], dtype="str") for i, c in enumerate(columns)}
    result = pd.DataFrame(data)
    result["source_file"] = pd.Series(["toestemmingen.csv"] * len(rows), dtype="str")
    result["source_line"] = pd.Series(range(2, 2 + len(rows)), dtype="int64")
    return result


def own_file(export: SchoolExport) -> SchoolExport:
    """The export as the file `<brincode>/export.xml`, rows included.

    A batch of schools is validated in one frame partitioned by file (keys are unique per
    export), so schools of one batch need files of their own, as real schools have.
    """
    path = Path(str(export.school["brincode"])) / "export.xml"
    frames = {
        name: getattr(export, name).assign(source_file=str(path))
        for name in ("pupils", "groups", "teachers", "vestigingen")
    }
    return dataclasses.replace(export, path=path, **frames)
