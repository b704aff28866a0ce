"""EDEXML 2.1 code lists that the contracts check against."""

from __future__ import annotations

__all__ = ["GESLACHT", "JAARGROEP", "JAARGROEP_COMBINATIE", "SCHOOLJAAR_PATTERN"]

# NEN-ISO 5218: onbekend, jongen/man, meisje/vrouw, niet gespecificeerd.
GESLACHT = ("0", "1", "2", "9")

# EDEXJaargroepType. There is no 9 or 10; C marks a combination group whose pupils each
# carry their own jaargroep.
JAARGROEP = (
    "B",
    "D",
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "11",
    "12",
    "13",
    "14",
    "15",
    "16",
    "S",
    "V",
    "C",
    "N",
    "H",
)
JAARGROEP_COMBINATIE = "C"

SCHOOLJAAR_PATTERN = r"^\d{4}-\d{4}$"
