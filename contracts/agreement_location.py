"""The processing-location rule of an agreement: data leaving the EEA says where it goes."""

from __future__ import annotations

from connectors.i18n import _
from connectors.quoting import quote

__all__ = ["location_problems"]

_IN_EEA = frozenset({"nederland", "eer", "eu"})


def location_problems(location: str | None, *, outside_eea: bool) -> list[str]:
    """A recipient whose data leaves the EEA must name the country, and not 'EER'."""
    if outside_eea and not location:
        return [
            _(
                "verwerkingslocatie: de gegevens gaan buiten de EER (doorgifte_buiten_eer: true); "
                "noem het land waar ze verwerkt worden, zoals in de privacybijsluiter"
            )
        ]
    if outside_eea and location and location.strip().lower() in _IN_EEA:
        return [
            _(
                "verwerkingslocatie: {location} ligt binnen de EER, maar doorgifte_buiten_eer is "
                "true; noem het land buiten de EER"
            ).format(location=quote(location))
        ]
    return []
