"""EDEXML 2.1 output, and the UWLR 2.2 "smalle set" message, for one school per file.

What is written is declared once, in XSD order, in the element tables below; the writer
walks them. Only the agreement's fields (the frame's columns) become pupil elements; the
school header, the groups and the teachers come from the render context, which policy has
already cut down. Whatever EDEXML requires but the agreement does not give is filled the
way the standard itself allows, never with pupil data:

- a leerling or leerkracht without a persistent key gets `#<n>` (n = its row, counted
  from 1): EDEXML's own mark of a key that a receiver must not keep;
- a group whose name the agreement does not list (no `groepsnaam`) is named by its key;
- the school header carries the organisation data of the context plus `aanmaakdatum`
  (the run's `created_at`, never the clock), `auteur` "Sluis" and `xsdversie`.

A value the schema would refuse (too long, not a code, not a date, a character XML cannot
hold) stops the file with an InputError that names the field and a count, never a value:
a file the supplier cannot read is no delivery. `toevoegingen` are never written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from types import MappingProxyType
from typing import ClassVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree

from connectors.errors import ConfigurationError, InputError
from connectors.formats.base import (
    DataFile,
    FieldNeed,
    RenderContext,
    arrow_text,
    check_frame,
    check_options,
    clean_text,
)
from connectors.i18n import N_, _
from connectors.sources.base import GROUP_KEY_SEPARATOR

__all__ = [
    "AUTHOR",
    "EDEXML_XSD_VERSION",
    "UWLR_NAMESPACE",
    "UWLR_SMALLE_SET",
    "UWLR_XSD_VERSION",
    "EdexmlFormat",
]

UWLR_SMALLE_SET = "uwlr-smalle-set"
UWLR_NAMESPACE = "http://www.edustandaard.nl/leerresultaten/2/leerlinggegevens"
# school/xsdversie is "always the version of the XSD referred to" (SchoolType annotation).
EDEXML_XSD_VERSION = "2.1"
UWLR_XSD_VERSION = "2.2"
# school/auteur: who made the file.
AUTHOR = "Sluis"

_FORMAT = "edexml"
_NO_OPTIONS: Mapping[str, str] = MappingProxyType({})
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
# As in the official samples and the administrations' own exports, so that a receiver
# that looks for it finds the schema the file claims.
_SCHEMA_LOCATION = "EDEXML.structuur.xsd"
_GROUP_KIND_STAM = "groep"
_GROUP_KIND_COMPOSITE = "samengestelde_groep"
# EDEXML: "a key starting with # is not persistent"; the receiver must not keep it.
_NON_PERSISTENT = "#"

# Code lists of EDEXML.types.vast.xsd / EDEXML.types.variabel.xsd (the contracts check
# the same lists; they live a layer up, so the writer keeps its own copy of the schema's).
_GESLACHT = ("0", "1", "2", "9")
_JAARGROEP = (
    *("B", "D", "0", "1", "2", "3", "4", "5", "6", "7", "8"),
    *("11", "12", "13", "14", "15", "16", "S", "V", "C", "N", "H"),
)
_SCHOOL_YEAR = re.compile(r"\d{4}-\d{4}")
_BRINCODE = re.compile(r"\d{2}[A-Z]{2}")
_DEPENDANCECODE = re.compile(r"\d{2}")
# Characters XML 1.0 cannot hold at all; lxml would refuse them with the value in the
# message, so they are found first (RE2 for the columns, re for the school header).
_NOT_XML_RE2 = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TEXT = pa.large_string()


@dataclass(frozen=True)
class _Rule:
    """What the schema accepts in one element: at most so many characters, a code or a date."""

    max_length: int
    codes: tuple[str, ...] = ()
    date: bool = False

    def describe(self) -> str:
        if self.codes:
            return _("een van {codes}").format(codes=", ".join(self.codes))
        if self.date:
            return _("een datum jjjj-mm-dd")
        return _("hoogstens {count} tekens").format(count=self.max_length)

    @cached_property
    def code_set(self) -> pa.Array:
        return pa.array(self.codes, _TEXT)

    def broken(self, values: pa.Array) -> int:
        """How many present values break the rule (missing ones are simply not written)."""
        present = pc.drop_null(values)
        if self.codes:
            bad = pc.invert(pc.is_in(present, value_set=self.code_set))
        elif self.date:
            # Arrow's strptime is lenient (2019-02-30 rolls over to March, 2019-1-5 is
            # read): writing the parsed date back and comparing catches both. Year 0000
            # is not an xs:date.
            parsed = pc.strptime(present, format="%Y-%m-%d", unit="s", error_is_null=True)
            same = pc.equal(parsed.cast(pa.date32()).cast(_TEXT), present)
            bad = pc.or_(pc.invert(pc.fill_null(same, False)), pc.starts_with(present, "0000"))
        else:
            bad = pc.greater(pc.utf8_length(present), self.max_length)
        return _count(bad)


_KEY = _Rule(256)
_STRING64 = _Rule(64)
_STRING256 = _Rule(256)
_DATE = _Rule(10, date=True)


@dataclass(frozen=True)
class _Field:
    """A canonical field written as the text of one EDEXML element."""

    name: str
    tag: str
    rule: _Rule


_ACHTERNAAM = _Field("achternaam", "achternaam", _Rule(200))
_VOORVOEGSEL = _Field("voorvoegsel", "voorvoegsel", _Rule(10))
_VOORNAMEN = _Field("voornamen", "voornamen", _Rule(200))
_VOORLETTERS = _Field("voorletters", "voorletters-1", _Rule(6))
_ROEPNAAM = _Field("roepnaam", "roepnaam", _STRING64)
_EMAILADRES = _Field("emailadres", "emailadres", _STRING256)
_GEBOORTEDATUM = _Field("geboortedatum", "geboortedatum", _DATE)
_JAARGROEP_FIELD = _Field("jaargroep", "jaargroep", _Rule(2, codes=_JAARGROEP))
_NAME_NEED = FieldNeed(("achternaam", "roepnaam"), N_("de XSD geeft elke persoon een naam"))
# Written only in the achternaam branch of the name choice (LeerlingType, LeerkrachtType).
_NEEDS_SURNAME = frozenset({"voorvoegsel", "voornamen", "voorletters"})
# The identity, the group links and the school header, which every layout carries.
_STRUCTURE_FIELDS = frozenset(
    {"leerlingkey", "eckid", "groepskey", "samengestelde_groepen", "groepsnaam"}
)
_SCHOOL_HEADER_FIELDS = frozenset({"brincode", "dependancecode", "schooljaar"})
_TEACHER_STRUCTURE_FIELDS = frozenset({"leerkrachtkey", "eckid", "groepen"})

# EDEXML elements Sluis never writes, and why (say so instead of "no element").
_NATIONAL_OR_SPECIAL = N_("nationale nummers, afkomst, gewicht en postcode blijven buiten edexml")
_NOT_WRITTEN = {
    "vestiging": N_("het verwijst naar een vestigingenblok, dat Sluis niet levert"),
    "toevoegingen": N_("vrije tekst wordt nooit doorgegeven"),
    "mutatiedatum": N_("het is de eigen boekhouding van de administratie"),
    **dict.fromkeys(
        (
            "bsn",
            "sofinummer",
            "onderwijsnummer",
            "bsn_ondwnr4",
            "rijksregisternummer",
            "etniciteit",
            "land",
            "land_vader",
            "land_moeder",
            "gewicht",
            "gewicht_nieuw",
            "postcode",
        ),
        _NATIONAL_OR_SPECIAL,
    ),
}


@dataclass(frozen=True)
class _Layout:
    """One output shape: which elements a leerling and leerkracht have, in XSD order."""

    label: str
    namespace: str | None
    xsd_version: str
    # The name choice's achternaam branch, achternaam first and roepnaam last.
    names: tuple[_Field, ...]
    # Between the name and the group links (groep, samengestelde_groepen) ...
    before_groups: tuple[_Field, ...]
    # ... and after them.
    after_groups: tuple[_Field, ...]
    teacher_names: tuple[_Field, ...]
    teacher_after_names: tuple[_Field, ...]

    @property
    def pupil_fields(self) -> frozenset[str]:
        written = (*self.names, *self.before_groups, *self.after_groups)
        return _STRUCTURE_FIELDS | _SCHOOL_HEADER_FIELDS | {field.name for field in written}

    @property
    def teacher_fields(self) -> frozenset[str]:
        written = (*self.teacher_names, *self.teacher_after_names)
        return _TEACHER_STRUCTURE_FIELDS | {field.name for field in written}

    @property
    def pupil_columns(self) -> tuple[str, ...]:
        """The frame columns that become part of a leerling element."""
        written = (*self.names, *self.before_groups, *self.after_groups)
        links = ("leerlingkey", "eckid", "groepskey", "samengestelde_groepen")
        return (*links, *(field.name for field in written))

    @property
    def teacher_columns(self) -> tuple[str, ...]:
        """The teacher columns that become part of a leerkracht element (groepen aside)."""
        written = (*self.teacher_names, *self.teacher_after_names)
        return ("leerkrachtkey", "eckid", *(field.name for field in written))

    def tag(self, local: str) -> str:
        return f"{{{self.namespace}}}{local}" if self.namespace else local


# EDEXML.elementen.xsd, LeerlingType and LeerkrachtType, in sequence order.
_EDEXML = _Layout(
    label=_FORMAT,
    namespace=None,
    xsd_version=EDEXML_XSD_VERSION,
    names=(_ACHTERNAAM, _VOORVOEGSEL, _VOORNAMEN, _VOORLETTERS, _ROEPNAAM),
    before_groups=(
        _GEBOORTEDATUM,
        _Field("geslacht", "geslacht", _Rule(1, codes=_GESLACHT)),
        _Field("start_ondw_jgr3", "start_ondw_jgr3", _DATE),
        _JAARGROEP_FIELD,
    ),
    after_groups=(
        _Field("gebruikersnaam", "gebruikersnaam", _STRING64),
        _EMAILADRES,
        _Field("fotourl", "fotourl", _STRING256),
        _Field("instroomdatum", "instroomdatum", _DATE),
        _Field("uitstroomdatum", "uitstroomdatum", _DATE),
    ),
    teacher_names=(_ACHTERNAAM, _VOORVOEGSEL, _VOORLETTERS, _ROEPNAAM),
    teacher_after_names=(_EMAILADRES,),
)

# Profiel_Smalle_set_EDEXML.elementen.xsd: what is left outside the "profiel inperking"
# comments. Groups keep naam and jaargroep, so groepsnaam stays allowed.
_SMALLE_SET = _Layout(
    label=UWLR_SMALLE_SET,
    namespace=UWLR_NAMESPACE,
    xsd_version=UWLR_XSD_VERSION,
    names=(_ACHTERNAAM, _VOORVOEGSEL, _ROEPNAAM),
    before_groups=(_GEBOORTEDATUM, _JAARGROEP_FIELD),
    after_groups=(),
    teacher_names=(_ACHTERNAAM, _VOORVOEGSEL, _ROEPNAAM),
    teacher_after_names=(_EMAILADRES,),
)

_LAYOUTS: dict[str | None, _Layout] = {None: _EDEXML, UWLR_SMALLE_SET: _SMALLE_SET}


class EdexmlFormat:
    """Renders one school's delivery as `<basename>.xml`: EDEXML 2.1, or UWLR 2.2 smalle set.

    Plain EDEXML has root `EDEX` (no namespace). With profile "uwlr-smalle-set" the file
    is the UWLR response message `leerlinggegevens_antwoord` in namespace
    UWLR_NAMESPACE, holding `leerlinggegevens` (or `geengegevens` when no pupil is
    delivered). It takes no options, and needs a RenderContext.
    """

    # A full snapshot: a pupil who is gone is simply not in the next file.
    expresses_deletions: ClassVar[bool] = False
    profiles: ClassVar[tuple[str, ...]] = (UWLR_SMALLE_SET,)
    flat: ClassVar[bool] = False
    # EDEXML 2.1 requires at least one leerling; the UWLR answer says geengegevens instead.
    needs_a_pupil: ClassVar[frozenset[str | None]] = frozenset({None})
    # The name choice of LeerlingType and LeerkrachtType: an achternaam, or a roepnaam.
    pupil_needs: ClassVar[tuple[FieldNeed, ...]] = (_NAME_NEED,)
    teacher_needs: ClassVar[tuple[FieldNeed, ...]] = (_NAME_NEED,)

    def render(
        self,
        frame: pd.DataFrame,
        *,
        basename: str,
        options: Mapping[str, str] = _NO_OPTIONS,
        context: RenderContext | None = None,
    ) -> list[DataFile]:
        """Render one school's delivered pupils, its groups and teachers as one XML file.

        Args:
            frame: the delivered pupils, one row per pupil, columns the agreement's
                fields; values are strings or missing. It is not mutated.
            basename: file name without extension.
            options: must be empty.
            context: the school header, created_at, groups, teachers and profile.

        Returns:
            One data file, `<basename>.xml`, UTF-8; rows is the number of leerlingen.

        Raises:
            ConfigurationError: no context, an unknown option or profile, mode delta, a
                column or teacher column the layout cannot carry, groups missing from the
                context, or (plain EDEXML) no pupil at all: EDEXML 2.1 requires at least
                one leerling, so a school with nothing to deliver gets no edexml file.
            InputError: a value the schema would refuse (named by field and count), a
                pupil or teacher without any name, or a key or ECK iD used twice.
        """
        check_options(options, format_name=_FORMAT, known=())
        check_frame(frame, format_name=_FORMAT)
        if context is None:
            raise ConfigurationError(
                _(
                    "{format} {basename}: heeft een RenderContext nodig (schoolkop, "
                    "created_at, groepen); geef RenderContext mee"
                ).format(
                    format=_FORMAT,
                    basename=repr(basename),
                )
            )
        layout = _layout(context.profile, label=basename)
        if context.mode != "full":
            raise ConfigurationError(
                _(
                    "{format} {basename}: EDEXML is een volledige momentopname en kan "
                    "modus {mode} niet uitdrukken; gebruik modus full"
                ).format(
                    format=_FORMAT,
                    basename=repr(basename),
                    mode=repr(context.mode),
                )
            )
        _refuse_columns(frame.columns, layout.pupil_fields, "fields", layout, basename)
        if context.teachers is not None:
            _refuse_columns(
                context.teachers.columns, layout.teacher_fields, "teacher_fields", layout, basename
            )
        try:
            root = _Writer(frame, context, layout, basename).document()
        except UnicodeEncodeError:
            # from None: the codec error quotes the offending text.
            raise InputError(
                _(
                    "{format} {basename}: een tekstwaarde is geen geldige Unicode (een "
                    "losse surrogate); er is niets geleverd"
                ).format(
                    format=_FORMAT,
                    basename=repr(basename),
                )
            ) from None
        content = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        return [DataFile(name=f"{basename}.xml", content=content, rows=len(frame))]

    def agreement_problems(
        self,
        fields: tuple[str, ...],
        *,
        teacher_fields: tuple[str, ...],
        identifier: str,
        mode: str,
        profile: str | None,
    ) -> list[str]:
        """What an agreement asks that EDEXML (or the profile) cannot carry or lacks to be valid.

        Mode is checked by the agreement loader (expresses_deletions), not here.

        Returns:
            One line per problem, starting with the key ("fields", "fields[<name>]",
            "identifier", "teacher_fields", "teacher_fields[<name>]", "format.profile").
        """
        layout = _LAYOUTS.get(profile)
        if layout is None:
            allowed = ", ".join(self.profiles)
            return [
                _(
                    "format.profile: onbekend profiel {profile} voor {type}; toegestaan: {allowed}"
                ).format(profile=repr(profile), type="edexml", allowed=allowed)
            ]
        listed = set(fields)
        problems = [
            problem
            for name in fields
            if (problem := _field_problem(name, layout, teacher=False)) is not None
        ]
        problems.extend(_identifier_problems(identifier, listed))
        problems.extend(_name_problems(listed, layout.pupil_fields, "fields", "leerling"))
        if "groepskey" in listed and "jaargroep" not in listed:
            problems.append(
                _(
                    "fields: edexml schrijft elke groep met haar jaargroep (de XSD eist het), dus "
                    "groepskey vraagt jaargroep; voeg jaargroep toe of verwijder groepskey"
                )
            )
        writes_groups = bool(listed & {"groepskey", "samengestelde_groepen"})
        if "groepsnaam" in listed and not writes_groups:
            problems.append(
                _(
                    "fields[groepsnaam]: edexml schrijft groepsnamen alleen in het groepenblok, en "
                    "dat vraagt groepskey of samengestelde_groepen; voeg er een toe of verwijder "
                    "groepsnaam"
                )
            )
        if teacher_fields:
            teachers = set(teacher_fields)
            problems.extend(
                problem
                for name in teacher_fields
                if (problem := _field_problem(name, layout, teacher=True)) is not None
            )
            problems.extend(
                _name_problems(teachers, layout.teacher_fields, "teacher_fields", "leerkracht")
            )
            if "groepen" in teachers and not writes_groups:
                problems.append(
                    _(
                        "teacher_fields[groepen]: edexml kan alleen verwijzen naar groepen die het "
                        "schrijft, en het schrijft ze alleen met groepskey of "
                        "samengestelde_groepen in fields; voeg er een toe of verwijder groepen"
                    )
                )
        return problems


# -- agreement checks ------------------------------------------------------------------


def _field_problem(name: str, layout: _Layout, *, teacher: bool) -> str | None:
    key = "teacher_fields" if teacher else "fields"
    allowed = layout.teacher_fields if teacher else layout.pupil_fields
    if name in allowed:
        return None
    plain = _EDEXML.teacher_fields if teacher else _EDEXML.pupil_fields
    if layout is not _EDEXML and (name in plain or name in _NOT_WRITTEN):
        return _(
            "{key}[{name}]: het profiel {profile} heeft er geen element voor; toegestaan: {allowed}"
        ).format(key=key, name=name, profile=layout.label, allowed=", ".join(sorted(allowed)))
    if not teacher and name in _NOT_WRITTEN:
        return _(
            "{key}[{name}]: Sluis schrijft dit element niet in edexml ({why}); gebruik format "
            "csv/parquet/oneroster of verwijder het"
        ).format(key=key, name=name, why=_(_NOT_WRITTEN[name]))
    if teacher:
        return _("{key}[{name}]: edexml heeft er geen element voor; toegestaan: {allowed}").format(
            key=key, name=name, allowed=", ".join(sorted(allowed))
        )
    return _(
        "{key}[{name}]: edexml heeft er geen element voor; gebruik format "
        "csv/parquet/oneroster of verwijder het"
    ).format(key=key, name=name)


def _identifier_problems(identifier: str, listed: set[str]) -> list[str]:
    if identifier == "pseudoniem":
        return [
            _(
                "identifier: edexml herkent leerlingen aan de sleutel van de administratie "
                "(leerling/@key) en het ECK iD, nooit aan een pseudoniem; gebruik identifier "
                "key, eckid of eckid_or_key, of format csv/parquet/oneroster"
            )
        ]
    if identifier in ("key", "eckid_or_key") and "leerlingkey" not in listed:
        return [
            _(
                "fields: identifier {identifier} vraagt leerlingkey (edexml schrijft het als "
                "leerling/@key); voeg leerlingkey toe"
            ).format(identifier=identifier)
        ]
    if identifier == "eckid" and "eckid" not in listed:
        return [
            _(
                "fields: identifier eckid vraagt eckid (edexml schrijft het als "
                "leerling/@eckid); voeg eckid toe"
            )
        ]
    return []


def _name_problems(listed: set[str], allowed: frozenset[str], key: str, what: str) -> list[str]:
    problems = []
    if not listed & {"achternaam", "roepnaam"}:
        problems.append(
            _(
                "{key}: edexml vraagt achternaam of roepnaam (de XSD geeft elke {what} een "
                "naam); voeg er een toe"
            ).format(key=key, what=what)
        )
    if "achternaam" not in listed:
        problems.extend(
            _(
                "{key}[{name}]: edexml schrijft {name} alleen naast achternaam; voeg achternaam "
                "toe of verwijder {name}"
            ).format(key=key, name=name)
            for name in sorted(listed & _NEEDS_SURNAME & allowed)
        )
    return problems


# -- rendering -------------------------------------------------------------------------


def _layout(profile: str | None, *, label: str) -> _Layout:
    layout = _LAYOUTS.get(profile)
    if layout is None:
        raise ConfigurationError(
            _(
                "{format} {label}: onbekend profiel {profile}; toegestaan: "
                "{uwlr_smalle_set} of geen"
            ).format(
                format=_FORMAT,
                label=repr(label),
                profile=repr(profile),
                uwlr_smalle_set=UWLR_SMALLE_SET,
            )
        )
    return layout


def _refuse_columns(
    columns: pd.Index, allowed: frozenset[str], key: str, layout: _Layout, label: str
) -> None:
    # The agreement check refuses these on load; a frame that still has one is a bug
    # upstream, and silently leaving a column out would short the supplier.
    extra = [str(name) for name in columns if name not in allowed]
    if extra:
        raise ConfigurationError(
            _(
                "{format} {label}: {label2} kan {key} {value} niet bevatten; de "
                "controle van de overeenkomst had ze moeten weigeren"
            ).format(
                format=_FORMAT,
                label=repr(label),
                label2=layout.label,
                key=key,
                value=", ".join(extra),
            )
        )


Values = list[str | None]
_NULL_TEXT = pa.scalar(None, _TEXT)
_CONTEXT_GROUP_COLUMNS = ("groepskey", "soort", "groepsnaam", "jaargroep")


class _Columns:
    """Some columns of one frame as Arrow text: trimmed, blank made missing.

    A school is a few hundred rows and a run writes thousands of schools, so the fixed
    cost per call matters more than the cost per value: the columns are laid end to end
    and each step is one pyarrow.compute call for all of them (a pandas string call
    costs about a millisecond each, whatever the size).

    Attributes:
        rows: rows per column (after `keep`).
        unsafe: names of the columns holding a character XML cannot hold.
    """

    def __init__(
        self, frame: pd.DataFrame | None, names: tuple[str, ...], *, keep: pa.Array | None = None
    ) -> None:
        present = [name for name in names if frame is not None and name in frame.columns]
        rows = len(frame) if frame is not None else 0
        self.rows = rows if keep is None else _count(keep)
        self._arrays: dict[str, pa.Array] = {}
        self.unsafe: tuple[str, ...] = ()
        if frame is None or not present:
            return
        joined = pa.concat_arrays([arrow_text(frame[name]) for name in present])
        if keep is not None:
            joined = pc.filter(joined, pa.concat_arrays([keep] * len(present)))
        trimmed = pc.utf8_trim_whitespace(joined)
        cleaned = pc.if_else(pc.equal(trimmed, ""), _NULL_TEXT, trimmed)
        size = self.rows
        self._arrays = {name: cleaned.slice(at * size, size) for at, name in enumerate(present)}
        if pc.any(pc.match_substring_regex(cleaned, _NOT_XML_RE2)).as_py():
            # Only now, on the way to an error, is each column looked at on its own.
            self.unsafe = tuple(
                name
                for name, array in self._arrays.items()
                if pc.any(pc.match_substring_regex(array, _NOT_XML_RE2)).as_py()
            )

    def __contains__(self, name: str) -> bool:
        return name in self._arrays

    def get(self, name: str) -> pa.Array:
        """The column, or an all-missing one when the frame does not have it."""
        array = self._arrays.get(name)
        return pa.nulls(self.rows, _TEXT) if array is None else array


def _count(mask: pa.Array) -> int:
    """How many are true (missing counts as false)."""
    return int(pc.sum(mask).as_py() or 0)


def _filled(values: Values) -> list[str]:
    """Keys after `_keys`, which leaves none missing (typed as such)."""
    return [value or "" for value in values]


def _split_keys(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    keys = (key.strip() for key in value.split(GROUP_KEY_SEPARATOR))
    # Once each, in the given order.
    return tuple(dict.fromkeys(key for key in keys if key))


def _keys(given: pa.Array, numbers: pa.Array) -> pa.Array:
    """Persistent keys as given; missing and '#' keys become '#<number>'."""
    persistent = pc.and_(
        pc.is_valid(given), pc.invert(pc.fill_null(pc.starts_with(given, _NON_PERSISTENT), False))
    )
    hashed = pc.binary_join_element_wise(
        pa.scalar(_NON_PERSISTENT, _TEXT), numbers.cast(_TEXT), pa.scalar("", _TEXT)
    )
    return pc.if_else(persistent, given, hashed)


def _row_numbers(rows: int) -> pa.Array:
    return pa.array(range(1, rows + 1), pa.int64())


class _Writer:
    """Builds the document for one school; every check runs before the first element."""

    def __init__(
        self, frame: pd.DataFrame, context: RenderContext, layout: _Layout, label: str
    ) -> None:
        self.frame = frame
        self.context = context
        self.layout = layout
        self.label = label
        self.q: Callable[[str], str] = layout.tag

    # -- checks shared by pupils, teachers and groups --------------------------------

    def _elements(
        self, columns: _Columns, fields: tuple[_Field, ...], what: str
    ) -> list[tuple[str, Values]]:
        """(qualified tag, checked values) of each of `fields` the columns hold, in order."""
        return [
            (self.q(field.tag), self._checked(columns.get(field.name), field, what))
            for field in fields
            if field.name in columns
        ]

    def _checked(self, values: pa.Array, field: _Field, what: str) -> Values:
        count = field.rule.broken(values)
        if count:
            raise InputError(
                _(
                    "{format} {label}: {count} {what} een {name} die EDEXML niet kan "
                    "bevatten ({value}); verbeter het in de administratie"
                ).format(
                    format=_FORMAT,
                    label=repr(self.label),
                    count=count,
                    what=what,
                    name=field.name,
                    value=field.rule.describe(),
                )
            )
        values_list: Values = values.to_pylist()
        return values_list

    def _safe(self, columns: _Columns, what: str) -> _Columns:
        if columns.unsafe:
            raise InputError(
                _(
                    "{format} {label}: {what} een {value} met een stuurteken dat XML "
                    "niet kan bevatten; verbeter het in de administratie"
                ).format(
                    format=_FORMAT,
                    label=repr(self.label),
                    what=what,
                    value=", ".join(columns.unsafe),
                )
            )
        return columns

    def _unique(self, values: pa.Array, name: str, what: str) -> None:
        counts = pc.value_counts(pc.drop_null(values)).field("counts")
        rows = int(pc.sum(pc.filter(counts, pc.greater(counts, 1))).as_py() or 0)
        if rows:
            raise InputError(
                _(
                    "{format} {label}: {rows} {what} een {name} met een ander gemeen; "
                    "EDEXML eist dat elk uniek is"
                ).format(
                    format=_FORMAT,
                    label=repr(self.label),
                    rows=rows,
                    what=what,
                    name=name,
                )
            )

    def _names(
        self, columns: _Columns, fields: tuple[_Field, ...], what: str
    ) -> tuple[Values, list[tuple[str, Values]], list[tuple[str, Values]]]:
        """Surnames, the achternaam branch and the roepnaam-only branch of the name choice."""
        surnames, given = columns.get("achternaam"), columns.get("roepnaam")
        nameless = _count(pc.and_(pc.is_null(surnames), pc.is_null(given)))
        if nameless:
            raise InputError(
                _(
                    "{format} {label}: {nameless} {what} achternaam noch roepnaam; "
                    "EDEXML eist er een; verbeter het in de administratie"
                ).format(
                    format=_FORMAT,
                    label=repr(self.label),
                    nameless=nameless,
                    what=what,
                )
            )
        branch = self._elements(columns, fields, what)
        # Without an achternaam only the roepnaam may stand (the name choice of
        # LeerlingType and LeerkrachtType); voorvoegsel and initials go with the surname.
        roepnaam = self.q(_ROEPNAAM.tag)
        given_only = [(tag, values) for tag, values in branch if tag == roepnaam]
        return surnames.to_pylist(), branch, given_only

    # -- document ----------------------------------------------------------------------

    def document(self) -> etree._Element:
        rows = len(self.frame)
        created = self._created_at()
        if self.layout.namespace is None:
            if not rows:
                raise ConfigurationError(
                    _(
                        "{format} {label}: geen leerling om te schrijven; EDEXML 2.1 eist "
                        "minstens één leerling per bestand, dus sla de edexml-levering van "
                        "deze school over"
                    ).format(
                        format=_FORMAT,
                        label=repr(self.label),
                    )
                )
            root = etree.Element("EDEX", nsmap={"xsi": _XSI})
            root.set(f"{{{_XSI}}}noNamespaceSchemaLocation", _SCHEMA_LOCATION)
            body = root
        else:
            # lxml-stubs type nsmap keys as str; None is how lxml names the default namespace.
            nsmap = {None: UWLR_NAMESPACE}
            root = etree.Element(self.q("leerlinggegevens_antwoord"), nsmap=nsmap)  # type: ignore[arg-type]
            if not rows:
                # The response's own way of saying "nothing found for this request".
                etree.SubElement(root, self.q("geengegevens"))
                return root
            body = etree.SubElement(root, self.q("leerlinggegevens"))
        pupils = self._pupils()
        groups = self._groups(pupils)
        teachers = self._teachers(groups)
        self._write_school(body, created)
        if groups:
            self._write_groups(etree.SubElement(body, self.q("groepen")), groups)
        self._write_pupils(etree.SubElement(body, self.q("leerlingen")), pupils)
        if teachers is not None and teachers.keys:
            self._write_teachers(etree.SubElement(body, self.q("leerkrachten")), teachers)
        return root

    def _created_at(self) -> str:
        try:
            moment = datetime.fromisoformat(self.context.created_at)
        except (TypeError, ValueError):
            raise ConfigurationError(
                _(
                    "{format} {label}: created_at moet een ISO 8601-datum en -tijd "
                    "zijn (bijvoorbeeld 2026-11-28T02:00:00+00:00)"
                ).format(
                    format=_FORMAT,
                    label=repr(self.label),
                )
            ) from None
        return moment.isoformat()

    # -- school ------------------------------------------------------------------------

    def _write_school(self, parent: etree._Element, created: str) -> None:
        school = {name: clean_text(value) for name, value in self.context.school.items()}
        year = school.get("schooljaar")
        if year is None or not _SCHOOL_YEAR.fullmatch(year):
            raise ConfigurationError(
                _(
                    "{format} {label}: de schoolkop heeft een schooljaar zoals "
                    "2026-2027 nodig (EDEXML eist het)"
                ).format(
                    format=_FORMAT,
                    label=repr(self.label),
                )
            )
        peildatum = school.get("peildatum")
        if peildatum is not None and _DATE.broken(pa.array([peildatum], _TEXT)):
            raise InputError(
                _("{format} {label}: de peildatum van de school is geen datum").format(
                    format=_FORMAT,
                    label=repr(self.label),
                )
            )
        brincode = school.get("brincode")
        if brincode is not None and not _BRINCODE.fullmatch(brincode):
            raise InputError(
                _(
                    "{format} {label}: de brincode van de school is niet 2 cijfers en "
                    "2 hoofdletters, zoals EDEXML eist"
                ).format(
                    format=_FORMAT,
                    label=repr(self.label),
                )
            )
        dependance = school.get("dependancecode") if brincode is not None else None
        if dependance is not None and not _DEPENDANCECODE.fullmatch(dependance):
            raise InputError(
                _("{format} {label}: de dependancecode van de school is niet 2 cijfers").format(
                    format=_FORMAT,
                    label=repr(self.label),
                )
            )
        schoolkey = school.get("schoolkey")
        if schoolkey is not None and (
            len(schoolkey) > _KEY.max_length or _NOT_XML.search(schoolkey)
        ):
            raise InputError(
                _(
                    "{format} {label}: de schoolkey van de school is te lang of bevat "
                    "een stuurteken"
                ).format(
                    format=_FORMAT,
                    label=repr(self.label),
                )
            )
        element = etree.SubElement(parent, self.q("school"))
        # SchoolType order: schooljaar, peildatum, (brincode, dependancecode, schoolkey |
        # schoolkey), aanmaakdatum, auteur, xsdversie; no commentaar, no toevoegingen.
        for tag, value in (
            ("schooljaar", year),
            ("peildatum", peildatum),
            ("brincode", brincode),
            ("dependancecode", dependance),
            ("schoolkey", schoolkey),
            ("aanmaakdatum", created),
            ("auteur", AUTHOR),
            ("xsdversie", self.layout.xsd_version),
        ):
            if value is not None:
                etree.SubElement(element, self.q(tag)).text = value

    # -- pupils ------------------------------------------------------------------------

    def _pupils(self) -> _Pupils:
        layout, what = self.layout, _("leerling(en) hebben")
        rows = len(self.frame)
        columns = self._safe(_Columns(self.frame, layout.pupil_columns), what)
        keys = _keys(columns.get("leerlingkey"), _row_numbers(rows))
        eckids = columns.get("eckid")
        self._unique(keys, "leerlingkey", _("leerlingen"))
        self._unique(eckids, "eckid", _("leerlingen"))
        surnames, names, given_only = self._names(columns, layout.names, what)

        composites: Values = columns.get("samengestelde_groepen").to_pylist()
        return _Pupils(
            keys=_filled(self._checked(keys, _Field("leerlingkey", "key", _KEY), what)),
            eckids=self._checked(eckids, _Field("eckid", "eckid", _KEY), what),
            surnames=surnames,
            names=names,
            given_only=given_only,
            before_groups=self._elements(columns, layout.before_groups, what),
            groups=self._checked(
                columns.get("groepskey"), _Field("groepskey", "groep", _KEY), what
            ),
            composites=[_split_keys(value) for value in composites],
            after_groups=self._elements(columns, layout.after_groups, what),
        )

    def _write_pupils(self, parent: etree._Element, pupils: _Pupils) -> None:
        # The hot loop: one leerling element and its children per row, nothing else.
        sub = etree.SubElement
        leerling, groep = self.q("leerling"), self.q("groep")
        links, link = self.q("samengestelde_groepen"), self.q("samengestelde_groep")
        for row, key in enumerate(pupils.keys):
            attributes = {"key": key}
            eckid = pupils.eckids[row]
            if eckid is not None:
                attributes["eckid"] = eckid
            element = sub(parent, leerling, attributes)
            names = pupils.names if pupils.surnames[row] is not None else pupils.given_only
            for tag, values in names:
                value = values[row]
                if value is not None:
                    sub(element, tag).text = value
            for tag, values in pupils.before_groups:
                value = values[row]
                if value is not None:
                    sub(element, tag).text = value
            group = pupils.groups[row]
            if group is not None:
                sub(element, groep, {"key": group})
            composites = pupils.composites[row]
            if composites:
                block = sub(element, links)
                for composite in composites:
                    sub(block, link, {"key": composite})
            for tag, values in pupils.after_groups:
                value = values[row]
                if value is not None:
                    sub(element, tag).text = value

    # -- groups ------------------------------------------------------------------------

    def _groups(self, pupils: _Pupils) -> dict[str, _Group]:
        """The groups the written pupils refer to: stamgroepen, then composites, by key."""
        stam = sorted({key for key in pupils.groups if key is not None})
        composite = sorted({key for keys in pupils.composites for key in keys})
        wanted = [(key, _GROUP_KIND_STAM) for key in stam]
        wanted += [(key, _GROUP_KIND_COMPOSITE) for key in composite]
        if not wanted:
            return {}
        source = self.context.groups
        if source is None:
            raise ConfigurationError(
                _(
                    "{format} {label}: de leerlingen verwijzen naar groepen maar de "
                    "context heeft er geen; geef de groepen van de geleverde "
                    "leerlingen mee"
                ).format(
                    format=_FORMAT,
                    label=repr(self.label),
                )
            )
        columns = self._safe(_Columns(source, _CONTEXT_GROUP_COLUMNS), _("groep(en) hebben"))
        # key -> every (soort, groepsnaam, jaargroep) the context has for it
        known: dict[str, list[tuple[str | None, str | None, str | None]]] = {}
        for key, *row in zip(
            *(columns.get(name).to_pylist() for name in _CONTEXT_GROUP_COLUMNS), strict=True
        ):
            if key is not None:
                known.setdefault(key, []).append((row[0], row[1], row[2]))
        if any(len(known.get(key, ())) > 1 for key, _ in wanted):
            raise ConfigurationError(
                _("{format} {label}: context.groups bevat een groepssleutel meer dan eens").format(
                    format=_FORMAT,
                    label=repr(self.label),
                )
            )
        missing = sum(known.get(key, [(None, None, None)])[0][0] != kind for key, kind in wanted)
        if missing:
            raise ConfigurationError(
                _(
                    "{format} {label}: {missing} groep(en) waarnaar de leerlingen "
                    "verwijzen staan niet in context.groups (of zijn niet van die "
                    "soort); geef de groepen van de geleverde leerlingen mee"
                ).format(
                    format=_FORMAT,
                    label=repr(self.label),
                    missing=missing,
                )
            )
        if stam and "jaargroep" not in self.frame.columns:
            raise ConfigurationError(
                _(
                    "{format} {label}: een groep heeft haar jaargroep nodig, die de "
                    "overeenkomst niet noemt; de controle van de overeenkomst had dat "
                    "moeten weigeren"
                ).format(
                    format=_FORMAT,
                    label=repr(self.label),
                )
            )
        named = "groepsnaam" in self.frame.columns
        names: Values = []
        year_groups: Values = []
        for key, kind in wanted:
            _kind, naam, jaargroep = known[key][0]
            # Without groepsnaam in the agreement a group is named by its key: the schema
            # needs a name, and the key tells the supplier nothing it does not know.
            names.append(naam if named and naam is not None else key)
            year_groups.append(jaargroep if kind == _GROUP_KIND_STAM else None)
        unset = sum(jaargroep is None for jaargroep in year_groups[: len(stam)])
        if unset:
            raise InputError(
                _(
                    "{format} {label}: {unset} groep(en) hebben geen jaargroep, die "
                    "EDEXML eist; verbeter het in de administratie"
                ).format(
                    format=_FORMAT,
                    label=repr(self.label),
                    unset=unset,
                )
            )
        what = _("groep(en) hebben")
        checked_names = self._checked(
            pa.array(names, _TEXT), _Field("groepsnaam", "naam", _STRING64), what
        )
        checked_years = self._checked(pa.array(year_groups, _TEXT), _JAARGROEP_FIELD, what)
        return {
            key: _Group(kind=kind, naam=checked_names[at] or key, jaargroep=checked_years[at])
            for at, (key, kind) in enumerate(wanted)
        }

    def _write_groups(self, parent: etree._Element, groups: dict[str, _Group]) -> None:
        sub = etree.SubElement
        naam, jaargroep = self.q("naam"), self.q("jaargroep")
        for key, group in groups.items():
            element = sub(parent, self.q(group.kind), {"key": key})
            sub(element, naam).text = group.naam
            if group.kind == _GROUP_KIND_STAM:
                sub(element, jaargroep).text = group.jaargroep

    # -- teachers ----------------------------------------------------------------------

    def _teachers(self, groups: dict[str, _Group]) -> _Teachers | None:
        source = self.context.teachers
        if source is None:
            return None
        what = _("leerkracht(en) hebben")
        linked = "groepen" in source.columns
        links_given: Values = _Columns(source, ("groepen",)).get("groepen").to_pylist()
        links = [tuple(key for key in _split_keys(value) if key in groups) for value in links_given]
        # A teacher is there for the delivered groups; one left with none of them (its
        # groups are not in this file) is not passed on.
        keep = [bool(found) or not linked for found in links]
        mask = pa.array(keep, pa.bool_())
        columns = self._safe(_Columns(source, self.layout.teacher_columns, keep=mask), what)
        # Numbered by their row in the context, as the pupils are by theirs.
        keys = _keys(columns.get("leerkrachtkey"), pc.filter(_row_numbers(len(source)), mask))
        eckids = columns.get("eckid")
        self._unique(keys, "leerkrachtkey", _("leerkrachten"))
        self._unique(eckids, "eckid", _("leerkrachten"))
        surnames, names, given_only = self._names(columns, self.layout.teacher_names, what)
        return _Teachers(
            keys=_filled(self._checked(keys, _Field("leerkrachtkey", "key", _KEY), what)),
            eckids=self._checked(eckids, _Field("eckid", "eckid", _KEY), what),
            surnames=surnames,
            names=names,
            given_only=given_only,
            after_names=self._elements(columns, self.layout.teacher_after_names, what),
            links=[
                tuple((key, groups[key].kind) for key in found)
                for found, stays in zip(links, keep, strict=True)
                if stays
            ],
        )

    def _write_teachers(self, parent: etree._Element, teachers: _Teachers) -> None:
        sub = etree.SubElement
        leerkracht, groepen = self.q("leerkracht"), self.q("groepen")
        kinds = {kind: self.q(kind) for kind in (_GROUP_KIND_STAM, _GROUP_KIND_COMPOSITE)}
        for row, key in enumerate(teachers.keys):
            attributes = {"key": key}
            eckid = teachers.eckids[row]
            if eckid is not None:
                attributes["eckid"] = eckid
            element = sub(parent, leerkracht, attributes)
            names = teachers.names if teachers.surnames[row] is not None else teachers.given_only
            for tag, values in (*names, *teachers.after_names):
                value = values[row]
                if value is not None:
                    sub(element, tag).text = value
            if teachers.links[row]:
                block = sub(element, groepen)
                for group, kind in teachers.links[row]:
                    sub(block, kinds[kind], {"key": group})


@dataclass(frozen=True)
class _Pupils:
    """The checked values of every written pupil element, one list per element."""

    keys: list[str]
    eckids: Values
    surnames: Values
    names: list[tuple[str, Values]]
    given_only: list[tuple[str, Values]]
    before_groups: list[tuple[str, Values]]
    groups: Values
    composites: list[tuple[str, ...]]
    after_groups: list[tuple[str, Values]]


@dataclass(frozen=True)
class _Group:
    kind: str
    naam: str
    jaargroep: str | None


@dataclass(frozen=True)
class _Teachers:
    """The checked values of every written teacher element, one list per element."""

    keys: list[str]
    eckids: Values
    surnames: Values
    names: list[tuple[str, Values]]
    given_only: list[tuple[str, Values]]
    after_names: list[tuple[str, Values]]
    links: list[tuple[tuple[str, str], ...]]
