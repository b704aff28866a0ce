"""A OneRoster package, folder or zip: its files, read within the limits."""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO

from connectors.errors import shorten
from connectors.i18n import _
from connectors.sources.base import (
    sha256_of_file,
)
from connectors.sources.oneroster_rules import (
    MANIFEST,
    MAX_ENTRIES,
    MAX_FILE_BYTES,
    MAX_PACKAGE_BYTES,
    MAX_RATIO,
    RATIO_FROM_BYTES,
    UNPACK_CHUNK_BYTES,
    reexport_fix,
    rule_error,
)


class Package:
    """The files at the root of a zip or folder, read whole, each at most MAX_FILE_BYTES."""

    def __init__(self, path: Path, archive: zipfile.ZipFile | None) -> None:
        self.path = path
        self.archive = archive
        self.unpacked = 0  # bytes read so far, against MAX_PACKAGE_BYTES
        if archive is None:
            root = [p.name for p in path.iterdir() if p.is_file()]
            nested: list[str] = []
        else:
            entries = archive.infolist()
            if len(entries) > MAX_ENTRIES:
                raise rule_error(
                    str(path), _("de zip bevat te veel items"), "entries", reexport_fix()
                )
            files = [info.filename for info in entries if not info.is_dir()]
            root = [name for name in files if "/" not in name]
            nested = sorted(name for name in files if name.endswith("/" + MANIFEST))
        self._refuse_twice(root)
        self.names = frozenset(root)
        if MANIFEST not in self.names:
            fix = _("{reexport}, met zijn manifest.csv").format(reexport=reexport_fix())
            if nested:
                fix = _(
                    "manifest.csv staat in {nested}: zip de bestanden zelf, niet de map "
                    "waar ze in staan"
                ).format(nested=nested[0])
            elif any(name.lower() == MANIFEST for name in self.names):
                fix = _("noem het bestand manifest.csv, in kleine letters")
            raise rule_error(str(path), _("manifest.csv ontbreekt"), "package", fix)

    @classmethod
    def open(cls, path: Path) -> Package:
        """Open a folder or a zip; anything else is not a OneRoster package."""
        if path.is_dir():
            return cls(path, None)
        if not zipfile.is_zipfile(path):
            raise rule_error(
                str(path),
                _("geen zipbestand en geen map"),
                "package",
                _(
                    "geef de zip die de leerlingadministratie maakte, of de map met zijn "
                    "CSV-bestanden"
                ),
            )
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise rule_error(
                str(path), _("de zip is beschadigd"), "package", reexport_fix()
            ) from None
        try:
            return cls(path, archive)
        except BaseException:
            archive.close()
            raise

    def _refuse_twice(self, names: list[str]) -> None:
        """Refuse a file that is in the package twice, also in another case.

        A zip can hold two entries of one name (zipfile then reads the last), and a
        folder can hold users.csv beside Users.csv: either way pupils would vanish
        without a word, or differ between a zip and its unpacked folder.
        """
        seen: dict[str, str] = {}
        for name in names:
            first = seen.setdefault(name.casefold(), name)
            if first is name:
                continue
            problem = (
                _("het pakket bevat dit bestand twee keer")
                if first == name
                else _("het pakket bevat dit bestand twee keer (ook als {first})").format(
                    first=shorten(first)
                )
            )
            raise rule_error(
                self.label(name),
                problem,
                "file_once",
                _("{reexport}; een pakket bevat elk bestand één keer").format(
                    reexport=reexport_fix()
                ),
            )

    def __enter__(self) -> Package:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.archive is not None:
            self.archive.close()

    def label(self, name: str) -> str:
        """How messages name a file in the package: folder/users.csv or package.zip!users.csv."""
        name = shorten(name)
        return str(self.path / name) if self.archive is None else f"{self.path}!{name}"

    def read(self, name: str) -> bytes:
        """The bytes of one file at the package root, counted against the package's limit."""
        data = self._read(name)
        self.unpacked += len(data)
        if self.unpacked > MAX_PACKAGE_BYTES:
            raise rule_error(
                self.label(name),
                _("de bestanden van het pakket pakken samen uit tot meer dan {mib} MiB").format(
                    mib=MAX_PACKAGE_BYTES >> 20
                ),
                "package_size",
                reexport_fix(),
            )
        return data

    def _read(self, name: str) -> bytes:
        if self.archive is None:
            with (self.path / name).open("rb") as handle:
                # Read one byte past the limit instead of trusting a size taken earlier.
                data = handle.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                raise rule_error(
                    self.label(name), _("het bestand is te groot"), "file_size", reexport_fix()
                )
            return data
        info = self.archive.getinfo(name)
        if info.file_size > MAX_FILE_BYTES:
            raise rule_error(
                self.label(name), _("het bestand is te groot"), "file_size", reexport_fix()
            )
        if info.flag_bits & 0x1:
            raise rule_error(
                self.label(name),
                _("het bestand is versleuteld"),
                "package",
                _("zip het pakket zonder wachtwoord"),
            )
        try:
            with self.archive.open(info) as handle:
                return self._unpack(name, handle, info.compress_size)
        except (zipfile.BadZipFile, NotImplementedError, EOFError, zlib.error):
            raise rule_error(
                self.label(name),
                _("het bestand kan niet uitgepakt worden"),
                "package",
                reexport_fix(),
            ) from None

    def _unpack(self, name: str, handle: IO[bytes], packed: int) -> bytes:
        """Unpack in chunks, counting what comes out: the header's sizes can lie."""
        chunks: list[bytes] = []
        size = 0
        while chunk := handle.read(UNPACK_CHUNK_BYTES):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise rule_error(
                    self.label(name),
                    _("het bestand is te groot: het pakt uit tot meer dan {mib} MiB").format(
                        mib=MAX_FILE_BYTES >> 20
                    ),
                    "file_size",
                    reexport_fix(),
                )
            if size > RATIO_FROM_BYTES and size > MAX_RATIO * max(packed, 1):
                raise rule_error(
                    self.label(name),
                    _(
                        "het bestand pakt uit tot meer dan {ratio} keer zijn ingepakte grootte, "
                        "zoals een zipbom doet"
                    ).format(ratio=MAX_RATIO),
                    "file_ratio",
                    reexport_fix(),
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def digest(self, names: Iterable[str]) -> str:
        """SHA-256 for lineage: of the zip file, or of a folder's files by name and content."""
        if self.archive is not None:
            return sha256_of_file(self.path)
        digest = hashlib.sha256()
        for name in sorted(set(names)):
            digest.update(name.encode() + b"\t" + hashlib.sha256(self._read(name)).digest())
        return digest.hexdigest()
