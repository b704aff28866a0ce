"""Looks up an output format by the name a supplier agreement uses."""

from __future__ import annotations

from collections.abc import Callable

from connectors.errors import ConfigurationError
from connectors.formats.aggregaat import AggregaatFormat
from connectors.formats.base import Format
from connectors.formats.csv import CsvFormat
from connectors.formats.edexml import EdexmlFormat
from connectors.formats.oneroster import OneRosterFormat
from connectors.formats.parquet import ParquetFormat
from connectors.i18n import _

__all__ = ["FORMATS", "get_format", "known_formats"]

# Adding a format is one line here plus its module.
FORMATS: dict[str, Callable[[], Format]] = {
    "aggregaat": AggregaatFormat,
    "csv": CsvFormat,
    "edexml": EdexmlFormat,
    "oneroster": OneRosterFormat,
    "parquet": ParquetFormat,
}


def known_formats() -> tuple[str, ...]:
    """Return the registered format names, sorted."""
    return tuple(sorted(FORMATS))


def get_format(name: str) -> Format:
    """Return a new writer for the output format called `name`.

    Args:
        name: the format name, e.g. "csv" or "parquet".

    Returns:
        The format writer.

    Raises:
        ConfigurationError: no format has that name; the message lists the known ones.
    """
    try:
        factory = FORMATS[name]
    except (KeyError, TypeError):
        raise ConfigurationError(
            _("onbekend uitvoerformaat {name}; bekende formaten: {value}").format(
                name=repr(name),
                value=", ".join(known_formats()),
            )
        ) from None
    return factory()
