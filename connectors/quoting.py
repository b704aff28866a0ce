"""Values quoted in messages, shortened so that no message can explode or hang."""

from __future__ import annotations

import reprlib
from typing import Final

__all__ = ["MAX_QUOTED", "quote", "short"]

# What a message may quote of a value it did not make itself (a key, a name, a header).
MAX_QUOTED: Final = 40

# Bounded even for a nested structure: a huge list or mapping is never rendered in full.
_REPR: Final = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxdict = 3
_REPR.maxstring = _REPR.maxother = MAX_QUOTED


def short(value: object, limit: int = MAX_QUOTED) -> str:
    """Return `value` as one line of at most `limit` characters, cut with an ellipsis.

    Whitespace runs (line breaks included) become one space and control characters a
    question mark, so the result always fits on the line of a message.
    """
    if isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple | dict | set | frozenset):
        text = _REPR.repr(value)
    else:  # a path, a number: as it is printed
        text = str(value)
    # Cut before cleaning: the work stays proportional to the limit, not to the value.
    text = " ".join(text[: limit * 4].split())
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quote(value: object, limit: int = MAX_QUOTED) -> str:
    """Return `value` shortened and between single quotes, at most `limit` characters in all."""
    return f"'{short(value, limit - 2)}'"
