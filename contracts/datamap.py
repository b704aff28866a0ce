"""The data map for parents: who receives what about their child, why, and on which basis.

Generated from the agreements and the contracts' plain-Dutch field descriptions only, so it
cannot drift from what is delivered: a field added to an agreement appears here at once.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from connectors.i18n import N_, _
from contracts.agreements import Agreement, LegalBasisType, Role
from contracts.parent_pages import day_in_words, page_head, school_title

__all__ = ["datamap_html", "datamap_markdown"]

_ROLE_NL = {
    Role.VERWERKER: N_("verwerker (werkt in opdracht van de school)"),
    Role.DERDE: N_("derde (ontvangt de gegevens voor een eigen doel)"),
    Role.OVERHEID: N_("overheid (wettelijke taak)"),
}


def _basis(agreement: Agreement) -> str:
    basis = agreement.legal_basis
    if basis.type is LegalBasisType.TOESTEMMING:
        return _(
            "toestemming van de ouders (categorie '{category}'), elk schooljaar opnieuw gevraagd"
        ).format(category=basis.consent_category)
    if basis.type is LegalBasisType.WETTELIJKE_PLICHT:
        return _("wettelijke plicht ({reference})").format(reference=basis.legal_reference)
    return _("overeenkomst met de school (verwerkersovereenkomst)")


def _validity(agreement: Agreement) -> str:
    terms = agreement.agreement
    start = day_in_words(terms.valid_from)
    if terms.valid_until:
        return _("geldig vanaf {start} tot en met {end}").format(
            start=start, end=day_in_words(terms.valid_until)
        )
    return _("geldig vanaf {start} zonder einddatum").format(start=start)


def _location(agreement: Agreement) -> str:
    location = agreement.verwerkingslocatie or _("niet opgegeven in de afspraak")
    if agreement.doorgifte_buiten_eer:
        return _("{location} (buiten de Europese Economische Ruimte)").format(location=location)
    return location


def _how(agreement: Agreement) -> str | None:
    """What is special about how the recipient gets its data, if anything."""
    if agreement.format.type == "aggregaat":
        if "geslacht" in agreement.field_names:
            text = _(
                "alleen aantallen leerlingen per school en jaargroep en geslacht, nooit een naam, "
                "nummer of andere gegevens van één kind. Een aantal kleiner dan {k} wordt niet "
                "getoond, en ook niet een aantal waaruit het terug te rekenen is."
            )
        else:
            text = _(
                "alleen aantallen leerlingen per school en jaargroep, nooit een naam, nummer of "
                "andere gegevens van één kind. Een aantal kleiner dan {k} wordt niet getoond, en "
                "ook niet een aantal waaruit het terug te rekenen is."
            )
        return text.format(k=agreement.aggregate_k)
    if agreement.on_request:
        return _(
            "alleen op een verzoek dat de wet voorschrijft, voor de leerlingen naar wie "
            "gevraagd wordt; nooit automatisch. Elk verzoek wordt vastgelegd (wie vroeg, "
            "kenmerk, datum) en staat in de inzage van de leerling."
        )
    return None


def _facts(agreement: Agreement) -> list[tuple[str, str]]:
    facts = [
        (_("Waarvoor"), agreement.purpose),
        (_("Rol"), _(_ROLE_NL[agreement.role])),
        (_("Grondslag"), _basis(agreement)),
        (_("Toestemming gevraagd"), _("ja") if agreement.consent_category else _("nee")),
        (
            _("Afspraak"),
            _("{reference}, {validity}").format(
                reference=agreement.agreement.reference, validity=_validity(agreement)
            ),
        ),
        (_("Waar de gegevens verwerkt worden"), _location(agreement)),
        (
            _("Bewaartermijn bij de ontvanger"),
            agreement.supplier_retention or _("zie de verwerkersovereenkomst"),
        ),
    ]
    how = _how(agreement)
    if how:
        facts.insert(1, (_("Hoe"), _("Deze ontvanger krijgt {how}").format(how=how)))
    return facts


def _rows(agreement: Agreement) -> list[tuple[str, str]]:
    info = agreement.field_info()
    return [(info[f.name].omschrijving, f.purpose) for f in agreement.fields]


_INTRO = N_(
    "Deze pagina wordt gemaakt uit de afspraken die de school met elke organisatie heeft. "
    "Er gaat nooit meer naar een organisatie dan hier staat. Burgerservicenummer, "
    "afkomst, leerlinggewicht, postcode, vrije tekst en bijzondere gegevens (zoals "
    "gezondheid of dyslexie) gaan naar geen enkele leverancier; alleen een overheid met een "
    "wettelijke taak kan het burgerservicenummer krijgen, als de wet dat voorschrijft."
)


def datamap_markdown(
    agreements: Sequence[Agreement], *, school: str, school_name: str | None = None
) -> str:
    """The data map as Markdown."""
    heading = _("Welke gegevens deelt {school} met wie?").format(
        school=school_title(school, school_name)
    )
    lines = [f"# {heading}", "", _(_INTRO), ""]
    for agreement in sorted(agreements, key=lambda a: a.name.lower()):
        lines += [
            f"## {agreement.name}",
            "",
            *[f"- **{label}:** {text}" for label, text in _facts(agreement)],
            "",
            "| {} | {} |".format(_("gegeven"), _("waarvoor")),
            "| --- | --- |",
            *[f"| {label} | {purpose} |" for label, purpose in _rows(agreement)],
            "",
        ]
    return "\n".join(lines)


def datamap_html(
    agreements: Sequence[Agreement], *, school: str, school_name: str | None = None
) -> str:
    """The data map as a standalone HTML page that reads on a phone and prints on A4."""
    esc = html.escape
    title = school_title(school, school_name)
    parts = [
        page_head(_("Gegevens van leerlingen van {school}").format(school=title)),
        "<h1>{}</h1>".format(esc(_("Welke gegevens deelt {school} met wie?").format(school=title))),
        f"<p>{esc(_(_INTRO))}</p>",
    ]
    for agreement in sorted(agreements, key=lambda a: a.name.lower()):
        parts += [
            f"<section><h2>{esc(agreement.name)}</h2><dl>",
            *[f"<dt>{esc(label)}</dt><dd>{esc(text)}</dd>" for label, text in _facts(agreement)],
            "</dl><table><tr><th>{}</th><th>{}</th></tr>".format(
                esc(_("gegeven")), esc(_("waarvoor"))
            ),
            *[
                f"<tr><td>{esc(label)}</td><td>{esc(purpose)}</td></tr>"
                for label, purpose in _rows(agreement)
            ],
            "</table></section>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts)
