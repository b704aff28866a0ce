"""The processing-location rule of an agreement: data leaving the EEA says where it goes."""

from __future__ import annotations

from connectors.quoting import quote

__all__ = ["location_problems"]

_IN_EEA = frozenset({"nederland", "eer", "eu"})


def location_problems(location: str | None, *, outside_eea: bool) -> list[str]:
    """A recipient whose data leaves the EEA must name the country, and not 'EER'."""
    if outside_eea and not location:
        return [
            "verwerkingslocatie: data leaves the EEA (doorgifte_buiten_eer: true); name the "
            "country where it is processed, as in the privacybijsluiter"
        ]
    if outside_eea and location and location.strip().lower() in _IN_EEA:
        return [
            f"verwerkingslocatie: {quote(location)} is inside the EEA, but "
            "doorgifte_buiten_eer is true; name the country outside the EEA"
        ]
    return []
