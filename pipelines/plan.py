"""What a run will read: the schools under --source and the consent export of each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from connectors.errors import ConfigurationError, UsageError
from connectors.i18n import _
from connectors.identifiers import canonical_brin, is_brin, quoted
from connectors.sources.registry import detect_format

__all__ = ["SchoolInput", "batches", "discover_schools", "label", "run_name", "select_school"]


@dataclass(frozen=True)
class SchoolInput:
    """One school's export and the consent export beside it (None when there is none)."""

    export: Path
    consents: Path | None

    @property
    def name(self) -> str:
        """The school's folder name (by convention its BRIN), or the export's file name."""
        return self.export.parent.name or self.export.stem


def _export_in(folder: Path, consents_filename: str) -> Path | None:
    found = sorted(
        p
        for p in folder.iterdir()
        if p.name != consents_filename and not p.name.startswith(".") and detect_format(p)
    )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise ConfigurationError(
            _("{folder}: meer dan één export ({names}); houd één export per schoolmap").format(
                folder=folder, names=names
            )
        )
    return found[0] if found else None


def discover_schools(
    source: Path, consents: Path | None, consents_filename: str
) -> list[SchoolInput]:
    """Find the schools of a run.

    Args:
        source: an export file, or a folder with one subfolder per school (each holding
            its export and its consent export).
        consents: an explicit consent export; only with a single export file.
        consents_filename: name of the consent export beside each export.

    Raises:
        ConfigurationError: a path does not exist, or a folder holds no export.
    """
    if not source.exists():
        raise ConfigurationError(
            _("{source}: bron bestaat niet; geef --source BESTAND of MAP").format(source=source)
        )
    if not source.is_file() and not source.is_dir():
        # A pipe would be read (and waited on) as a file, and listed as a folder.
        raise ConfigurationError(
            _(
                "{source}: de bron is geen bestand en geen map (een pipe of een apparaat?); "
                "geef --source BESTAND of MAP"
            ).format(source=source)
        )
    if consents is not None and not consents.is_file():
        raise ConfigurationError(
            _("{path}: toestemmingenexport bestaat niet (--consents)").format(path=consents)
        )
    if source.is_file() or detect_format(source) == "oneroster":
        beside = source.parent / consents_filename
        return [SchoolInput(source, consents or (beside if beside.is_file() else None))]
    if consents is not None:
        raise ConfigurationError(
            _(
                "--consents hoort bij één exportbestand; in een map heeft elke school haar "
                "eigen {name} naast haar export"
            ).format(name=consents_filename)
        )
    schools = []
    own = _export_in(source, consents_filename)
    if own is not None:
        schools.append(own)
    for folder in sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")):
        export = _export_in(folder, consents_filename)
        if export is not None:
            schools.append(export)
    if not schools:
        raise ConfigurationError(
            _(
                "{source}: geen export gevonden; verwacht <school>/EDEX.XML met {name} ernaast"
            ).format(source=source, name=consents_filename)
        )
    return [
        SchoolInput(
            e, e.parent / consents_filename if (e.parent / consents_filename).is_file() else None
        )
        for e in schools
    ]


def batches(items: list[SchoolInput], size: int) -> list[list[SchoolInput]]:
    """Split schools into batches of at most `size`, in order."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def select_school(schools: list[SchoolInput], school: str | None) -> list[SchoolInput]:
    """Keep the school whose folder is named `school` (any case, spaces around ignored).

    Folder names are BRINs by convention, which the drop spells in lower case and people
    type in either: both sides are compared in canonical form.

    Raises:
        UsageError: no school folder has that name; the message lists the known ones.
    """
    if not school:
        return schools
    wanted = canonical_brin(school)
    chosen = [s for s in schools if canonical_brin(s.name) == wanted]
    if not chosen:
        known = ", ".join(s.name for s in schools)
        raise UsageError(
            _("onbekende school {school}; de bron bevat: {known}").format(
                school=quoted(school), known=known
            )
        )
    return chosen


def run_name(school: SchoolInput) -> str:
    """How a school is named in Prefect run names before its export is read: '27zx'.

    The BRIN is in the export, so before reading it the school folder's name stands in
    (a BRIN by convention); a single export outside such a folder is named by its file.
    Lower case, as the delivery folders spell a school.
    """
    folder = school.export.parent.name
    return (folder if is_brin(folder) else school.export.name).strip().lower()


# Past this many schools a batch is named by its first and last school and the count.
_NAMED_SCHOOLS = 3


def label(names: list[str]) -> str:
    """A batch's schools, for run names: '27zx', '27zx-53nc', '07xy-tot-99ab-25-scholen'.

    Lower case, as the delivery folders spell a school.
    """
    if not names:
        return "geen-school"
    lowered = [n.strip().lower() for n in names]
    if len(lowered) <= _NAMED_SCHOOLS:
        return "-".join(lowered)
    return f"{lowered[0]}-tot-{lowered[-1]}-{len(lowered)}-scholen"
