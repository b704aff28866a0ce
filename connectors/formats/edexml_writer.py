"""EDEXML 2.1 writer: the document of one school, checked before the first element."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree

from connectors.errors import ConfigurationError, InputError
from connectors.formats.base import RenderContext, clean_text
from connectors.formats.edexml_columns import (
    CONTEXT_GROUP_COLUMNS,
    Columns,
    Values,
    filled_keys,
    persistent_keys,
    row_numbers,
    split_keys,
)
from connectors.formats.edexml_schema import (
    AUTHOR,
    BRINCODE,
    DATE,
    DEPENDANCECODE,
    FORMAT,
    GROUP_KIND_COMPOSITE,
    GROUP_KIND_STAM,
    JAARGROEP_FIELD,
    KEY,
    NOT_XML,
    ROEPNAAM,
    SCHEMA_LOCATION,
    SCHOOL_YEAR,
    STRING64,
    TEXT,
    UWLR_NAMESPACE,
    XSI,
    Field,
    Layout,
    count_true,
)
from connectors.i18n import _


class Writer:
    """Builds the document for one school; every check runs before the first element."""

    def __init__(
        self, frame: pd.DataFrame, context: RenderContext, layout: Layout, label: str
    ) -> None:
        self.frame = frame
        self.context = context
        self.layout = layout
        self.label = label
        self.q: Callable[[str], str] = layout.tag

    # -- checks shared by pupils, teachers and groups --------------------------------

    def _elements(
        self, columns: Columns, fields: tuple[Field, ...], what: str
    ) -> list[tuple[str, Values]]:
        """(qualified tag, checked values) of each of `fields` the columns hold, in order."""
        return [
            (self.q(field.tag), self._checked(columns.get(field.name), field, what))
            for field in fields
            if field.name in columns
        ]

    def _checked(self, values: pa.Array, field: Field, what: str) -> Values:
        count = field.rule.broken(values)
        if count:
            raise InputError(
                _(
                    "{format} {label}: {count} {what} een {name} die EDEXML niet kan "
                    "bevatten ({value}); verbeter het in de administratie"
                ).format(
                    format=FORMAT,
                    label=repr(self.label),
                    count=count,
                    what=what,
                    name=field.name,
                    value=field.rule.describe(),
                )
            )
        values_list: Values = values.to_pylist()
        return values_list

    def _safe(self, columns: Columns, what: str) -> Columns:
        if columns.unsafe:
            raise InputError(
                _(
                    "{format} {label}: {what} een {value} met een stuurteken dat XML "
                    "niet kan bevatten; verbeter het in de administratie"
                ).format(
                    format=FORMAT,
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
                    format=FORMAT,
                    label=repr(self.label),
                    rows=rows,
                    what=what,
                    name=name,
                )
            )

    def _people(
        self,
        columns: Columns,
        keys: pa.Array,
        key: str,
        fields: tuple[Field, ...],
        whom: tuple[str, str],
    ) -> _People:
        """Keys, ECK iDs and names of pupils or teachers, checked alike.

        `key` names the key column, `fields` the name elements; `whom` is how a message
        names them (all of them, and as the subject of "have").
        """
        all_of_them, what = whom
        eckids = columns.get("eckid")
        self._unique(keys, key, all_of_them)
        self._unique(eckids, "eckid", all_of_them)
        surnames, names, given_only = self._names(columns, fields, what)
        return _People(
            keys=filled_keys(self._checked(keys, Field(key, "key", KEY), what)),
            eckids=self._checked(eckids, Field("eckid", "eckid", KEY), what),
            surnames=surnames,
            names=names,
            given_only=given_only,
        )

    def _names(
        self, columns: Columns, fields: tuple[Field, ...], what: str
    ) -> tuple[Values, list[tuple[str, Values]], list[tuple[str, Values]]]:
        """Surnames, the achternaam branch and the roepnaam-only branch of the name choice."""
        surnames, given = columns.get("achternaam"), columns.get("roepnaam")
        nameless = count_true(pc.and_(pc.is_null(surnames), pc.is_null(given)))
        if nameless:
            raise InputError(
                _(
                    "{format} {label}: {nameless} {what} achternaam noch roepnaam; "
                    "EDEXML eist er een; verbeter het in de administratie"
                ).format(
                    format=FORMAT,
                    label=repr(self.label),
                    nameless=nameless,
                    what=what,
                )
            )
        branch = self._elements(columns, fields, what)
        # Without an achternaam only the roepnaam may stand (the name choice of
        # LeerlingType and LeerkrachtType); voorvoegsel and initials go with the surname.
        roepnaam = self.q(ROEPNAAM.tag)
        given_only = [(tag, values) for tag, values in branch if tag == roepnaam]
        return surnames.to_pylist(), branch, given_only

    # -- document ----------------------------------------------------------------------

    def document(self) -> etree._Element:
        """The document's root element; every value is checked before it is built."""
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
                        format=FORMAT,
                        label=repr(self.label),
                    )
                )
            root = etree.Element("EDEX", nsmap={"xsi": XSI})
            root.set(f"{{{XSI}}}noNamespaceSchemaLocation", SCHEMA_LOCATION)
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
        if teachers is not None and teachers.people.keys:
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
                    format=FORMAT,
                    label=repr(self.label),
                )
            ) from None
        return moment.isoformat()

    # -- school ------------------------------------------------------------------------

    def _write_school(self, parent: etree._Element, created: str) -> None:
        school = {name: clean_text(value) for name, value in self.context.school.items()}
        year = school.get("schooljaar")
        if year is None or not SCHOOL_YEAR.fullmatch(year):
            raise ConfigurationError(
                _(
                    "{format} {label}: de schoolkop heeft een schooljaar zoals "
                    "2026-2027 nodig (EDEXML eist het)"
                ).format(
                    format=FORMAT,
                    label=repr(self.label),
                )
            )
        peildatum = school.get("peildatum")
        if peildatum is not None and DATE.broken(pa.array([peildatum], TEXT)):
            raise InputError(
                _("{format} {label}: de peildatum van de school is geen datum").format(
                    format=FORMAT,
                    label=repr(self.label),
                )
            )
        brincode = school.get("brincode")
        if brincode is not None and not BRINCODE.fullmatch(brincode):
            raise InputError(
                _(
                    "{format} {label}: de brincode van de school is niet 2 cijfers en "
                    "2 hoofdletters, zoals EDEXML eist"
                ).format(
                    format=FORMAT,
                    label=repr(self.label),
                )
            )
        dependance = school.get("dependancecode") if brincode is not None else None
        if dependance is not None and not DEPENDANCECODE.fullmatch(dependance):
            raise InputError(
                _("{format} {label}: de dependancecode van de school is niet 2 cijfers").format(
                    format=FORMAT,
                    label=repr(self.label),
                )
            )
        schoolkey = school.get("schoolkey")
        if schoolkey is not None and (len(schoolkey) > KEY.max_length or NOT_XML.search(schoolkey)):
            raise InputError(
                _(
                    "{format} {label}: de schoolkey van de school is te lang of bevat "
                    "een stuurteken"
                ).format(
                    format=FORMAT,
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
        columns = self._safe(Columns(self.frame, layout.pupil_columns), what)
        keys = persistent_keys(columns.get("leerlingkey"), row_numbers(rows))
        people = self._people(columns, keys, "leerlingkey", layout.names, (_("leerlingen"), what))
        composites: Values = columns.get("samengestelde_groepen").to_pylist()
        return _Pupils(
            people=people,
            before_groups=self._elements(columns, layout.before_groups, what),
            groups=self._checked(columns.get("groepskey"), Field("groepskey", "groep", KEY), what),
            composites=[split_keys(value) for value in composites],
            after_groups=self._elements(columns, layout.after_groups, what),
        )

    def _write_pupils(self, parent: etree._Element, pupils: _Pupils) -> None:
        # The hot loop: one leerling element and its children per row, nothing else.
        sub = etree.SubElement
        leerling, groep = self.q("leerling"), self.q("groep")
        links, link = self.q("samengestelde_groepen"), self.q("samengestelde_groep")
        people = pupils.people
        for row in range(len(people.keys)):
            element = people.element(parent, leerling, row)
            _add_texts(element, pupils.before_groups, row)
            group = pupils.groups[row]
            if group is not None:
                sub(element, groep, {"key": group})
            composites = pupils.composites[row]
            if composites:
                block = sub(element, links)
                for composite in composites:
                    sub(block, link, {"key": composite})
            _add_texts(element, pupils.after_groups, row)

    # -- groups ------------------------------------------------------------------------

    def _groups(self, pupils: _Pupils) -> dict[str, _Group]:
        """The groups the written pupils refer to: stamgroepen, then composites, by key."""
        stam = sorted({key for key in pupils.groups if key is not None})
        composite = sorted({key for keys in pupils.composites for key in keys})
        wanted = [(key, GROUP_KIND_STAM) for key in stam]
        wanted += [(key, GROUP_KIND_COMPOSITE) for key in composite]
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
                    format=FORMAT,
                    label=repr(self.label),
                )
            )
        columns = self._safe(Columns(source, CONTEXT_GROUP_COLUMNS), _("groep(en) hebben"))
        # key -> every (soort, groepsnaam, jaargroep) the context has for it
        known: dict[str, list[tuple[str | None, str | None, str | None]]] = {}
        for key, *row in zip(
            *(columns.get(name).to_pylist() for name in CONTEXT_GROUP_COLUMNS), strict=True
        ):
            if key is not None:
                known.setdefault(key, []).append((row[0], row[1], row[2]))
        if any(len(known.get(key, ())) > 1 for key, _ in wanted):
            raise ConfigurationError(
                _("{format} {label}: context.groups bevat een groepssleutel meer dan eens").format(
                    format=FORMAT,
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
                    format=FORMAT,
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
                    format=FORMAT,
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
            year_groups.append(jaargroep if kind == GROUP_KIND_STAM else None)
        unset = sum(jaargroep is None for jaargroep in year_groups[: len(stam)])
        if unset:
            raise InputError(
                _(
                    "{format} {label}: {unset} groep(en) hebben geen jaargroep, die "
                    "EDEXML eist; verbeter het in de administratie"
                ).format(
                    format=FORMAT,
                    label=repr(self.label),
                    unset=unset,
                )
            )
        what = _("groep(en) hebben")
        checked_names = self._checked(
            pa.array(names, TEXT), Field("groepsnaam", "naam", STRING64), what
        )
        checked_years = self._checked(pa.array(year_groups, TEXT), JAARGROEP_FIELD, what)
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
            if group.kind == GROUP_KIND_STAM:
                sub(element, jaargroep).text = group.jaargroep

    # -- teachers ----------------------------------------------------------------------

    def _teachers(self, groups: dict[str, _Group]) -> _Teachers | None:
        source = self.context.teachers
        if source is None:
            return None
        what = _("leerkracht(en) hebben")
        linked = "groepen" in source.columns
        links_given: Values = Columns(source, ("groepen",)).get("groepen").to_pylist()
        links = [tuple(key for key in split_keys(value) if key in groups) for value in links_given]
        # A teacher is there for the delivered groups; one left with none of them (its
        # groups are not in this file) is not passed on.
        keep = [bool(found) or not linked for found in links]
        mask = pa.array(keep, pa.bool_())
        columns = self._safe(Columns(source, self.layout.teacher_columns, keep=mask), what)
        # Numbered by their row in the context, as the pupils are by theirs.
        keys = persistent_keys(
            columns.get("leerkrachtkey"), pc.filter(row_numbers(len(source)), mask)
        )
        people = self._people(
            columns, keys, "leerkrachtkey", self.layout.teacher_names, (_("leerkrachten"), what)
        )
        return _Teachers(
            people=people,
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
        kinds = {kind: self.q(kind) for kind in (GROUP_KIND_STAM, GROUP_KIND_COMPOSITE)}
        people = teachers.people
        for row in range(len(people.keys)):
            element = people.element(parent, leerkracht, row)
            _add_texts(element, teachers.after_names, row)
            if teachers.links[row]:
                block = sub(element, groepen)
                for group, kind in teachers.links[row]:
                    sub(block, kinds[kind], {"key": group})


def _add_texts(element: etree._Element, texts: list[tuple[str, Values]], row: int) -> None:
    """Row `row`'s value of each (tag, values) in `texts` as a child of `element`, if it has one."""
    for tag, values in texts:
        value = values[row]
        if value is not None:
            etree.SubElement(element, tag).text = value


@dataclass(frozen=True)
class _People:
    """The checked keys, ECK iDs and names of every written pupil or teacher element."""

    keys: list[str]
    eckids: Values
    surnames: Values
    names: list[tuple[str, Values]]
    given_only: list[tuple[str, Values]]

    def element(self, parent: etree._Element, tag: str, row: int) -> etree._Element:
        """Row `row`'s `tag` element under `parent`, with its key, ECK iD and names."""
        attributes = {"key": self.keys[row]}
        eckid = self.eckids[row]
        if eckid is not None:
            attributes["eckid"] = eckid
        element = etree.SubElement(parent, tag, attributes)
        _add_texts(element, self.names if self.surnames[row] is not None else self.given_only, row)
        return element


@dataclass(frozen=True)
class _Pupils:
    """The checked values of every written pupil element, one list per element."""

    people: _People
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

    people: _People
    after_names: list[tuple[str, Values]]
    links: list[tuple[tuple[str, str], ...]]
