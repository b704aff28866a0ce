"""Which source reads which export: by file ending, or a OneRoster folder by its manifest."""

from __future__ import annotations

import importlib
from pathlib import Path

from connectors.errors import ConfigurationError
from connectors.i18n import _
from connectors.sources.base import Source

__all__ = ["EXPORT_SUFFIXES", "detect_format", "get_source", "known_sources"]

# name -> (module, class); imported only when asked for, so a run that reads EDEXML does
# not pay for the spreadsheet reader.
_SOURCES: dict[str, tuple[str, str]] = {
    "edexml": ("connectors.sources.edexml", "EdexmlSource"),
    "csv_export": ("connectors.sources.csv_export", "CsvExportSource"),
    "oneroster": ("connectors.sources.oneroster", "OneRosterSource"),
}

# File endings an export may have, per source name.
_SUFFIXES: dict[str, str] = {
    ".xml": "edexml",
    ".csv": "csv_export",
    ".xlsx": "csv_export",
    ".zip": "oneroster",
}
EXPORT_SUFFIXES = tuple(_SUFFIXES)


def known_sources() -> tuple[str, ...]:
    """Names of the registered sources."""
    return tuple(sorted(_SOURCES))


def get_source(name: str, **options: object) -> Source:
    """Return a source by name, built with `options`; an unknown name lists the known ones."""
    if name not in _SOURCES:
        raise ConfigurationError(
            _("onbekend bronformaat {name}; bekende formaten: {value}").format(
                name=repr(name),
                value=", ".join(known_sources()),
            )
        )
    module, cls = _SOURCES[name]
    source: Source = getattr(importlib.import_module(module), cls)(**options)
    return source


def detect_format(path: Path) -> str | None:
    """Name of the source that reads `path`, or None when no source does."""
    if path.is_dir():
        return (
            "oneroster" if (path / "manifest.csv").is_file() and "oneroster" in _SOURCES else None
        )
    return _SUFFIXES.get(path.suffix.lower())
