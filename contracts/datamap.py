"""The data map for parents: who receives what about their child, why, and on which basis.

Generated from the agreements and the contracts' plain-Dutch field descriptions only, so it
cannot drift from what is delivered: a field added to an agreement appears here at once.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from contracts.agreements import Agreement, LegalBasisType, Role
from contracts.parent_pages import day_in_words, page_head, school_title

__all__ = ["datamap_html", "datamap_markdown"]

_ROLE_NL = {
    Role.VERWERKER: "verwerker (werkt in opdracht van de school)",
    Role.DERDE: "derde (ontvangt de gegevens voor een eigen doel)",
    Role.OVERHEID: "overheid (wettelijke taak)",
}


def _basis(agreement: Agreement) -> str:
    basis = agreement.legal_basis
    if basis.type is LegalBasisType.TOESTEMMING:
        return (
            "toestemming van de ouders (categorie "
            f"'{basis.consent_category}'), elk schooljaar opnieuw gevraagd"
        )
    if basis.type is LegalBasisType.WETTELIJKE_PLICHT:
        return f"wettelijke plicht ({basis.legal_reference})"
    return "overeenkomst met de school (verwerkersovereenkomst)"


def _validity(agreement: Agreement) -> str:
    terms = agreement.agreement
    until = (
        f"tot en met {day_in_words(terms.valid_until)}" if terms.valid_until else "zonder einddatum"
    )
    return f"geldig vanaf {day_in_words(terms.valid_from)} {until}"


def _location(agreement: Agreement) -> str:
    location = agreement.verwerkingslocatie or "niet opgegeven in de afspraak"
    if agreement.doorgifte_buiten_eer:
        return f"{location} (buiten de Europese Economische Ruimte)"
    return location


def _how(agreement: Agreement) -> str | None:
    """What is special about how the recipient gets its data, if anything."""
    if agreement.format.type == "aggregaat":
        by = " en geslacht" if "geslacht" in agreement.field_names else ""
        return (
            f"alleen aantallen leerlingen per school en jaargroep{by}, nooit een naam, "
            f"nummer of andere gegevens van één kind. Een aantal kleiner dan "
            f"{agreement.aggregate_k} wordt niet getoond, en ook niet een aantal waaruit het "
            "terug te rekenen is."
        )
    if agreement.on_request:
        return (
            "alleen op een verzoek dat de wet voorschrijft, voor de leerlingen naar wie "
            "gevraagd wordt; nooit automatisch. Elk verzoek wordt vastgelegd (wie vroeg, "
            "kenmerk, datum) en staat in de inzage van de leerling."
        )
    return None


def _facts(agreement: Agreement) -> list[tuple[str, str]]:
    facts = [
        ("Waarvoor", agreement.purpose),
        ("Rol", _ROLE_NL[agreement.role]),
        ("Grondslag", _basis(agreement)),
        ("Toestemming gevraagd", "ja" if agreement.consent_category else "nee"),
        ("Afspraak", f"{agreement.agreement.reference}, {_validity(agreement)}"),
        ("Waar de gegevens verwerkt worden", _location(agreement)),
        (
            "Bewaartermijn bij de ontvanger",
            agreement.supplier_retention or "zie de verwerkersovereenkomst",
        ),
    ]
    how = _how(agreement)
    if how:
        facts.insert(1, ("Hoe", f"Deze ontvanger krijgt {how}"))
    return facts


def _rows(agreement: Agreement) -> list[tuple[str, str]]:
    info = agreement.field_info()
    return [(info[f.name].omschrijving, f.purpose) for f in agreement.fields]


_INTRO = (
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
    lines = [f"# Welke gegevens deelt {school_title(school, school_name)} met wie?", "", _INTRO, ""]
    for agreement in sorted(agreements, key=lambda a: a.name.lower()):
        lines += [
            f"## {agreement.name}",
            "",
            *[f"- **{label}:** {text}" for label, text in _facts(agreement)],
            "",
            "| gegeven | waarvoor |",
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
        page_head(f"Gegevens van leerlingen van {title}"),
        f"<h1>Welke gegevens deelt {esc(title)} met wie?</h1>",
        f"<p>{esc(_INTRO)}</p>",
    ]
    for agreement in sorted(agreements, key=lambda a: a.name.lower()):
        parts += [
            f"<section><h2>{esc(agreement.name)}</h2><dl>",
            *[f"<dt>{esc(label)}</dt><dd>{esc(text)}</dd>" for label, text in _facts(agreement)],
            "</dl><table><tr><th>gegeven</th><th>waarvoor</th></tr>",
            *[
                f"<tr><td>{esc(label)}</td><td>{esc(purpose)}</td></tr>"
                for label, purpose in _rows(agreement)
            ],
            "</table></section>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts)
