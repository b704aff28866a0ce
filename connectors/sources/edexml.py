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
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
from lxml import etree
from pandas.api.types import pandas_dtype

from connectors.errors import (
    ConfigurationError,
    InputError,
    SourceFormatError,
    UnsafeInputError,
)
from connectors.i18n import _, at_line
from connectors.identifiers import canonical_brin
from connectors.sources.base import (
    GROUP_COLUMNS,
    GROUP_KEY_SEPARATOR,
    PUPIL_COLUMNS,
    SCHOOL_FIELDS,
    SOURCE_FILE,
    SOURCE_LINE,
    TEACHER_COLUMNS,
    VESTIGING_COLUMNS,
    SchoolExport,
    sha256_of_file,
)

__all__ = ["EDEXML_SOURCE", "EdexmlSource"]

FORMAT = "edexml"
ROOT_TAG = "EDEX"
SUPPORTED_MAJOR_VERSION = "2"


def _reexport_hint() -> str:
    return _("exporteer het bestand opnieuw uit de leerlingadministratie (EDEX/EDEXML 2.1)")


# A leerling child whose text maps one-to-one onto a pupil column. Element names with a
# hyphen, and the three mutually exclusive postcode elements, get snake_case names.
_PUPIL_TEXT_ELEMENTS: dict[str, str] = {
    "achternaam": "achternaam",
    "voorvoegsel": "voorvoegsel",
    "voornamen": "voornamen",
    "voorletters-1": "voorletters",
    "roepnaam": "roepnaam",
    "geboortedatum": "geboortedatum",
    "geslacht": "geslacht",
    "start_ondw_jgr3": "start_ondw_jgr3",
    "jaargroep": "jaargroep",
    "gebruikersnaam": "gebruikersnaam",
    "emailadres": "emailadres",
    "fotourl": "fotourl",
    "etniciteit": "etniciteit",
    "land": "land",
    "land_vader": "land_vader",
    "land_moeder": "land_moeder",
    "bsn": "bsn",
    "sofinummer": "sofinummer",
    "onderwijsnummer": "onderwijsnummer",
    "bsn_ondwnr-4": "bsn_ondwnr4",
    "rijksregisternummer": "rijksregisternummer",
    "gewicht_nieuw": "gewicht_nieuw",
    "gewicht": "gewicht",
    "postcodenl": "postcode",
    "postnummerbe": "postcode",
    "postcodeoverig": "postcode",
    "instroomdatum": "instroomdatum",
    "uitstroomdatum": "uitstroomdatum",
    "mutatiedatum": "mutatiedatum",
}

# Where each pupil column sits in a row (a list in PUPIL_COLUMNS order).
_PUPIL_AT = {name: at for at, name in enumerate(PUPIL_COLUMNS)}
_PUPIL_TEXT_AT = {tag: _PUPIL_AT[column] for tag, column in _PUPIL_TEXT_ELEMENTS.items()}
_LEERLINGKEY_AT = _PUPIL_AT["leerlingkey"]
_ECKID_AT = _PUPIL_AT["eckid"]
_GROEPSKEY_AT = _PUPIL_AT["groepskey"]
_SAMENGESTELDE_GROEPEN_AT = _PUPIL_AT["samengestelde_groepen"]
_VESTIGING_AT = _PUPIL_AT["vestiging"]
_TOEVOEGINGEN_AT = _PUPIL_AT["toevoegingen"]

_TEACHER_TEXT_ELEMENTS: dict[str, str] = {
    "achternaam": "achternaam",
    "voorvoegsel": "voorvoegsel",
    "voorletters-1": "voorletters",
    "roepnaam": "roepnaam",
    "emailadres": "emailadres",
}

_GROUP_TEXT_ELEMENTS: dict[str, str] = {
    "naam": "groepsnaam",
    "jaargroep": "jaargroep",
    "omschrijving": "omschrijving",
}

_GROUP_TAGS = frozenset({"groep", "samengestelde_groep"})

# EDEXML elements are in no namespace. Exports declare this one on the root for its
# attributes (xsi:noNamespaceSchemaLocation); an element in it, or in any other, is refused.
_XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"

_SCHOOLJAAR = re.compile(r"(\d{4})-(\d{4})")
_MAJOR_VERSION = re.compile(r"\d+")

