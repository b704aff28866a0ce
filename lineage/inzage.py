"""The inzage report for a parent: who received what about my child, when, and on what basis.

Built from lineage (deliveries the pupil's keyed hash was part of), the agreements and the
contracts' plain-Dutch field descriptions. Current values appear only when the caller
passes them from an export, for the fields that were actually shared.
"""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from connectors.i18n import N_, _
from contracts.agreements import Agreement, LegalBasisType
from contracts.catalog import lookup_field
from contracts.parent_pages import day_in_words, page_head, school_title, value_in_words
from lineage.rights import Erasure, PupilDelivery

__all__ = ["InzageReport", "SupplierSection", "build_inzage", "write_inzage"]

_REASONS_NL = {
    "no_consent": N_("er is (dit schooljaar) geen toestemming gegeven"),
    "consent_unreadable": N_(
        "een toestemmingsregel is niet te lezen; tot de school die "
        "verbetert, telt hij als geen toestemming"
    ),
    "left_school": N_("de leerling is uitgeschreven"),
    "out_of_scope": N_("de leerling valt buiten de afspraak (bijvoorbeeld een andere jaargroep)"),
    "no_identifier": N_("de leerling heeft geen bruikbaar nummer voor deze leverancier"),
    "incomplete_for_format": N_(
        "in de administratie ontbreekt een gegeven dat het "
        "bestandsformaat van deze leverancier vraagt (bijvoorbeeld de achternaam)"
    ),
    "erased": N_("de ouders hebben gevraagd de gegevens niet meer te delen"),
    "quarantined": N_("de gegevens in de administratie kloppen niet en worden eerst verbeterd"),
}


@dataclass(frozen=True)
class SupplierSection:
    """What one supplier received about the pupil."""

    supplier: str
    name: str
    basis: str
    agreement_reference: str
    dates: list[str]
    fields: list[dict[str, str]]  # name, omschrijving
    now: str  # plain-Dutch current status
    current_values: dict[str, str] = field(default_factory=dict)
    # Dates on which changed (e.g. corrected) data about the pupil reached the supplier.
    changed_on: list[str] = field(default_factory=list)
    # Deliveries on request of an authority: datum, aanvrager, kenmerk, wettelijke grondslag.
    requests: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class InzageReport:
    """Everything the report says; no other pupil and no value beyond current_values."""

    leerlingkey: str
    school: str
    suppliers: list[SupplierSection]
    erasure: dict[str, str] | None
    school_name: str | None = None

    def as_json(self) -> str:
        """The report as JSON (UTF-8 text)."""
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _basis(agreement: Agreement | None) -> str:
    if agreement is None:
        return _("afspraak niet meer in gebruik")
    basis = agreement.legal_basis
    if basis.type is LegalBasisType.TOESTEMMING:
        return _("toestemming van de ouders ({category})").format(category=basis.consent_category)
    if basis.type is LegalBasisType.WETTELIJKE_PLICHT:
        return _("wettelijke plicht ({reference})").format(reference=basis.legal_reference)
    return _("overeenkomst met de school")


def build_inzage(
    *,
    leerlingkey: str,
    school: str,
    deliveries: Sequence[PupilDelivery],
    agreements: Mapping[str, Agreement],
    erasure: Erasure | None,
    latest_delivery: Mapping[str, str],
    status_now: Mapping[str, str] | None = None,
    current_values: Mapping[str, Mapping[str, str]] | None = None,
    school_name: str | None = None,
) -> InzageReport:
    """Assemble the report.

    Args:
        leerlingkey: the pupil's key, as the parent's request names it.
        school: the school's BRIN code.
        deliveries: deliveries the pupil was part of (from lineage.rights).
        agreements: the current agreements by supplier id.
        erasure: the pupil's erasure request, if any.
        latest_delivery: supplier id -> id of its latest delivery for this school.
        status_now: supplier id -> "delivered" or a reason code, from the current export.
        current_values: supplier id -> field -> value now in the export, shared fields only.
        school_name: the school's name for the page, when known.
    """
    by_supplier: dict[str, list[PupilDelivery]] = {}
    for delivery in deliveries:
        if delivery.status == "delivered":
            by_supplier.setdefault(delivery.supplier, []).append(delivery)
    sections = []
    for supplier in sorted(set(by_supplier) | set(status_now or {})):
        mine = by_supplier.get(supplier, [])
        agreement = agreements.get(supplier)
        names: list[str] = []
        for delivery in mine:
            names += [n for n in delivery.fields if n not in names]
        in_latest = any(d.delivery_id == latest_delivery.get(supplier) for d in mine)
        state = (status_now or {}).get(supplier)
        if agreement is not None and agreement.format.type == "aggregaat":
            # The pupil is counted, nothing about the pupil is sent.
            now = _("krijgt alleen aantallen leerlingen, geen gegevens van dit kind")
        elif agreement is not None and agreement.on_request:
            now = _("krijgt alleen gegevens op een verzoek dat de wet voorschrijft")
        elif state == "delivered" or (state is None and in_latest):
            now = _("wordt geleverd")
        elif state is not None:
            reason = _(_REASONS_NL[state]) if state in _REASONS_NL else state
            now = _("wordt niet meer geleverd: {reason}").format(reason=reason)
        else:
            now = _("zat niet in de laatste levering")
        changed_on = sorted(
            {
                later.created_at.date().isoformat()
                for earlier, later in itertools.pairwise(mine)
                if earlier.row_hash and later.row_hash and earlier.row_hash != later.row_hash
            }
        )
        sections.append(
            SupplierSection(
                supplier=supplier,
                name=agreement.name if agreement else supplier,
                basis=_basis(agreement),
                agreement_reference=mine[-1].agreement_reference
                if mine
                else (agreement.agreement.reference if agreement else ""),
                dates=sorted({d.created_at.date().isoformat() for d in mine}),
                fields=[
                    {"naam": n, "omschrijving": (info.omschrijving if info else n)}
                    for n in names
                    for info in [lookup_field(n)]
                ],
                now=now,
                current_values={}
                if agreement is not None and agreement.format.type == "aggregaat"
                else dict((current_values or {}).get(supplier, {})),
                changed_on=changed_on,
                requests=[
                    {"datum": d.created_at.date().isoformat(), **d.request}
                    for d in mine
                    if d.request is not None
                ],
            )
        )
    erased = None
    if erasure is not None:
        erased = {
            "aangevraagd_op": erasure.requested_at.date().isoformat(),
            "ingetrokken_op": erasure.revoked_at.date().isoformat() if erasure.revoked_at else "",
        }
    return InzageReport(
        leerlingkey=leerlingkey,
        school=school,
        suppliers=sections,
        erasure=erased,
        school_name=school_name,
    )


