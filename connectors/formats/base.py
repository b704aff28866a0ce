"""The one-method output format interface and the data file every format returns.

A format turns one delivered frame into the bytes of one or more files. It is pure: no
file system, no clock, no environment, so the same frame always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import pandas as pd

from connectors.errors import ConfigurationError

__all__ = [
    "MAX_NAME_LENGTH",
    "SAFE_FILE_NAME",
    "DataFile",
    "Format",
    "check_frame",
    "check_options",
]

# File names end up as paths inside a supplier's folder: one component, no leading dot
# (hidden files are where drops stage work), no separators, nothing a shell or a Windows
# share would read differently.
SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Leaves room under the usual 255-byte name limit for the staging prefix and suffix a
# drop adds around ids built from the same alphabet.
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class DataFile:
    """One rendered file of a delivery.

    Attributes:
        name: file name inside the delivery folder, e.g. "leerlingen.csv".
        content: the exact bytes to publish.
        rows: number of data rows (records) in the file, header not counted.
    """

    name: str
    content: bytes
    rows: int

    def __post_init__(self) -> None:
        if not (
            isinstance(self.name, str)
            and len(self.name) <= MAX_NAME_LENGTH
            and SAFE_FILE_NAME.fullmatch(self.name)
        ):
            raise ConfigurationError(
                f"data file name {self.name!r} is not allowed: use at most {MAX_NAME_LENGTH} "
                "letters, digits, '_', '.' or '-', starting with a letter or digit"
            )
        if not isinstance(self.content, bytes):
            raise ConfigurationError(f"data file {self.name!r}: content must be bytes")
        if isinstance(self.rows, bool) or not isinstance(self.rows, int) or self.rows < 0:
            raise ConfigurationError(
                f"data file {self.name!r}: rows must be a whole number of at least 0"
            )

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of the content, as recorded in the manifest and lineage."""
        return hashlib.sha256(self.content).hexdigest()


class Format(Protocol):
    """A writer of one supplier output format; `render` is the whole interface."""

    def render(
        self, frame: pd.DataFrame, *, basename: str, options: Mapping[str, str]
    ) -> list[DataFile]:
        """Render `frame` into files named after `basename`, without mutating the frame."""
        ...


def check_frame(frame: pd.DataFrame, *, format_name: str) -> None:
    """Refuse a frame whose columns cannot become a file header.

    Args:
        frame: the frame about to be rendered.
        format_name: the format's name, for the message.

    Raises:
        ConfigurationError: the frame has no columns, a column name that is not a
            non-empty string, or the same column twice.
    """
    columns = list(frame.columns)
    if not columns:
        raise ConfigurationError(f"{format_name}: the frame has no columns to deliver")
    bad = [repr(name) for name in columns if not isinstance(name, str) or not name]
    if bad:
        raise ConfigurationError(
            f"{format_name}: column names must be non-empty strings, got {', '.join(bad)}"
        )
    duplicates = sorted(name for name, count in Counter(columns).items() if count > 1)
    if duplicates:
        raise ConfigurationError(
            f"{format_name}: columns appear more than once: {', '.join(duplicates)}"
        )


def check_options(options: Mapping[str, str], *, format_name: str, known: tuple[str, ...]) -> None:
    """Refuse options a format does not know, so that a typo is not silently ignored.

    Args:
        options: the options given for the format.
        format_name: the format's name, for the message.
        known: the option names the format accepts.

    Raises:
        ConfigurationError: an option is not in `known`; the message lists the known ones.
    """
    unknown = sorted(set(options) - set(known))
    if unknown:
        allowed = ", ".join(known) if known else "none"
        raise ConfigurationError(
            f"unknown {format_name} option(s) {', '.join(map(repr, unknown))}; "
            f"known options: {allowed}"
        )
