"""What a run will read: the schools under --source and the consent export of each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from connectors.errors import ConfigurationError, UsageError
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
            f"{folder}: more than one export ({names}); keep one export per school folder"
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
        raise ConfigurationError(f"{source}: source not found; pass --source FILE or FOLDER")
    if not source.is_file() and not source.is_dir():
        # A pipe would be read (and waited on) as a file, and listed as a folder.
        raise ConfigurationError(
            f"{source}: the source is neither a file nor a folder (a pipe or a device?); "
            "pass --source FILE or FOLDER"
        )
    if consents is not None and not consents.is_file():
        raise ConfigurationError(f"{consents}: consent export not found (--consents)")
    if source.is_file() or detect_format(source) == "oneroster":
        beside = source.parent / consents_filename
        return [SchoolInput(source, consents or (beside if beside.is_file() else None))]
    if consents is not None:
        raise ConfigurationError(
            "--consents goes with a single export file; in a folder each school keeps "
            f"its own {consents_filename} beside its export"
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
            f"{source}: no export found; expected <school>/EDEX.XML with {consents_filename} "
            "beside it"
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
        raise UsageError(f"unknown school {quoted(school)}; the source holds: {known}")
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
