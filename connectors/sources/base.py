"""The one-method source interface and the raw frames every source returns.

A source reads one school's export into raw frames: every value a string (or missing),
every row carrying the file and line it came from. Typing and checking happen later, in
contracts/, so that a bad value becomes a quarantined row instead of a crash here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from connectors.errors import ConfigurationError
from connectors.i18n import _

__all__ = [
    "GROUP_COLUMNS",
    "PROVENANCE_COLUMNS",
    "PUPIL_COLUMNS",
    "SCHOOL_FIELDS",
    "SOURCE_FILE",
    "SOURCE_LINE",
    "TEACHER_COLUMNS",
    "VESTIGING_COLUMNS",
    "SchoolExport",
    "Source",
    "empty_frame",
    "require_file",
    "sha256_of_file",
    "unreadable",
]

# Provenance columns: every raw row says where it came from, so a quarantine report can
# point an IT coordinator at the exact line without repeating the value.
SOURCE_FILE = "source_file"
SOURCE_LINE = "source_line"
PROVENANCE_COLUMNS = (SOURCE_FILE, SOURCE_LINE)

# Canonical pupil columns: EDEXML element names in snake_case (ARCHITECTURE.md).
# Sensitive ones are read only so that the deny-list can see, check and drop them.
PUPIL_COLUMNS = (
    "leerlingkey",
    "eckid",
    "achternaam",
    "voorvoegsel",
    "voornamen",
    "voorletters",
    "roepnaam",
    "geboortedatum",
    "geslacht",
    "start_ondw_jgr3",
    "jaargroep",
    "groepskey",
    "samengestelde_groepen",
    "vestiging",
    "gebruikersnaam",
    "emailadres",
    "fotourl",
    "etniciteit",
    "land",
    "land_vader",
    "land_moeder",
    "bsn",
    "sofinummer",
    "onderwijsnummer",
    "bsn_ondwnr4",
    "rijksregisternummer",
    "gewicht_nieuw",
    "gewicht",
    "postcode",
    "instroomdatum",
    "uitstroomdatum",
    "toevoegingen",
    "mutatiedatum",
)

GROUP_COLUMNS = (
    "groepskey",
    "groepsnaam",
    "jaargroep",
    "soort",  # "groep" (stamgroep) or "samengestelde_groep"
    "omschrijving",
)

TEACHER_COLUMNS = (
    "leerkrachtkey",
    "eckid",
    "achternaam",
    "voorvoegsel",
    "voorletters",
    "roepnaam",
    "emailadres",
    "rollen",
    "groepen",
)

VESTIGING_COLUMNS = (
    "vestigingkey",
    "naam",
    "omschrijving",
)

# School header fields; a school is one row, kept as a plain mapping.
SCHOOL_FIELDS = (
    "schooljaar",
    "peildatum",
    "brincode",
    "dependancecode",
    "schoolkey",
    "instellingsnummer",
    "aanmaakdatum",
    "xsdversie",
)

# Samengestelde groep keys are joined with this in the raw frame (one string per pupil).
GROUP_KEY_SEPARATOR = ";"


@dataclass(frozen=True)
class SchoolExport:
    """One school's export as raw string frames with provenance.

    Attributes:
        path: the file the export was read from.
        sha256: hash of that file, for lineage.
        format: short name of the source format ("edexml", ...).
        school: header fields (see SCHOOL_FIELDS); missing ones are None.
        school_line: the line of the school element, for reports.
        pupils: one row per leerling, columns PUPIL_COLUMNS + provenance.
        groups: one row per groep or samengestelde_groep, GROUP_COLUMNS + provenance.
        teachers: one row per leerkracht, TEACHER_COLUMNS + provenance.
        vestigingen: one row per vestiging (school location), VESTIGING_COLUMNS +
            provenance; empty when the export has none.
        encoding: the text encoding the file was read with.
        notes: plain messages for the run summary (counts and names only).
    """

    path: Path
    sha256: str
    format: str
    school: dict[str, str | None]
    school_line: int
    pupils: pd.DataFrame
    groups: pd.DataFrame
    teachers: pd.DataFrame
    encoding: str = "utf-8"
    notes: tuple[str, ...] = field(default_factory=tuple)
    vestigingen: pd.DataFrame = field(default_factory=lambda: empty_frame(VESTIGING_COLUMNS))


class Source(Protocol):
    """A reader of one school's export; `extract` is the whole interface."""

    def extract(self, path: Path) -> SchoolExport:
        """Read the export at `path` into raw frames."""
        ...


def empty_frame(columns: tuple[str, ...]) -> pd.DataFrame:
    """Return an empty raw frame with the given columns plus provenance, all strings."""
    frame = pd.DataFrame({name: pd.Series([], dtype="str") for name in columns})
    frame[SOURCE_FILE] = pd.Series([], dtype="str")
    frame[SOURCE_LINE] = pd.Series([], dtype="int64")
    return frame


def sha256_of_file(path: Path) -> str:
    """Return the hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def require_file(path: Path, what: str, fix: str) -> None:
    """Refuse an export `path` that is not a file; `what` names the export, `fix` the remedy.

    Raises:
        ConfigurationError: `path` does not exist or is no file.
    """
    if not path.is_file():
        problem = _("bestaat niet") if not path.exists() else _("is geen bestand")
        raise ConfigurationError(
            _("{path}: {what} {problem}; {fix}").format(
                path=path, what=what, problem=problem, fix=fix
            )
        )


def unreadable(path: Path, exc: OSError, what: str) -> ConfigurationError:
    """The error for export `path` (`what` names it) that the system could not read.

    Only the reason of `exc` is kept: the caller raises this `from None`.
    """
    return ConfigurationError(
        _(
            "{path}: {what} kan niet gelezen worden ({reason}); controleer het pad en de rechten"
        ).format(path=path, what=what, reason=exc.strerror or type(exc).__name__)
    )
