"""Read an EDEXML 2.x export (ParnasSys/Esis `EDEX.XML`) into raw string frames.

The file is streamed through lxml's pull parser (the feed-based form of `iterparse`):
each pupil, group and teacher is turned into a row as soon as its end tag is read and is
then dropped from the tree, so a board-sized file does not sit in memory twice. Every
value stays a string; typing and checking are the contracts' job, so that one bad value
quarantines one row instead of the whole file.

Every row names the line of its start tag, also past line 65,535 where libxml2's own
line numbers stop being exact. Two readers share that promise:

- the fast reader feeds the parser large chunks, has lxml report only the elements that
  matter, and finds each reported start tag in the raw bytes to count its line. It
  checks itself (tag names, libxml2's lines where exact, the tag count) and handles only
  files it reads without any complaint;
- the exact reader feeds the parser line by line and sees every element. It reads what
  the fast reader gives up on (UTF-16/32, anything unusual, every broken or refused
  file), so all errors and their lines come from one place.

An export is untrusted input. DTDs are refused outright: EDEXML never uses one, and a DTD
is how XML reads other files (external entities) or explodes in memory (entity
expansion). Error messages name the file, the line and a fix, never a pupil value.

This module is the source; `edexml_reader` holds both readers, `edexml_places` the fast
reader's search for start tags in the raw bytes, `edexml_rows` the elements-to-rows code.
"""

from __future__ import annotations

from pathlib import Path

from connectors.errors import SourceFormatError
from connectors.i18n import _
from connectors.sources.base import SchoolExport, require_file, sha256_of_file, unreadable
from connectors.sources.edexml_reader import EdexmlReader
from connectors.sources.edexml_rows import FORMAT, ROOT_TAG, SUPPORTED_MAJOR_VERSION, reexport_hint

__all__ = ["EDEXML_SOURCE", "FORMAT", "ROOT_TAG", "SUPPORTED_MAJOR_VERSION", "EdexmlSource"]


class EdexmlSource:
    """Source for EDEXML 2.x files; `extract` is the whole interface."""

    format = FORMAT

    def extract(self, path: Path) -> SchoolExport:
        """Read one EDEXML export into raw frames with provenance.

        Args:
            path: the EDEXML file (usually `EDEX.XML`).

        Returns:
            The school header, pupils, groups and teachers as raw string frames.

        Raises:
            ConfigurationError: the path does not name a readable file.
            UnsafeInputError: the file declares a DTD or uses entities.
            SourceFormatError: the file is empty, not well-formed, not EDEXML 2.x, has
                no valid schooljaar or no pupils.
        """
        path = Path(path)
        require_file(path, _("de EDEXML-export"), _("controleer het bronpad"))
        reader = EdexmlReader(path)
        try:
            if path.stat().st_size == 0:
                raise SourceFormatError(
                    _("{path}: het bestand is leeg (0 bytes); {reexport_hint}").format(
                        path=path,
                        reexport_hint=reexport_hint(),
                    )
                )
            with path.open("rb") as handle:
                if not reader.read_fast(handle):
                    # Whatever the fast reader does not vouch for is read again, exactly.
                    reader = EdexmlReader(path)
                    handle.seek(0)
                    reader.read(handle)
            digest = sha256_of_file(path)
        except OSError as exc:
            raise unreadable(path, exc, _("de EDEXML-export")) from None
        return reader.export(digest)


EDEXML_SOURCE = EdexmlSource()
