"""The data map for parents: who receives what about their child, why, and on which basis.

Generated from the agreements and the contracts' plain-Dutch field descriptions only, so it
cannot drift from what is delivered: a field added to an agreement appears here at once.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from contracts.agreements import Agreement, LegalBasisType, Role

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
    until = f"tot en met {terms.valid_until:%d-%m-%Y}" if terms.valid_until else "zonder einddatum"
    return f"geldig vanaf {terms.valid_from:%d-%m-%Y} {until}"


def _rows(agreement: Agreement) -> list[tuple[str, str, str]]:
    info = agreement.field_info()
    return [(info[f.name].omschrijving, f.name, f.purpose) for f in agreement.fields]


def datamap_markdown(agreements: Sequence[Agreement], *, school: str) -> str:
    """The data map as Markdown."""
    lines = [
        f"# Welke gegevens deelt school {school} met wie?",
        "",
        "Deze pagina wordt gemaakt uit de afspraken die de school met elke organisatie heeft. "
        "Er gaat nooit meer naar een organisatie dan hier staat. Burgerservicenummer, "
        "afkomst, leerlinggewicht, postcode, vrije tekst en bijzondere gegevens (zoals "
        "gezondheid of dyslexie) gaan naar geen enkele leverancier.",
        "",
    ]
    for agreement in sorted(agreements, key=lambda a: a.name.lower()):
        lines += [
            f"## {agreement.name}",
            "",
            f"- **Waarvoor:** {agreement.purpose}",
            f"- **Rol:** {_ROLE_NL[agreement.role]}",
            f"- **Grondslag:** {_basis(agreement)}",
            f"- **Toestemming gevraagd:** {'ja' if agreement.consent_category else 'nee'}",
            f"- **Afspraak:** {agreement.agreement.reference}, {_validity(agreement)}",
            f"- **Bewaartermijn bij de ontvanger:** "
            f"{agreement.supplier_retention or 'zie de verwerkersovereenkomst'}",
            "",
            "| gegeven | veldnaam | waarvoor |",
            "| --- | --- | --- |",
            *[f"| {label} | `{name}` | {purpose} |" for label, name, purpose in _rows(agreement)],
            "",
        ]
    return "\n".join(lines)


def datamap_html(agreements: Sequence[Agreement], *, school: str) -> str:
    """The data map as a standalone, readable HTML page."""
    esc = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="nl"><head><meta charset="utf-8">',
        f"<title>Gegevens van leerlingen van school {esc(school)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222;"
        "line-height:1.4}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:.3em .6em;text-align:left}th{background:#eee}dt{font-weight:bold}</style>",
        "</head><body>",
        f"<h1>Welke gegevens deelt school {esc(school)} met wie?</h1>",
        "<p>Deze pagina wordt gemaakt uit de afspraken die de school met elke organisatie "
        "heeft. Er gaat nooit meer naar een organisatie dan hier staat. Burgerservicenummer, "
        "afkomst, leerlinggewicht, postcode, vrije tekst en bijzondere gegevens (zoals "
        "gezondheid of dyslexie) gaan naar geen enkele leverancier.</p>",
    ]
    for agreement in sorted(agreements, key=lambda a: a.name.lower()):
        parts += [
            f"<section><h2>{esc(agreement.name)}</h2><dl>",
            f"<dt>Waarvoor</dt><dd>{esc(agreement.purpose)}</dd>",
            f"<dt>Rol</dt><dd>{esc(_ROLE_NL[agreement.role])}</dd>",
            f"<dt>Grondslag</dt><dd>{esc(_basis(agreement))}</dd>",
            "<dt>Toestemming gevraagd</dt>"
            f"<dd>{'ja' if agreement.consent_category else 'nee'}</dd>",
            f"<dt>Afspraak</dt><dd>{esc(agreement.agreement.reference)}, "
            f"{esc(_validity(agreement))}</dd>",
            "<dt>Bewaartermijn bij de ontvanger</dt>"
            f"<dd>{esc(agreement.supplier_retention or 'zie de verwerkersovereenkomst')}</dd>",
            "</dl><table><tr><th>gegeven</th><th>veldnaam</th><th>waarvoor</th></tr>",
            *[
                f"<tr><td>{esc(label)}</td><td><code>{esc(name)}</code></td>"
                f"<td>{esc(purpose)}</td></tr>"
                for label, name, purpose in _rows(agreement)
            ],
            "</table></section>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts)