# libxml2 errors that only a DTD can cause (entity declarations, parameter entities,
# expansion limits). They can fire before the first start event, i.e. before docinfo can
# be checked, when a hostile entity is used in the root element's attributes.
_UNSAFE_ERROR_NAMES = (
    "ERR_ENTITY_IS_EXTERNAL",
    "ERR_ENTITY_IS_PARAMETER",
    "ERR_UNPARSED_ENTITY",
    "ERR_ENTITY_LOOP",
    "ERR_ENTITY_PE_INTERNAL",
    "ERR_ENTITY_BOUNDARY",
    "ERR_ENTITY_PROCESSING",
    "ERR_EXT_ENTITY_STANDALONE",
    "ERR_ENTITYREF_IN_DTD",
    "ERR_PEREF_IN_PROLOG",
    "ERR_PEREF_IN_EPILOG",
    "ERR_PEREF_IN_INT_SUBSET",
    "ERR_DOCTYPE_NOT_FINISHED",
    "ERR_RESOURCE_LIMIT",
)
_UNSAFE_ERROR_CODES = frozenset(
    code
    for code in (getattr(etree.ErrorTypes, name, None) for name in _UNSAFE_ERROR_NAMES)
    if isinstance(code, int)
)
_EMPTY_DOCUMENT_CODE = getattr(etree.ErrorTypes, "ERR_DOCUMENT_EMPTY", 4)

# A DOCTYPE can only sit in the prolog; this much of the file is enough to see it when
# libxml2 stops on an entity error before the root element is reported.
_PROLOG_SNIFF_BYTES = 1 << 16
_DOCTYPE_MARKERS = tuple(
    marker.encode(codec)
    for marker in ("<!DOCTYPE", "<!ENTITY")
    for codec in ("utf-8", "utf-16-le", "utf-16-be")
)

_MAX_QUOTED = 40

# Lines are fed one at a time; a file without line breaks is fed in pieces of this size.
_MAX_CHUNK_BYTES = 1 << 16

# The fast reader feeds the parser this much at a time (larger chunks measured slower:
# the tree built for a chunk no longer fits the CPU caches) ...
_FAST_CHUNK_BYTES = 1 << 16
# ... and hands over to the exact reader when this much of the file passes without a start
# tag it has to place, which keeps its own copy of the unplaced bytes small.
_FAST_MAX_PENDING_BYTES = 1 << 25
# libxml2 keeps element lines in 16 bits: below this line, `sourceline` is exact.
_EXACT_SOURCELINE_LIMIT = 65_535

# The elements lxml reports to the fast reader, in any namespace: the root, the top-level
# blocks and the pupils and teachers. Groups are not among them, as every pupil holds a
# <groep> link too; they are read, and placed, when their block ends.
_REPORTED_TAGS = frozenset(
    {ROOT_TAG, "school", "groepen", "leerlingen", "leerkrachten", "leerling", "leerkracht"}
)
_REPORTED_FILTER = tuple(sorted(f"{{*}}{tag}" for tag in _REPORTED_TAGS))
_REPORTED_NAMES = frozenset(tag.encode("ascii") for tag in _REPORTED_TAGS)
_GROUP_FILTER = tuple(sorted(f"{{*}}{tag}" for tag in _GROUP_TAGS))
# Rows whose end lxml reports, per top-level block.
_REPORTED_ROWS: dict[str, frozenset[str]] = {
    "leerlingen": frozenset({"leerling"}),
    "leerkrachten": frozenset({"leerkracht"}),
}
_NO_ROWS: frozenset[str] = frozenset()
# "<name" in the raw bytes, for every element the fast reader places.
_TAG_OPEN = {tag: b"<" + tag.encode("ascii") for tag in _REPORTED_TAGS | _GROUP_TAGS}
# What may follow an element name in a start tag: XML white space, "/" or ">".
_NAME_ENDS = frozenset(b" \t\r\n/>")
# A start tag in the raw bytes, from its "<" to its ">": name and attributes, whose quoted
# values may hold a ">".
_START_TAG = re.compile(rb"<[^ \t\r\n/>]++(?:[^>\"']++|\"[^\"]*+\"|'[^']*+')*+>")
# Markup in the raw bytes, for stretches with a comment, CDATA section or processing
# instruction, which are skipped whole (a "<" in them is no tag), or a start tag, with
# its name in group 1. Together with text, which holds no "<", that is all of an XML
# element's content. The bytes are read as ASCII: files whose encoding does not keep
# ASCII as is fail the fast reader's checks and go to the exact reader.
_MARKUP = re.compile(
    rb"<(?:!--.*?-->|!\[CDATA\[.*?\]\]>|\?.*?\?>"
    rb"|([^ \t\r\n/>!?<]++)(?:[^>\"']++|\"[^\"]*+\"|'[^']*+')*+>)",
    re.DOTALL,
)


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
        if not path.is_file():
            problem = _("bestaat niet") if not path.exists() else _("is geen bestand")
            raise ConfigurationError(
                _("{path}: de EDEXML-export {problem}; controleer het bronpad").format(
                    path=path,
                    problem=problem,
                )
            )
        reader = _Reader(path)
        try:
            if path.stat().st_size == 0:
                raise SourceFormatError(
                    _("{path}: het bestand is leeg (0 bytes); {reexport_hint}").format(
                        path=path,
                        reexport_hint=_reexport_hint(),
                    )
                )
            with path.open("rb") as handle:
                if not reader.read_fast(handle):
                    # Whatever the fast reader does not vouch for is read again, exactly.
                    reader = _Reader(path)
                    handle.seek(0)
                    reader.read(handle)
            digest = sha256_of_file(path)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigurationError(
                _(
                    "{path}: de EDEXML-export kan niet gelezen worden ({reason}); "
                    "controleer het pad en de rechten"
                ).format(
                    path=path,
                    reason=reason,
                )
            ) from None
        return reader.export(digest)


