"""EDEXML elements to rows: the school header, pupils, groups, teachers and vestigingen."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from lxml import etree
from pandas.api.types import pandas_dtype

from connectors.errors import SourceFormatError
from connectors.i18n import _
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
)

__all__ = ["FORMAT", "ROOT_TAG", "SUPPORTED_MAJOR_VERSION", "RowCollector"]

FORMAT = "edexml"
ROOT_TAG = "EDEX"
SUPPORTED_MAJOR_VERSION = "2"


def reexport_hint() -> str:
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

GROUP_TAGS = frozenset({"groep", "samengestelde_groep"})

_SCHOOLJAAR = re.compile(r"(\d{4})-(\d{4})")
_MAJOR_VERSION = re.compile(r"\d+")

_MAX_QUOTED = 40


class RowCollector:
    """The rows of one file, collected element by element; `export` makes the frames."""

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
        # Lines of the school block's fields, for messages about them.
        self.school_child_lines: dict[str, int] = {}

    def _refused(self, line: int, problem: str) -> SourceFormatError:
        """The school block is refused: `problem` at `line`, and how to export it again."""
        return SourceFormatError(
            _("{label} regel {line}: {problem}; {reexport_hint}").format(
                label=self.label, line=line, problem=problem, reexport_hint=reexport_hint()
            )
        )

    # -- objects ---------------------------------------------------------------------

    def read_school(self, elem: Any, line: int) -> None:
        """Read the <school> block into the school header; refuse a second one or a bad year."""
        if self.school is not None:
            raise self._refused(
                line, _("een tweede <school>-blok; een EDEXML-bestand bevat één school")
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
                raise self._refused(
                    lines.get("xsdversie", line),
                    _(
                        "EDEXML-versie {version} wordt niet ondersteund, Sluis leest EDEXML 2.x"
                    ).format(version=_quote(version)),
                )
        year = school["schooljaar"]
        if year is None:
            raise self._refused(
                lines.get("schooljaar", line),
                _("<school> heeft geen <schooljaar>, en toestemming hangt af van het schooljaar"),
            )
        if not _is_school_year(year):
            raise self._refused(
                lines.get("schooljaar", line),
                _(
                    "schooljaar {year} is geen schooljaar zoals 2026-2027 (tweede jaar = "
                    "eerste jaar + 1)"
                ).format(year=_quote(year)),
            )
        school["brincode"] = canonical_brin(school["brincode"])
        self.school = school
        self.school_line = line

    def read_pupil(self, elem: Any, line: int) -> None:
        """Add one <leerling> as a pupil row."""
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

    def read_group(self, elem: Any, soort: str, line: int) -> None:
        """Add one <groep> or <samengestelde_groep> as a group row."""
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

    def read_teacher(self, elem: Any, line: int) -> None:
        """Add one <leerkracht> as a teacher row, with its roles and groups."""
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
                    if link.tag not in GROUP_TAGS:
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


def prune(elem: Any) -> None:
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


def _is_school_year(value: str) -> bool:
    match = _SCHOOLJAAR.fullmatch(value)
    return match is not None and int(match.group(2)) == int(match.group(1)) + 1


def _quote(value: str) -> str:
    return repr(short(value))


def short(value: str, limit: int = _MAX_QUOTED) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"
