"""Where the fast EDEXML reader's start tags are in the raw bytes, to count their lines.

No library gives these lines: libxml2 keeps an element's line in 16 bits (65,535 at most;
past it lxml's `sourceline` is one line late for an indented file, also with huge_tree),
and neither lxml nor the pull parser tells how far into the fed bytes an event is.
Counting fed lines is exact only when one line is fed at a time, which is the exact
reader, 2.2 times slower than this search on a 20,000-pupil file; expat's exact
`CurrentLineNumber` costs as much as the whole fast reader already with empty handlers.
"""

from __future__ import annotations

import re
from typing import Any

from connectors.sources.edexml_rows import GROUP_TAGS, ROOT_TAG

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
REPORTED_FILTER = tuple(sorted(f"{{*}}{tag}" for tag in _REPORTED_TAGS))
_REPORTED_NAMES = frozenset(tag.encode("ascii") for tag in _REPORTED_TAGS)
GROUP_FILTER = tuple(sorted(f"{{*}}{tag}" for tag in GROUP_TAGS))
# "<name" in the raw bytes, for every element the fast reader places.
_TAG_OPEN = {tag: b"<" + tag.encode("ascii") for tag in _REPORTED_TAGS | GROUP_TAGS}
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


class FallBack(Exception):
    """The fast reader cannot vouch for this file; the exact reader reads it."""


class TagPlaces:
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
            raise FallBack

    def place(self, elem: Any, tag: str) -> int:
        """The line of the ">" that ends the start tag of `elem` (tag `tag`)."""
        needle = _TAG_OPEN.get(tag)
        if needle is None:
            raise FallBack  # a namespaced element: the exact reader decides
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
            raise FallBack
        end = match.end()
        line = self.line + buffer.count(b"\n", pos, end)
        self.pos = end
        self.line = line
        if line < _EXACT_SOURCELINE_LIMIT and elem.sourceline != line:
            raise FallBack
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
                raise FallBack
            match = _MARKUP.search(self.buffer, match.end())
