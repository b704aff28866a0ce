"""The language of every message a person reads: gettext catalogues, Dutch by default.

Source strings (msgids) are Dutch, so with no catalogue at all Sluis speaks Dutch. Another
language is a catalogue in connectors/locale/<taal>/LC_MESSAGES/sluis.mo (see README,
"Taal"); the code does not change. It lives in the bottom layer so that every package can
translate without an upward import; the language itself is a setting (SLUIS_LANG), read in
pipelines/ and passed down through set_language().

Translatable strings are never f-strings (gettext cannot extract them): write
_("... {school}").format(school=...).
"""

from __future__ import annotations

import gettext
from pathlib import Path

__all__ = [
    "DEFAULT_LANGUAGE",
    "DOMAIN",
    "LOCALE_DIR",
    "N_",
    "_",
    "at_line",
    "language",
    "ngettext",
    "set_language",
]

DOMAIN = "sluis"
LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "nl"


def _load(lang: str) -> gettext.NullTranslations:
    # fallback=True: a language without a catalogue (Dutch, the source language, has none)
    # gives the msgids themselves, never an error.
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[lang], fallback=True)


_state = {"lang": DEFAULT_LANGUAGE}
_translation = _load(DEFAULT_LANGUAGE)


def set_language(lang: str | None) -> None:
    """Speak `lang` (e.g. "nl", "en") from now on; None or empty means Dutch."""
    global _translation
    chosen = (lang or "").strip() or DEFAULT_LANGUAGE
    _state["lang"] = chosen
    _translation = _load(chosen)


def language() -> str:
    """The language set with set_language (default "nl")."""
    return _state["lang"]


def _(message: str) -> str:
    """The message in the current language."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural message for `n`, in the current language."""
    return _translation.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a message for extraction only; translate it with _() where it is used.

    For messages in module-level tables, which are built before the language is set.
    """
    return message


def at_line(where: object, line: object) -> str:
    """A place in a file for a message: "EDEX.XML regel 12"."""
    return _("{where} regel {line}").format(where=where, line=line)