EDEXML_SOURCE = EdexmlSource()


class _FallBack(Exception):
    """The fast reader cannot vouch for this file; the exact reader reads it."""


class _TagPlaces:
    """Finds the start tags of the elements the fast reader places in the raw bytes.

    lxml reports an element once the parser has read its start tag's ">", so every byte
    up to that tag has been fed, and kept here, by then. Each search starts right after
    the previous tag and counts the line breaks on the way, so the file is searched
    once. Between two placed tags there is no other start tag of a placed name (lxml
    would have reported it, or, for groups, `iter` would have listed it), so the next
    "<leerling" is the leerling's tag, unless it sits in a comment, CDATA section or
    processing instruction: where one of those is on the way, `_MARKUP` takes the
    stretch tag by tag. A tag not found, or not on the line libxml2 gives (where that
    is exact), means the reading cannot be trusted.
    """

    def __init__(self) -> None:
        self.buffer = b""
        self.pos = 0  # in buffer: just after the last tag placed
        self.line = 1  # the line at pos
        self.markup = -1  # the first "<!" or "<?" at or after pos (len: none); -1: unknown

    def add(self, chunk: bytes) -> None:
        """Keep a chunk that is about to be fed to the parser; drop what was searched."""
        self.buffer = self.buffer[self.pos :] + chunk
        self.pos = 0
        self.markup = -1
        if len(self.buffer) > _FAST_MAX_PENDING_BYTES:
            raise _FallBack

    def place(self, elem: Any, tag: str) -> int:
        """The line of the ">" that ends the start tag of `elem` (tag `tag`)."""
        needle = _TAG_OPEN.get(tag)
        if needle is None:
            raise _FallBack  # a namespaced element: the exact reader decides
        buffer = self.buffer
        pos = self.pos
        start = buffer.find(needle, pos)
        after = start + len(needle)
        while start >= 0 and after < len(buffer) and buffer[after] not in _NAME_ENDS:
            start = buffer.find(needle, after)  # a longer name, such as <leerlingen
            after = start + len(needle)
        markup = self.markup
        if markup < pos:
            markup = self.markup = self._next_markup(pos)
        if 0 <= start < markup:
            match = _START_TAG.match(buffer, start)
        else:
            match = self._next_tag(needle[1:])
        if match is None:
            raise _FallBack
        end = match.end()
        line = self.line + buffer.count(b"\n", pos, end)
        self.pos = end
        self.line = line
        if line < _EXACT_SOURCELINE_LIMIT and elem.sourceline != line:
            raise _FallBack
        return line

    def _next_markup(self, pos: int) -> int:
        buffer = self.buffer
        found = [at for at in (buffer.find(b"<!", pos), buffer.find(b"<?", pos)) if at >= 0]
        return min(found, default=len(buffer))

    def _next_tag(self, name: bytes) -> re.Match[bytes] | None:
        match = _MARKUP.search(self.buffer, self.pos)
        while match is not None and match.group(1) != name:
            match = _MARKUP.search(self.buffer, match.end())
        return match

    def finish(self) -> None:
        """Once the parser is done: a reported tag left over means the two disagreed."""
        match = _MARKUP.search(self.buffer, self.pos)
        while match is not None:
            if match.group(1) in _REPORTED_NAMES:
                raise _FallBack
            match = _MARKUP.search(self.buffer, match.end())


