"""The checks an agreement passes on load: the deny-list, its field lists, its format."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from connectors.errors import ConfigurationError
from connectors.formats.encryption import parse_recipient
from connectors.formats.registry import get_format
from connectors.i18n import _
from connectors.quoting import quote, short
from contracts.agreement_location import location_problems
from contracts.agreement_model import Agreement, IdentifierPolicy, Role, SharedField
from contracts.catalog import FieldInfo, lookup_field, lookup_teacher_field, teacher_catalog
from contracts.classification import denial_reason

__all__ = [
    "agreement_problems",
    "field_list_problems",
    "format_problems",
]


def agreement_problems(agreement: Agreement) -> list[str]:
    """What the deny-list and the checks on load refuse in a parsed agreement."""
    problems = field_list_problems(
        "fields",
        agreement.fields,
        lookup_field,
        _(
            "toegestaan zijn de namen in contracts/catalog.py (bijvoorbeeld leerlingkey, eckid, "
            "roepnaam, achternaam, voorvoegsel, geboortedatum, geboortejaar, geslacht, "
            "jaargroep, groepskey, groepsnaam, brincode, pseudoniem, toestemming_<categorie>)"
        ),
        legal_duty=agreement.legal_duty,
    )
    problems += field_list_problems(
        "teacher_fields",
        agreement.teacher_fields,
        lookup_teacher_field,
        _("toegestaan: {allowed}").format(allowed=", ".join(teacher_catalog())),
        legal_duty=agreement.legal_duty,
    )
    problems.extend(format_problems(agreement))
    if agreement.identifier is IdentifierPolicy.PSEUDONIEM and (
        "pseudoniem" not in agreement.field_names
    ):
        problems.append(_("identifier: pseudoniem vraagt het veld pseudoniem in fields"))
    if agreement.role is not Role.OVERHEID and agreement.legal_duty:
        problems.append(_("legal_basis: wettelijke_plicht is alleen voor role overheid"))
    problems.extend(
        location_problems(agreement.verwerkingslocatie, outside_eea=agreement.doorgifte_buiten_eer)
    )
    if agreement.on_request and agreement.schedule.cron:
        problems.append(
            _(
                "schedule.cron: een overeenkomst met wettelijke_plicht levert alleen op verzoek "
                "(sluis verstrek); verwijder schedule"
            )
        )
    return problems


def field_list_problems(
    key: str,
    fields: Sequence[SharedField],
    lookup: Callable[[str], FieldInfo | None],
    allowed: str,
    *,
    legal_duty: bool,
) -> list[str]:
    """Duplicates, unknown names and denied fields of one field list (fields, teacher_fields)."""
    problems = []
    seen: set[str] = set()
    for shared in fields:
        name = short(shared.name)
        if shared.name in seen:
            problems.append(_("{key}[{name}]: staat er twee keer in").format(key=key, name=name))
        seen.add(shared.name)
        info = lookup(shared.name)
        if info is None:
            problems.append(
                _("{key}[{name}]: onbekend veld; {allowed}").format(
                    key=key, name=name, allowed=allowed
                )
            )
            continue
        reason = denial_reason(info.classification, legal_duty=legal_duty)
        if reason:
            problems.append(
                _("{key}[{name}]: geweigerd: {reason}").format(key=key, name=name, reason=reason)
            )
    return problems


def format_problems(agreement: Agreement) -> list[str]:
    """What the chosen output format cannot do with this agreement."""
    output = agreement.format
    writer = get_format(output.type)
    problems = []
    if agreement.mode == "delta" and not writer.expresses_deletions:
        problems.append(
            _(
                "mode: delta vraagt een formaat dat de leverancier kan vertellen dat een leerling "
                "weg is; {type} kan dat niet (gebruik mode full, of format csv, parquet of "
                "oneroster)"
            ).format(type=output.type)
        )
    if output.type == "aggregaat" and not agreement.scope.jaargroepen:
        # The grid is every jaargroep of the scope: cells that exist only where pupils are
        # would tell which jaargroepen have any.
        problems.append(_("scope.jaargroepen: aggregaat vraagt de jaargroepen die het telt"))
    if output.profile is not None and output.profile not in writer.profiles:
        allowed = ", ".join(writer.profiles) or _("geen")
        problems.append(
            _(
                "format.profile: onbekend profiel {profile} voor {type}; toegestaan: {allowed}"
            ).format(profile=quote(output.profile), type=output.type, allowed=allowed)
        )
        return problems
    problems.extend(
        writer.agreement_problems(
            tuple(agreement.field_names),
            teacher_fields=tuple(agreement.teacher_field_names),
            identifier=agreement.identifier.value,
            mode=agreement.mode,
            profile=output.profile,
        )
    )
    if agreement.encryption is not None:
        try:
            parse_recipient(agreement.encryption.age_recipient)
        except ConfigurationError as exc:
            problems.append(f"encryption.age_recipient: {exc}")
    return problems
