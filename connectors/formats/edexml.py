"""EDEXML 2.1 output, and the UWLR 2.2 "smalle set" message, for one school per file.

What is written is declared once, in XSD order, in the element tables of edexml_schema;
the writer (edexml_writer) walks them. Only the agreement's fields (the frame's columns)
become pupil elements; the school header, the groups and the teachers come from the render
context, which policy has already cut down. Whatever EDEXML requires but the agreement does
not give is filled the way the standard itself allows, never with pupil data:

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

import pandas as pd
from lxml import etree

from connectors.errors import ConfigurationError
from connectors.formats.base import (
    AgreementAsk,
    DataFile,
    Format,
    FormatSpec,
    RenderRequest,
    check_frame,
)
from connectors.formats.edexml_schema import (
    AUTHOR,
    EDEXML_LAYOUT,
    EDEXML_XSD_VERSION,
    FORMAT,
    LAYOUTS,
    NAME_NEED,
    NEEDS_SURNAME,
    NOT_WRITTEN,
    UWLR_NAMESPACE,
    UWLR_SMALLE_SET,
    UWLR_XSD_VERSION,
    Layout,
)
from connectors.formats.edexml_writer import Writer
from connectors.i18n import _

__all__ = [
    "AUTHOR",
    "EDEXML_XSD_VERSION",
    "UWLR_NAMESPACE",
    "UWLR_SMALLE_SET",
    "UWLR_XSD_VERSION",
    "EdexmlFormat",
]


class EdexmlFormat(Format):
    """Renders one school's delivery as `<basename>.xml`: EDEXML 2.1, or UWLR 2.2 smalle set.

    Plain EDEXML has root `EDEX` (no namespace). With profile "uwlr-smalle-set" the file
    is the UWLR response message `leerlinggegevens_antwoord` in namespace
    UWLR_NAMESPACE, holding `leerlinggegevens` (or `geengegevens` when no pupil is
    delivered). It takes no options, and needs a RenderContext.
    """

    spec = FormatSpec(
        name=FORMAT,
        flat=False,
        # A full snapshot: a pupil who is gone is simply not in the next file.
        expresses_deletions=False,
        profiles=(UWLR_SMALLE_SET,),
        # EDEXML 2.1 requires at least one leerling; the UWLR answer says geengegevens.
        needs_a_pupil=frozenset({None}),
        # The name choice of LeerlingType and LeerkrachtType: an achternaam, or a roepnaam.
        pupil_needs=(NAME_NEED,),
        teacher_needs=(NAME_NEED,),
    )

    def write(self, frame: pd.DataFrame, request: RenderRequest) -> list[DataFile]:
        """Render one school's delivered pupils, its groups and teachers as one XML file.

        Args:
            frame: the delivered pupils, one row per pupil, columns the agreement's
                fields; values are strings or missing. It is not mutated.
            request: the basename (file name without extension), no options, and the
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
        basename, context = request.basename, request.context
        check_frame(frame, format_name=FORMAT)
        if context is None:
            raise ConfigurationError(
                _(
                    "{format} {basename}: heeft een RenderContext nodig (schoolkop, "
                    "created_at, groepen); geef RenderContext mee"
                ).format(
                    format=FORMAT,
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
                    format=FORMAT,
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
            root = Writer(frame, context, layout, basename).document()
        except UnicodeEncodeError:
            raise self.not_unicode(basename) from None
        content = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        return [DataFile(name=f"{basename}.xml", content=content, rows=len(frame))]

    def problems_of(self, ask: AgreementAsk) -> list[str]:
        """What an agreement asks that EDEXML (or the profile) cannot carry or lacks to be valid.

        Mode is checked by the agreement loader (expresses_deletions), not here.

        Returns:
            One line per problem, starting with the key ("fields", "fields[<name>]",
            "identifier", "teacher_fields", "teacher_fields[<name>]", "format.profile").
        """
        layout = LAYOUTS.get(ask.profile)
        if layout is None:
            allowed = ", ".join(self.profiles)
            return [
                _(
                    "format.profile: onbekend profiel {profile} voor {type}; toegestaan: {allowed}"
                ).format(profile=repr(ask.profile), type="edexml", allowed=allowed)
            ]
        listed = set(ask.fields)
        problems = [
            problem
            for name in ask.fields
            if (problem := _field_problem(name, layout, teacher=False)) is not None
        ]
        problems.extend(_identifier_problems(ask.identifier, listed))
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
        if ask.teacher_fields:
            teachers = set(ask.teacher_fields)
            problems.extend(
                problem
                for name in ask.teacher_fields
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


def _field_problem(name: str, layout: Layout, *, teacher: bool) -> str | None:
    key = "teacher_fields" if teacher else "fields"
    allowed = layout.teacher_fields if teacher else layout.pupil_fields
    if name in allowed:
        return None
    plain = EDEXML_LAYOUT.teacher_fields if teacher else EDEXML_LAYOUT.pupil_fields
    if layout is not EDEXML_LAYOUT and (name in plain or name in NOT_WRITTEN):
        return _(
            "{key}[{name}]: het profiel {profile} heeft er geen element voor; toegestaan: {allowed}"
        ).format(key=key, name=name, profile=layout.label, allowed=", ".join(sorted(allowed)))
    if not teacher and name in NOT_WRITTEN:
        return _(
            "{key}[{name}]: Sluis schrijft dit element niet in edexml ({why}); gebruik format "
            "csv/parquet/oneroster of verwijder het"
        ).format(key=key, name=name, why=_(NOT_WRITTEN[name]))
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
            for name in sorted(listed & NEEDS_SURNAME & allowed)
        )
    return problems


# -- rendering -------------------------------------------------------------------------


def _layout(profile: str | None, *, label: str) -> Layout:
    layout = LAYOUTS.get(profile)
    if layout is None:
        raise ConfigurationError(
            _(
                "{format} {label}: onbekend profiel {profile}; toegestaan: "
                "{uwlr_smalle_set} of geen"
            ).format(
                format=FORMAT,
                label=repr(label),
                profile=repr(profile),
                uwlr_smalle_set=UWLR_SMALLE_SET,
            )
        )
    return layout


def _refuse_columns(
    columns: pd.Index, allowed: frozenset[str], key: str, layout: Layout, label: str
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
                format=FORMAT,
                label=repr(label),
                label2=layout.label,
                key=key,
                value=", ".join(extra),
            )
        )