class _Reader:
    """One pass over one file: collects rows while the tree is pruned."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = str(path)
        self.school: dict[str, str | None] | None = None
        self.school_line = 0
        self.encoding = "utf-8"
        # One tuple per row, its values in the order of the frame's columns.
        self.pupils: list[tuple[str | None, ...]] = []
        self.pupil_lines: list[int] = []
        self.groups: list[tuple[str | None, ...]] = []
        self.group_lines: list[int] = []
        self.teachers: list[tuple[str | None, ...]] = []
        self.teacher_lines: list[int] = []
        # Open elements from the root down: tag and the line of the start tag.
        self.stack: list[tuple[str, int]] = []
        self.school_child_lines: dict[str, int] = {}
        self.started = False
        # Fast reader only: start lines of the open reported elements, the root, the
        # open top-level block and its row tags.
        self.stack_lines: list[int] = []
        self.root: Any = None
        self.school_elem: Any = None
        self.section: Any = None
        self.section_rows = _NO_ROWS
        self.xsi_prefixes: set[bytes] = set()

    # -- parsing: fast --------------------------------------------------------------

    def read_fast(self, handle: IO[bytes]) -> bool:
        """Stream the file in large chunks; False when the exact reader must read it.

        True means the file was read completely and without any finding: the rows and
        lines are those the exact reader would give. Every error, and anything the fast
        reader cannot vouch for, is left to the exact reader (from the start of the file,
        with a fresh reader), so this never raises an input error itself.
        """
        chunk = handle.read(_FAST_CHUNK_BYTES)
        if _is_wide_encoding(chunk):
            return False
        parser = etree.XMLPullParser(
            # start-ns is reported whatever the tag filter: namespaced elements, which
            # the filter would not show, can only exist where one is declared.
            events=("start", "end", "start-ns"),
            tag=_REPORTED_FILTER,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        places = _TagPlaces()
        etree.clear_error_log()  # as the exact reader does: the log holds this file's only
        tail = b""
        try:
            while chunk:
                places.add(chunk)
                parser.feed(chunk)
                self._handle_fast(parser.read_events(), places)
                self._check_prefixes(tail + chunk)
                tail = chunk[-64:]
                chunk = handle.read(_FAST_CHUNK_BYTES)
            root = parser.close()
            self._handle_fast(parser.read_events(), places)
            places.finish()
        except (_FallBack, etree.LxmlError, InputError):
            return False
        if self.root is None or self.school is None or not self.pupil_lines:
            return False
        declared = root.getroottree().docinfo.encoding
        if declared:
            self.encoding = declared.lower()
        return True

    def _check_prefixes(self, data: bytes) -> None:
        # An element with the schema-instance prefix (<xsi:leerling>) is the one kind of
        # namespaced element the declarations allow; it is looked for in the raw bytes.
        if any(b"<" + prefix + b":" in data for prefix in self.xsi_prefixes):
            raise _FallBack

    def _handle_fast(self, events: Iterable[tuple[str, Any]], places: _TagPlaces) -> None:
        lines = self.stack_lines
        place = places.place
        last_row = None  # pruned, with the rows before it, once these events are handled
        for event, elem in events:
            if event == "start-ns":
                prefix, uri = elem
                if not prefix or uri != _XSI_NAMESPACE:
                    raise _FallBack  # elements may be in it: the exact reader decides
                self.xsi_prefixes.add(prefix.encode("ascii", "replace"))
                continue
            tag = elem.tag
            if event == "start":
                lines.append(place(elem, tag))
                if tag not in self.section_rows:
                    self._start_fast(elem, tag)
                continue
            line = lines.pop()
            if tag in self.section_rows:
                if elem.getparent() is self.section:
                    if tag == "leerling":
                        self._read_pupil(elem, line)
                    else:
                        self._read_teacher(elem, line)
                    last_row = elem
            elif elem is self.section:
                if self.section.tag == "groepen":
                    self._read_groups_fast(elem, places)
                self.section = None
                self.section_rows = _NO_ROWS
                last_row = None
                _prune(elem)
            elif elem is self.school_elem:
                self.school_elem = None
                self._read_school(elem, line)
                _prune(elem)
        if last_row is not None:
            _prune(last_row)

    def _start_fast(self, elem: Any, tag: str) -> None:
        if self.root is None:
            if tag != ROOT_TAG or elem.getparent() is not None:
                raise _FallBack  # the root element is not <EDEX>
            self._check_root(elem)
            self.root = elem
            return
        if self.section is not None and self.section.tag == "groepen":
            raise _FallBack  # the groups are placed when <groepen> ends, nothing between
        if elem.getparent() is not self.root:
            return
        if tag == "school":
            # A second <school>, or one after another block, is an error: the exact
            # reader words it.
            if self.school is not None or elem.getprevious() is not None:
                raise _FallBack
            self.school_elem = elem
        elif self.school is None:
            raise _FallBack  # a block before <school>
        else:
            self.section = elem
            self.section_rows = _REPORTED_ROWS.get(tag, _NO_ROWS)

    def _read_groups_fast(self, section: Any, places: _TagPlaces) -> None:
        # In document order, so the start tags are placed in the order of the bytes.
        for elem in section.iter(_GROUP_FILTER):
            tag = elem.tag
            line = places.place(elem, tag)
            if elem.getparent() is section:
                self._read_group(elem, tag, line)

    # -- parsing: exact --------------------------------------------------------------

    def read(self, handle: IO[bytes]) -> None:
        """Stream the file, turning each object into a row and pruning it afterwards."""
        # A pull parser fed line by line, not iterparse: libxml2 stores element lines in
        # 16 bits and past line 65,535 guesses them from the next text node (one line
        # late for an indented file). Counting the lines we feed is exact, and each
        # start event arrives while the line that completes its start tag is being fed,
        # which is the line libxml2 itself reports below 65,535.
        parser = etree.XMLPullParser(
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        line = 1
        count_lines: bool | None = None
        # The feed parser raises its *last* error (often a confusing follow-up), while
        # the thread's error log holds them all; cleared so that it holds only this file's.
        etree.clear_error_log()
        try:
            while chunk := handle.readline(_MAX_CHUNK_BYTES):
                if count_lines is None:
                    count_lines = not _is_wide_encoding(chunk)
                parser.feed(chunk)
                self._handle(parser.read_events(), line if count_lines else None)
                if chunk.endswith(b"\n"):
                    line += 1
            root = parser.close()
            self._handle(parser.read_events(), line if count_lines else None)
        except etree.XMLSyntaxError as exc:
            raise self._syntax_error(exc) from None
        except etree.LxmlError as exc:
            # Anything else lxml raises is just as unusable; the class name is enough,
            # lxml's own text may quote content.
            raise SourceFormatError(
                _("{label}: de XML kon niet gelezen worden ({name}); {reexport_hint}").format(
                    label=self.label,
                    name=type(exc).__name__,
                    reexport_hint=_reexport_hint(),
                )
            ) from None
        if root is not None:
            declared = root.getroottree().docinfo.encoding
            if declared:
                self.encoding = declared.lower()
        if self.school is None:
            raise SourceFormatError(
                _(
                    "{label}: het bestand heeft geen <school>-blok, dus het schooljaar "
                    "is onbekend; {reexport_hint}"
                ).format(
                    label=self.label,
                    reexport_hint=_reexport_hint(),
                )
            )
        if not self.pupil_lines:
            raise SourceFormatError(
                _(
                    "{label}: het bestand bevat geen leerlingen (geen <leerling> in "
                    "<leerlingen>); controleer de exportselectie in de "
                    "leerlingadministratie en exporteer opnieuw"
                ).format(
                    label=self.label,
                )
            )

    def _handle(self, events: Iterable[tuple[str, Any]], line: int | None) -> None:
        for event, elem in events:
            tag = elem.tag if isinstance(elem.tag, str) else ""
            if event == "start":
                if not self.started:
                    self._check_root(elem)
                    self.started = True
                start_line = line if line is not None else int(elem.sourceline or 0)
                if tag.startswith("{") and self.stack:
                    raise self._foreign(elem, start_line)
                self.stack.append((tag, start_line))
                if len(self.stack) == 2 and tag != "school" and self.school is None:
                    raise SourceFormatError(
                        _(
                            "{label} regel {start_line}: <{tag}> komt voor het <school>-blok, "
                            "dat eerst moet komen; {reexport_hint}"
                        ).format(
                            label=self.label,
                            start_line=start_line,
                            tag=_short(tag),
                            reexport_hint=_reexport_hint(),
                        )
                    )
            else:
                self._on_end(elem, tag)
                self.stack.pop()

    def _check_root(self, elem: Any) -> None:
        docinfo = elem.getroottree().docinfo
        if (
            docinfo.doctype
            or docinfo.internalDTD is not None
            or docinfo.externalDTD is not None
            or docinfo.system_url
            or docinfo.public_id
        ):
            raise UnsafeInputError(
                _(
                    "{label}: geweigerd: het bestand heeft een documenttypedeclaratie "
                    "(<!DOCTYPE>); EDEXML gebruikt die nooit en een DTD kan andere "
                    "bestanden lezen of entiteiten onbeperkt uitbreiden; "
                    "{reexport_hint}, zonder DOCTYPE"
                ).format(
                    label=self.label,
                    reexport_hint=_reexport_hint(),
                )
            )
        tag = elem.tag if isinstance(elem.tag, str) else "?"
        if tag != ROOT_TAG:
            qname = etree.QName(elem)
            if qname.localname == ROOT_TAG:
                problem = _(
                    "het hoofdelement <EDEX> staat in namespace {namespace}, verwacht was "
                    "geen namespace (is dit een UWLR-bericht?)"
                ).format(namespace=_short(qname.namespace or ""))
            else:
                problem = _("het hoofdelement is <{tag}>, verwacht was <{root}>").format(
                    tag=_short(tag), root=ROOT_TAG
                )
            raise SourceFormatError(
                _(
                    "{label} is geen EDEXML-bestand: {problem}; kies de EDEX-export "
                    "(EDEXML 2.1) van de leerlingadministratie"
                ).format(
                    label=self.label,
                    problem=problem,
                )
            )

    def _foreign(self, elem: Any, line: int) -> SourceFormatError:
        qname = etree.QName(elem)
        return SourceFormatError(
            _(
                "{label} regel {line}: element <{localname}> staat in namespace "
                "{value}, en EDEXML-elementen staan in geen enkele, dus Sluis weet "
                "niet wat het bevat; {reexport_hint}"
            ).format(
                label=self.label,
                line=line,
                localname=_short(qname.localname),
                value=_short(qname.namespace or ""),
                reexport_hint=_reexport_hint(),
            )
        )

    def _on_end(self, elem: Any, tag: str) -> None:
        depth = len(self.stack)
        line = self.stack[-1][1]
        if depth == 2:
            if tag == "school":
                self._read_school(elem, line)
            _prune(elem)
        elif depth == 3:
            parent = self.stack[1][0]
            if parent == "school":
                # The school block is read whole when it ends; its fields stay till then.
                self.school_child_lines.setdefault(tag, line)
                return
            if parent == "leerlingen" and tag == "leerling":
                self._read_pupil(elem, line)
            elif parent == "groepen" and tag in _GROUP_TAGS:
                self._read_group(elem, tag, line)
            elif parent == "leerkrachten" and tag == "leerkracht":
                self._read_teacher(elem, line)
            _prune(elem)

    def _syntax_error(self, exc: etree.XMLSyntaxError) -> Exception:
        # lxml-stubs declares neither iteration over an error log nor `code` on the
        # exception, although lxml has both.
        log: Any = exc.error_log
        errors = [entry for entry in log if entry.level >= etree.ErrorLevels.ERROR]
        codes = {entry.type for entry in errors} | {getattr(exc, "code", None)}
        first_line = errors[0].line if errors else exc.lineno
        message = errors[0].message if errors else str(exc.msg or "")
        line = first_line or (exc.position[0] if exc.position else 0)
        where = at_line(self.label, line) if line else self.label
        if codes & _UNSAFE_ERROR_CODES or (not self.started and self._prolog_has_doctype()):
            return UnsafeInputError(
                _(
                    "{where}: geweigerd: het bestand declareert of gebruikt "
                    "XML-entiteiten (een DTD); EDEXML gebruikt ze nooit en ze kunnen "
                    "andere bestanden lezen of onbeperkt uitbreiden; {reexport_hint}, "
                    "zonder DOCTYPE"
                ).format(
                    where=where,
                    reexport_hint=_reexport_hint(),
                )
            )
        if _EMPTY_DOCUMENT_CODE in codes and not self.started:
            return SourceFormatError(
                _("{label}: het bestand heeft geen XML-inhoud; {reexport_hint}").format(
                    label=self.label,
                    reexport_hint=_reexport_hint(),
                )
            )
        return SourceFormatError(
            _(
                "{where}: geen goedgevormde XML ({message}); het bestand is "
                "misschien afgekapt, beschadigd of in een andere codering "
                "opgeslagen; {reexport_hint}"
            ).format(
                where=where,
                message=_describe(message),
                reexport_hint=_reexport_hint(),
            )
        )

    def _prolog_has_doctype(self) -> bool:
        with self.path.open("rb") as handle:
            head = handle.read(_PROLOG_SNIFF_BYTES)
        return any(marker in head for marker in _DOCTYPE_MARKERS)

    # -- objects ---------------------------------------------------------------------

    def _read_school(self, elem: Any, line: int) -> None:
        if self.school is not None:
            raise SourceFormatError(
                _(
                    "{label} regel {line}: een tweede <school>-blok; een "
                    "EDEXML-bestand bevat één school; {reexport_hint}"
                ).format(
                    label=self.label,
                    line=line,
                    reexport_hint=_reexport_hint(),
                )
            )
        school: dict[str, str | None] = dict.fromkeys(SCHOOL_FIELDS)
        lines = self.school_child_lines
        seen: set[str] = set()
        for child in _children(elem):
            if child.tag in school and child.tag not in seen:
                school[child.tag] = _text(child)
                seen.add(child.tag)
        version = school["xsdversie"]
        if version is not None:
            major = _MAJOR_VERSION.search(version)
            if major is None or major.group() != SUPPORTED_MAJOR_VERSION:
                raise SourceFormatError(
                    _(
                        "{label} regel {value}: EDEXML-versie {version} wordt niet "
                        "ondersteund, Sluis leest EDEXML 2.x; {reexport_hint}"
                    ).format(
                        label=self.label,
                        value=lines.get("xsdversie", line),
                        version=_quote(version),
                        reexport_hint=_reexport_hint(),
                    )
                )
        year = school["schooljaar"]
        if year is None:
            raise SourceFormatError(
                _(
                    "{label} regel {value}: <school> heeft geen <schooljaar>, en "
                    "toestemming hangt af van het schooljaar; {reexport_hint}"
                ).format(
                    label=self.label,
                    value=lines.get("schooljaar", line),
                    reexport_hint=_reexport_hint(),
                )
            )
        if not _is_school_year(year):
            raise SourceFormatError(
                _(
                    "{label} regel {value}: schooljaar {year} is geen schooljaar zoals "
                    "2026-2027 (tweede jaar = eerste jaar + 1); {reexport_hint}"
                ).format(
                    label=self.label,
                    value=lines.get("schooljaar", line),
                    year=_quote(year),
                    reexport_hint=_reexport_hint(),
                )
            )
        school["brincode"] = canonical_brin(school["brincode"])
        self.school = school
        self.school_line = line

    def _read_pupil(self, elem: Any, line: int) -> None:
        # The hot loop of the reader. Children are taken last to first, so that of two
        # children for one column the first is written last and wins; `_text` is written
        # out; non-elements need no test (comments and PIs are removed, and any other tag
        # is in none of the maps).
        row: list[str | None] = [None] * len(PUPIL_COLUMNS)
        text_at = _PUPIL_TEXT_AT
        for child in elem.iterchildren(reversed=True):
            tag = child.tag
            at = text_at.get(tag)
            if at is not None:
                text = child.text if not len(child) else "".join(child.itertext())
                row[at] = (text.strip() or None) if text else None
            elif tag == "groep":
                row[_GROEPSKEY_AT] = _attr(child, "key")
            elif tag == "samengestelde_groepen":
                keys = [
                    key
                    for link in _children(child)
                    if link.tag == "samengestelde_groep"
                    for key in [_attr(link, "key")]
                    if key is not None
                ]
                row[_SAMENGESTELDE_GROEPEN_AT] = _join(keys)
            elif tag == "vestiging":
                row[_VESTIGING_AT] = _attr(child, "key")
            elif tag == "toevoegingen":
                # Read only so the deny-list can see there is free text; never delivered.
                words = " ".join(child.itertext()).split()
                row[_TOEVOEGINGEN_AT] = " ".join(words) or None
        row[_LEERLINGKEY_AT] = _attr(elem, "key")
        row[_ECKID_AT] = _attr(elem, "eckid")
        # A tuple of strings the garbage collector stops tracking; a list it would visit.
        self.pupils.append(tuple(row))
        self.pupil_lines.append(line)

    def _read_group(self, elem: Any, soort: str, line: int) -> None:
        row: dict[str, str | None] = {"groepskey": _attr(elem, "key"), "soort": soort}
        for child in _children(elem):
            column = _GROUP_TEXT_ELEMENTS.get(child.tag)
            if column is not None and column not in row:
                row[column] = _text(child)
        if soort == "samengestelde_groep":
            # A composite group spans year groups by definition; never take one from it.
            row["jaargroep"] = None
        self.groups.append(tuple(row.get(name) for name in GROUP_COLUMNS))
        self.group_lines.append(line)

    def _read_teacher(self, elem: Any, line: int) -> None:
        row: dict[str, str | None] = {
            "leerkrachtkey": _attr(elem, "key"),
            "eckid": _attr(elem, "eckid"),
        }
        roles: set[str] = set()
        groups: list[str] = []
        for child in _children(elem):
            tag = child.tag
            column = _TEACHER_TEXT_ELEMENTS.get(tag)
            if column is not None:
                if column not in row:
                    row[column] = _text(child)
            elif tag == "rol":
                _add_role(roles, child)
            elif tag == "groepen":
                for link in _children(child):
                    if link.tag not in _GROUP_TAGS:
                        continue
                    key = _attr(link, "key")
                    if key is not None:
                        groups.append(key)
                    # A role given per group link is still one of the teacher's roles.
                    for nested in _children(link):
                        if nested.tag == "rol":
                            _add_role(roles, nested)
        row["rollen"] = _join(sorted(roles))
        row["groepen"] = _join(groups)
        self.teachers.append(tuple(row.get(name) for name in TEACHER_COLUMNS))
        self.teacher_lines.append(line)

    # -- result ----------------------------------------------------------------------

    def export(self, digest: str) -> SchoolExport:
        """Assemble the frames once the whole file has been read."""
        school = self.school if self.school is not None else dict.fromkeys(SCHOOL_FIELDS)
        pupils = _frame(self.pupils, PUPIL_COLUMNS, self.label, self.pupil_lines)
        groups = _frame(self.groups, GROUP_COLUMNS, self.label, self.group_lines)
        teachers = _frame(self.teachers, TEACHER_COLUMNS, self.label, self.teacher_lines)
        note = _(
            "{name}: {pupils} leerlingen, {groups} groepen, {teachers} leerkrachten gelezen "
            "(EDEXML, schooljaar {schooljaar})"
        ).format(
            name=self.path.name,
            pupils=len(pupils),
            groups=len(groups),
            teachers=len(teachers),
            schooljaar=school["schooljaar"],
        )
        return SchoolExport(
            path=self.path,
            sha256=digest,
            format=FORMAT,
            school=school,
            school_line=self.school_line,
            pupils=pupils,
            groups=groups,
            teachers=teachers,
            encoding=self.encoding,
            notes=(note,),
            vestigingen=_read_vestigingen(self.path, self.label),
        )


def _read_vestigingen(path: Path, source_file: str) -> pd.DataFrame:
    """The school's locations (vestigingen/vestiging), read from the top of the file.

    The block comes before groepen and leerlingen, so the read stops there instead of
    passing the whole file again; the main read has already refused any DTD or entity.
    """
    rows: list[tuple[str | None, ...]] = []
    lines: list[int] = []
    depth = 0
    # Opened here, not by lxml: the read stops early, and the file must be closed then.
    with path.open("rb") as handle:
        parser = etree.iterparse(
            handle,
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        )
        for event, elem in parser:
            if event == "start":
                depth += 1
                if depth == 2 and elem.tag in ("groepen", "leerlingen", "leerkrachten"):
                    break
                continue
            depth -= 1
            parent = elem.getparent()
            if (
                depth == 2
                and elem.tag == "vestiging"
                and parent is not None
                and (parent.tag == "vestigingen")
            ):
                naam = elem.find("naam")
                description = elem.find("omschrijving")
                rows.append(
                    (
                        _attr(elem, "key"),
                        _text(naam) if naam is not None else None,
                        _text(description) if description is not None else None,
                    )
                )
                lines.append(int(elem.sourceline or 0))
    # The same builder and source_file as the pupils: references are matched on both.
    return _frame(rows, VESTIGING_COLUMNS, source_file, lines)


def _children(elem: Any) -> Iterable[Any]:
    return (child for child in elem if isinstance(child.tag, str))


def _text(elem: Any) -> str | None:
    # All text in the element, stripped; a leaf's is just its .text, which is quicker.
    text = elem.text if not len(elem) else "".join(elem.itertext())
    return (text.strip() or None) if text else None


def _attr(elem: Any, name: str) -> str | None:
    # EDEXML: leading and trailing spaces in keys are not significant.
    value = elem.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _add_role(roles: set[str], elem: Any) -> None:
    code = _text(elem)
    if code is not None:
        roles.add(code)


def _join(values: list[str]) -> str | None:
    return GROUP_KEY_SEPARATOR.join(values) if values else None


def _prune(elem: Any) -> None:
    # Without this, the parser keeps every finished element attached to the tree.
    elem.clear(keep_tail=False)
    parent = elem.getparent()
    if parent is not None:
        del parent[: parent.index(elem)]


def _frame(
    rows: list[tuple[str | None, ...]],
    names: tuple[str, ...],
    source_file: str,
    lines: list[int],
) -> pd.DataFrame:
    # One Arrow table converted at once: the same frame as a Series of dtype "str" per
    # column and one of int64 for the lines, in a fraction of the time. `zip` hands out
    # the columns one at a time, so only one extra column exists at any moment.
    text = pa.large_string()
    columns = zip(*rows, strict=True) if rows else ([] for _ in names)
    arrays = [pa.array(values, type=text) for values in columns]
    arrays.append(pa.array([source_file] * len(lines), type=text))
    arrays.append(pa.array(lines, type=pa.int64()))
    table = pa.Table.from_arrays(arrays, names=[*names, SOURCE_FILE, SOURCE_LINE])
    return table.to_pandas(types_mapper={text: pandas_dtype("str")}.get)


def _is_wide_encoding(first_chunk: bytes) -> bool:
    # In UTF-16/32 a 0x0A byte is not necessarily a line break, so lines cannot be
    # counted from bytes; libxml2's own line numbers are used instead.
    head = first_chunk[:4]
    return head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head


def _is_school_year(value: str) -> bool:
    match = _SCHOOLJAAR.fullmatch(value)
    return match is not None and int(match.group(2)) == int(match.group(1)) + 1


def _describe(message: str) -> str:
    # libxml2 quotes offending bytes ("Bytes: 0xC3 0x28"), which may be part of a name;
    # the position is reported separately, so both are cut from the message.
    message = message.split("Bytes:")[0]
    message = re.sub(r",\s*line \d+,\s*column \d+.*$", "", message, flags=re.DOTALL)
    message = " ".join(message.split()).rstrip(" ,.!")
    return _short(message, 120) or _("onleesbare XML")


def _quote(value: str) -> str:
    return repr(_short(value))


def _short(value: str, limit: int = _MAX_QUOTED) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"
