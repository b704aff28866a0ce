"""EDEXML 2.1 and UWLR 2.2 writer: the element tables in XSD order, value rules and layouts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import pyarrow as pa
import pyarrow.compute as pc

from connectors.formats.base import FieldNeed
from connectors.i18n import N_, _

UWLR_SMALLE_SET = "uwlr-smalle-set"
UWLR_NAMESPACE = "http://www.edustandaard.nl/leerresultaten/2/leerlinggegevens"
# school/xsdversie is "always the version of the XSD referred to" (SchoolType annotation).
EDEXML_XSD_VERSION = "2.1"
UWLR_XSD_VERSION = "2.2"
# school/auteur: who made the file.
AUTHOR = "Sluis"

FORMAT = "edexml"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
# As in the official samples and the administrations' own exports, so that a receiver
# that looks for it finds the schema the file claims.
SCHEMA_LOCATION = "EDEXML.structuur.xsd"
GROUP_KIND_STAM = "groep"
GROUP_KIND_COMPOSITE = "samengestelde_groep"
# EDEXML: "a key starting with # is not persistent"; the receiver must not keep it.
NON_PERSISTENT = "#"

# Code lists of EDEXML.types.vast.xsd / EDEXML.types.variabel.xsd (the contracts check
# the same lists; they live a layer up, so the writer keeps its own copy of the schema's).
_GESLACHT = ("0", "1", "2", "9")
_JAARGROEP = (
    *("B", "D", "0", "1", "2", "3", "4", "5", "6", "7", "8"),
    *("11", "12", "13", "14", "15", "16", "S", "V", "C", "N", "H"),
)
SCHOOL_YEAR = re.compile(r"\d{4}-\d{4}")
BRINCODE = re.compile(r"\d{2}[A-Z]{2}")
DEPENDANCECODE = re.compile(r"\d{2}")
# Characters XML 1.0 cannot hold at all; lxml would refuse them with the value in the
# message, so they are found first (RE2 for the columns, re for the school header).
NOT_XML_RE2 = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
TEXT = pa.large_string()


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
        return pa.array(self.codes, TEXT)

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
            same = pc.equal(parsed.cast(pa.date32()).cast(TEXT), present)
            bad = pc.or_(pc.invert(pc.fill_null(same, False)), pc.starts_with(present, "0000"))
        else:
            bad = pc.greater(pc.utf8_length(present), self.max_length)
        return count_true(bad)


KEY = _Rule(256)
STRING64 = _Rule(64)
_STRING256 = _Rule(256)
DATE = _Rule(10, date=True)


@dataclass(frozen=True)
class Field:
    """A canonical field written as the text of one EDEXML element."""

    name: str
    tag: str
    rule: _Rule


_ACHTERNAAM = Field("achternaam", "achternaam", _Rule(200))
_VOORVOEGSEL = Field("voorvoegsel", "voorvoegsel", _Rule(10))
_VOORNAMEN = Field("voornamen", "voornamen", _Rule(200))
_VOORLETTERS = Field("voorletters", "voorletters-1", _Rule(6))
ROEPNAAM = Field("roepnaam", "roepnaam", STRING64)
_EMAILADRES = Field("emailadres", "emailadres", _STRING256)
_GEBOORTEDATUM = Field("geboortedatum", "geboortedatum", DATE)
JAARGROEP_FIELD = Field("jaargroep", "jaargroep", _Rule(2, codes=_JAARGROEP))
NAME_NEED = FieldNeed(("achternaam", "roepnaam"), N_("de XSD geeft elke persoon een naam"))
# Written only in the achternaam branch of the name choice (LeerlingType, LeerkrachtType).
NEEDS_SURNAME = frozenset({"voorvoegsel", "voornamen", "voorletters"})
# The identity, the group links and the school header, which every layout carries.
_STRUCTURE_FIELDS = frozenset(
    {"leerlingkey", "eckid", "groepskey", "samengestelde_groepen", "groepsnaam"}
)
_SCHOOL_HEADER_FIELDS = frozenset({"brincode", "dependancecode", "schooljaar"})
_TEACHER_STRUCTURE_FIELDS = frozenset({"leerkrachtkey", "eckid", "groepen"})

# EDEXML elements Sluis never writes, and why (say so instead of "no element").
_NATIONAL_OR_SPECIAL = N_("nationale nummers, afkomst, gewicht en postcode blijven buiten edexml")
NOT_WRITTEN = {
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
class Layout:
    """One output shape: which elements a leerling and leerkracht have, in XSD order."""

    label: str
    namespace: str | None
    xsd_version: str
    # The name choice's achternaam branch, achternaam first and roepnaam last.
    names: tuple[Field, ...]
    # Between the name and the group links (groep, samengestelde_groepen) ...
    before_groups: tuple[Field, ...]
    # ... and after them.
    after_groups: tuple[Field, ...]
    teacher_names: tuple[Field, ...]
    teacher_after_names: tuple[Field, ...]

    @property
    def pupil_fields(self) -> frozenset[str]:
        """The agreement fields a leerling element of this layout can carry."""
        written = (*self.names, *self.before_groups, *self.after_groups)
        return _STRUCTURE_FIELDS | _SCHOOL_HEADER_FIELDS | {field.name for field in written}

    @property
    def teacher_fields(self) -> frozenset[str]:
        """The teacher fields a leerkracht element of this layout can carry."""
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
        """The element name `local` in this layout's namespace."""
        return f"{{{self.namespace}}}{local}" if self.namespace else local


# EDEXML.elementen.xsd, LeerlingType and LeerkrachtType, in sequence order.
EDEXML_LAYOUT = Layout(
    label=FORMAT,
    namespace=None,
    xsd_version=EDEXML_XSD_VERSION,
    names=(_ACHTERNAAM, _VOORVOEGSEL, _VOORNAMEN, _VOORLETTERS, ROEPNAAM),
    before_groups=(
        _GEBOORTEDATUM,
        Field("geslacht", "geslacht", _Rule(1, codes=_GESLACHT)),
        Field("start_ondw_jgr3", "start_ondw_jgr3", DATE),
        JAARGROEP_FIELD,
    ),
    after_groups=(
        Field("gebruikersnaam", "gebruikersnaam", STRING64),
        _EMAILADRES,
        Field("fotourl", "fotourl", _STRING256),
        Field("instroomdatum", "instroomdatum", DATE),
        Field("uitstroomdatum", "uitstroomdatum", DATE),
    ),
    teacher_names=(_ACHTERNAAM, _VOORVOEGSEL, _VOORLETTERS, ROEPNAAM),
    teacher_after_names=(_EMAILADRES,),
)

# Profiel_Smalle_set_EDEXML.elementen.xsd: what is left outside the "profiel inperking"
# comments. Groups keep naam and jaargroep, so groepsnaam stays allowed.
_SMALLE_SET = Layout(
    label=UWLR_SMALLE_SET,
    namespace=UWLR_NAMESPACE,
    xsd_version=UWLR_XSD_VERSION,
    names=(_ACHTERNAAM, _VOORVOEGSEL, ROEPNAAM),
    before_groups=(_GEBOORTEDATUM, JAARGROEP_FIELD),
    after_groups=(),
    teacher_names=(_ACHTERNAAM, _VOORVOEGSEL, ROEPNAAM),
    teacher_after_names=(_EMAILADRES,),
)

LAYOUTS: dict[str | None, Layout] = {None: EDEXML_LAYOUT, UWLR_SMALLE_SET: _SMALLE_SET}


def count_true(mask: pa.Array) -> int:
    """How many are true (missing counts as false)."""
    return int(pc.sum(mask).as_py() or 0)
