"""The two EDEXML readers, fast and exact, over lxml's pull parser."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Literal

from lxml import etree

from connectors.errors import InputError, SourceFormatError, UnsafeInputError
from connectors.i18n import _, at_line
from connectors.sources.edexml_places import GROUP_FILTER, REPORTED_FILTER, FallBack, TagPlaces
from connectors.sources.edexml_rows import (
    GROUP_TAGS,
    ROOT_TAG,
    RowCollector,
    prune,
    reexport_hint,
    short,
)

# EDEXML elements are in no namespace. Exports declare this one on the root for its
# attributes (xsi:noNamespaceSchemaLocation); an element in it, or in any other, is refused.
_XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"

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

# Lines are fed one at a time; a file without line breaks is fed in pieces of this size.
_MAX_CHUNK_BYTES = 1 << 16

# The fast reader feeds the parser this much at a time (larger chunks measured slower:
# the tree built for a chunk no longer fits the CPU caches) ...
_FAST_CHUNK_BYTES = 1 << 16
# Rows whose end lxml reports, per top-level block.
_REPORTED_ROWS: dict[str, frozenset[str]] = {
    "leerlingen": frozenset({"leerling"}),
    "leerkrachten": frozenset({"leerkracht"}),
}
_NO_ROWS: frozenset[str] = frozenset()


class EdexmlReader(RowCollector):
    """One pass over one file: collects rows while the tree is pruned."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        # Open elements from the root down: tag and the line of the start tag.
        self.stack: list[tuple[str, int]] = []
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
        # start-ns is reported whatever the tag filter: namespaced elements, which the
        # filter would not show, can only exist where one is declared.
        parser = _pull_parser(("start", "end", "start-ns"), tag=REPORTED_FILTER)
        places = TagPlaces()
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
        except (FallBack, etree.LxmlError, InputError):
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
            raise FallBack

    def _handle_fast(self, events: Iterable[tuple[str, Any]], places: TagPlaces) -> None:
        lines = self.stack_lines
        place = places.place
        last_row = None  # pruned, with the rows before it, once these events are handled
        for event, elem in events:
            if event == "start-ns":
                prefix, uri = elem
                if not prefix or uri != _XSI_NAMESPACE:
                    raise FallBack  # elements may be in it: the exact reader decides
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
                        self.read_pupil(elem, line)
                    else:
                        self.read_teacher(elem, line)
                    last_row = elem
            elif elem is self.section:
                if self.section.tag == "groepen":
                    self._read_groups_fast(elem, places)
                self.section = None
                self.section_rows = _NO_ROWS
                last_row = None
                prune(elem)
            elif elem is self.school_elem:
                self.school_elem = None
                self.read_school(elem, line)
                prune(elem)
        if last_row is not None:
            prune(last_row)

    def _start_fast(self, elem: Any, tag: str) -> None:
        if self.root is None:
            if tag != ROOT_TAG or elem.getparent() is not None:
                raise FallBack  # the root element is not <EDEX>
            self._check_root(elem)
            self.root = elem
            return
        if self.section is not None and self.section.tag == "groepen":
            raise FallBack  # the groups are placed when <groepen> ends, nothing between
        if elem.getparent() is not self.root:
            return
        if tag == "school":
            # A second <school>, or one after another block, is an error: the exact
            # reader words it.
            if self.school is not None or elem.getprevious() is not None:
                raise FallBack
            self.school_elem = elem
        elif self.school is None:
            raise FallBack  # a block before <school>
        else:
            self.section = elem
            self.section_rows = _REPORTED_ROWS.get(tag, _NO_ROWS)

    def _read_groups_fast(self, section: Any, places: TagPlaces) -> None:
        # In document order, so the start tags are placed in the order of the bytes.
        for elem in section.iter(GROUP_FILTER):
            tag = elem.tag
            line = places.place(elem, tag)
            if elem.getparent() is section:
                self.read_group(elem, tag, line)

    # -- parsing: exact --------------------------------------------------------------

    def read(self, handle: IO[bytes]) -> None:
        """Stream the file, turning each object into a row and pruning it afterwards."""
        # A pull parser fed line by line, not iterparse: libxml2 stores element lines in
        # 16 bits and past line 65,535 guesses them from the next text node (one line
        # late for an indented file). Counting the lines we feed is exact, and each
        # start event arrives while the line that completes its start tag is being fed,
        # which is the line libxml2 itself reports below 65,535.
        parser = _pull_parser(("start", "end"))
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
                    reexport_hint=reexport_hint(),
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
                    reexport_hint=reexport_hint(),
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
                            tag=short(tag),
                            reexport_hint=reexport_hint(),
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
                    reexport_hint=reexport_hint(),
                )
            )
        tag = elem.tag if isinstance(elem.tag, str) else "?"
        if tag != ROOT_TAG:
            qname = etree.QName(elem)
            if qname.localname == ROOT_TAG:
                problem = _(
                    "het hoofdelement <EDEX> staat in namespace {namespace}, verwacht was "
                    "geen namespace (is dit een UWLR-bericht?)"
                ).format(namespace=short(qname.namespace or ""))
            else:
                problem = _("het hoofdelement is <{tag}>, verwacht was <{root}>").format(
                    tag=short(tag), root=ROOT_TAG
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
                localname=short(qname.localname),
                value=short(qname.namespace or ""),
                reexport_hint=reexport_hint(),
            )
        )

    def _on_end(self, elem: Any, tag: str) -> None:
        depth = len(self.stack)
        line = self.stack[-1][1]
        if depth == 2:
            if tag == "school":
                self.read_school(elem, line)
            prune(elem)
        elif depth == 3:
            parent = self.stack[1][0]
            if parent == "school":
                # The school block is read whole when it ends; its fields stay till then.
                self.school_child_lines.setdefault(tag, line)
                return
            if parent == "leerlingen" and tag == "leerling":
                self.read_pupil(elem, line)
            elif parent == "groepen" and tag in GROUP_TAGS:
                self.read_group(elem, tag, line)
            elif parent == "leerkrachten" and tag == "leerkracht":
                self.read_teacher(elem, line)
            prune(elem)

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
                    reexport_hint=reexport_hint(),
                )
            )
        if _EMPTY_DOCUMENT_CODE in codes and not self.started:
            return SourceFormatError(
                _("{label}: het bestand heeft geen XML-inhoud; {reexport_hint}").format(
                    label=self.label,
                    reexport_hint=reexport_hint(),
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
                reexport_hint=reexport_hint(),
            )
        )

    def _prolog_has_doctype(self) -> bool:
        with self.path.open("rb") as handle:
            head = handle.read(_PROLOG_SNIFF_BYTES)
        return any(marker in head for marker in _DOCTYPE_MARKERS)


def _is_wide_encoding(first_chunk: bytes) -> bool:
    # In UTF-16/32 a 0x0A byte is not necessarily a line break, so lines cannot be
    # counted from bytes; libxml2's own line numbers are used instead.
    head = first_chunk[:4]
    return head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head


def _describe(message: str) -> str:
    # libxml2 quotes offending bytes ("Bytes: 0xC3 0x28"), which may be part of a name;
    # the position is reported separately, so both are cut from the message.
    message = message.split("Bytes:")[0]
    message = re.sub(r",\s*line \d+,\s*column \d+.*$", "", message, flags=re.DOTALL)
    message = " ".join(message.split()).rstrip(" ,.!")
    return short(message, 120) or _("onleesbare XML")


def _pull_parser(
    events: tuple[Literal["start", "end", "start-ns"], ...], tag: tuple[str, ...] | None = None
) -> etree.XMLPullParser:
    """A pull parser for an export, which is untrusted input.

    No entities, no network, no DTD, no tree beyond libxml2's limits; comments and
    processing instructions are dropped, so that only elements and text reach the reader.
    """
    return etree.XMLPullParser(
        events=events,
        tag=tag,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