def _days(days: Sequence[str]) -> str:
    return ", ".join(day_in_words(d) for d in days)


def _html(report: InzageReport) -> str:
    esc = html.escape
    school = school_title(report.school, report.school_name)
    parts = [
        page_head(
            _("Inzage leerling {key}, {school}").format(key=report.leerlingkey, school=school)
        ),
        "<h1>"
        + _("Welke gegevens over leerling {key} zijn gedeeld?").format(key=esc(report.leerlingkey))
        + "</h1>",
        "<p>"
        + _(
            "{school}. Dit overzicht komt uit het logboek van "
            "Sluis. Klopt een gegeven niet? Vraag de school het te verbeteren; de verbetering "
            "gaat bij de volgende levering naar iedereen die het gegeven heeft."
        ).format(school=esc(school[0].upper() + school[1:]))
        + "</p>",
    ]
    if report.erasure:
        requested = esc(day_in_words(report.erasure["aangevraagd_op"]))
        if report.erasure["ingetrokken_op"]:
            text = _(
                "Verzoek om niet meer te delen: aangevraagd op {requested}, "
                "ingetrokken op {revoked}."
            ).format(
                requested=requested,
                revoked=esc(day_in_words(report.erasure["ingetrokken_op"])),
            )
        else:
            text = _("Verzoek om niet meer te delen: aangevraagd op {requested}.").format(
                requested=requested
            )
        parts.append(f"<p>{text}</p>")
    if not report.suppliers:
        parts.append("<p>" + _("Er zijn geen gegevens van deze leerling gedeeld.") + "</p>")
    for section in report.suppliers:
        parts += [
            f"<section><h2>{esc(section.name)}</h2>",
            "<p>"
            + _("Grondslag: {basis}. Afspraak: {reference}.").format(
                basis=esc(section.basis), reference=esc(section.agreement_reference)
            )
            + "</p>",
            "<p>"
            + _("Geleverd op: {dates}. Nu: {now}.").format(
                dates=esc(_days(section.dates) or _("nog nooit")), now=esc(section.now)
            )
            + "</p>",
            (
                "<p>"
                + _(
                    "Gewijzigde gegevens (bijvoorbeeld een verbetering) geleverd op: {dates}."
                ).format(dates=esc(_days(section.changed_on)))
                + "</p>"
                if section.changed_on
                else ""
            ),
            *[
                "<p>"
                + _(
                    "Op verzoek verstrekt op {day} aan {requester}, kenmerk {reference}, "
                    "op grond van {legal_reference}."
                ).format(
                    day=esc(day_in_words(r["datum"])),
                    requester=esc(r["aanvrager"]),
                    reference=esc(r["kenmerk"]),
                    legal_reference=esc(r["legal_reference"]),
                )
                + "</p>"
                for r in section.requests
            ],
            "<table><tr><th>"
            + _("gegeven")
            + "</th>"
            + ("<th>" + _("nu in de administratie") + "</th>" if section.current_values else "")
            + "</tr>",
        ]
        for item in section.fields:
            value = section.current_values.get(item["naam"])
            shown = value_in_words(item["naam"], value) if value else ""
            parts.append(
                f"<tr><td>{esc(item['omschrijving'])}</td>"
                + (f"<td>{esc(shown)}</td>" if section.current_values else "")
                + "</tr>"
            )
        parts.append("</table></section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_inzage(report: InzageReport, folder: Path) -> tuple[Path, Path]:
    """Write inzage-<key>.html and .json; readable by the owner only (they may hold values)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = "inzage-" + "".join(c if c.isalnum() else "_" for c in report.leerlingkey)
    html_path, json_path = folder / f"{stem}.html", folder / f"{stem}.json"
    for path, text in ((html_path, _html(report)), (json_path, report.as_json())):
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
    return html_path, json_path
