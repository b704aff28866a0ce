"""What the pages for parents (inzage, data map) share: layout, and values in words.

A parent reads these on a phone or on paper: the layout never scrolls sideways (long
values such as an ECK iD wrap), prints as a clean A4, and a code ("1", "2026-11-14")
is shown as the words it stands for ("jongen", "14 november 2026").
"""

from __future__ import annotations

import html
from datetime import date, datetime

from babel.dates import format_date

from connectors.i18n import N_, _
from contracts.codes import GESLACHT

__all__ = [
    "DATE_FIELDS",
    "PAGE_CSS",
    "day_in_words",
    "page_head",
    "school_title",
    "value_in_words",
]

# NEN-ISO 5218 as EDEXML uses it: 0 onbekend, 1 jongen, 2 meisje, 9 niet gespecificeerd.
_GESLACHT_NL = dict(
    zip(GESLACHT, (N_("onbekend"), N_("jongen"), N_("meisje"), N_("anders")), strict=True)
)
DATE_FIELDS = frozenset({"geboortedatum", "instroomdatum", "uitstroomdatum"})

PAGE_CSS = (
    "*{box-sizing:border-box}"
    "html{-webkit-text-size-adjust:100%}"
    "body{font-family:system-ui,sans-serif;max-width:60em;margin:0 auto;padding:1em;"
    "color:#222;line-height:1.45;overflow-wrap:anywhere}"
    "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}"
    "table{border-collapse:collapse;width:100%;table-layout:fixed}"
    "td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top;"
    "overflow-wrap:anywhere}"
    "th{background:#eee}dt{font-weight:bold}dd{margin:0 0 .5em 0}"
    "@media print{@page{size:A4;margin:1.5cm}body{max-width:none;padding:0;font-size:11pt}"
    "h2{break-after:avoid}section,tr{break-inside:avoid}th{background:none}}"
)


def day_in_words(day: date | datetime | str) -> str:
    """A date as "14 november 2026"; text that is not an ISO date is returned as it is."""
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day[:10])
        except ValueError:
            return str(day)
    if isinstance(day, datetime):
        day = day.date()
    return str(format_date(day, "d MMMM y", locale="nl"))


def value_in_words(name: str, value: str) -> str:
    """A field's value as a parent reads it: geslacht in words, dates written out."""
    if name == "geslacht":
        word = _GESLACHT_NL.get(value.strip())
        return _(word) if word is not None else value
    if name in DATE_FIELDS:
        return day_in_words(value)
    return value


def school_title(brincode: str, name: str | None) -> str:
    """The school as a page names it: "RKBS de Flint (BRIN 27ZX)", else "school 27ZX"."""
    if name:
        return _("{name} (BRIN {brincode})").format(name=name, brincode=brincode)
    return _("school {brincode}").format(brincode=brincode)


def page_head(title: str) -> str:
    """The head of a page for parents: language, phone viewport, styles for screen and print."""
    return (
        '<!doctype html>\n<html lang="nl"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{PAGE_CSS}</style></head><body>"
    )
