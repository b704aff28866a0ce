"""Pydantic's validation errors as Dutch messages, through gettext, without the input value.

Pydantic words its messages in English and has no catalogue of its own; its documented way
to change them ("Customize error messages") is to map each error's `type` to a template
filled from the error's `ctx`. This is that map, in one place, for every spot where a
ValidationError becomes a message a person reads: agreement files, the CSV column map,
settings, and values on the command line (typer checks those with pydantic too).

The input value is never part of a message (it can be a secret from a setting); a value
the context quotes from the input (a tag) is shortened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.i18n import N_, _, ngettext
from connectors.quoting import MAX_QUOTED, short

__all__ = ["error_message", "one_of"]

# Context pydantic fills from the model, not from the input: these are never shortened.
_OWN_CONTEXT = frozenset({"expected", "expected_tags", "pattern", "error", "discriminator"})

_WHOLE_NUMBER = N_("moet een geheel getal zijn")
_NUMBER = N_("moet een getal zijn")
_YES_NO = N_("moet true of false zijn (ja of nee)")
_DATE = N_("moet een datum zijn (JJJJ-MM-DD)")
_DATETIME = N_("moet een datum met tijd zijn (JJJJ-MM-DDTUU:MM:SS)")
_TIME = N_("moet een tijd zijn (UU:MM:SS)")
_TEXT = N_("moet tekst zijn")
_MAPPING = N_("moet sleutels met waarden zijn")
_LIST = N_("moet een lijst zijn")
_URL = N_("moet een geldige URL zijn")
_DECIMAL = N_("moet een decimaal getal zijn")

# Error type -> Dutch template, filled with the error's ctx. Types Sluis' models and the
# command line can produce; any other is named by its code (see error_message).
_TEMPLATES: Mapping[str, str] = {
    "missing": N_("ontbreekt; deze sleutel is verplicht"),
    "missing_argument": N_("ontbreekt; dit is verplicht"),
    "extra_forbidden": N_("onbekende sleutel"),
    "unexpected_keyword_argument": N_("onbekende sleutel"),
    "literal_error": N_("moet {expected} zijn"),
    "enum": N_("moet {expected} zijn"),
    "greater_than": N_("moet groter zijn dan {gt}"),
    "greater_than_equal": N_("moet minstens {ge} zijn"),
    "less_than": N_("moet kleiner zijn dan {lt}"),
    "less_than_equal": N_("mag hoogstens {le} zijn"),
    "multiple_of": N_("moet een veelvoud van {multiple_of} zijn"),
    "finite_number": N_("moet een eindig getal zijn"),
    "string_type": _TEXT,
    "string_unicode": _TEXT,
    "string_sub_type": _TEXT,
    "string_pattern_mismatch": N_("moet passen bij het patroon {pattern}"),
    "string_not_ascii": N_("mag alleen ASCII-tekens bevatten"),
    "int_type": _WHOLE_NUMBER,
    "int_parsing": _WHOLE_NUMBER,
    "int_parsing_size": N_("is een te groot getal"),
    "int_from_float": _WHOLE_NUMBER,
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "bool_type": _YES_NO,
    "bool_parsing": _YES_NO,
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": N_("moet een datum zijn, zonder tijd"),
    "date_past": N_("moet een datum in het verleden zijn"),
    "date_future": N_("moet een datum in de toekomst zijn"),
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "datetime_object_invalid": _DATETIME,
    "timezone_naive": N_("mag geen tijdzone hebben"),
    "timezone_aware": N_("moet een tijdzone hebben"),
    "time_type": _TIME,
    "time_parsing": _TIME,
    "time_delta_type": N_("moet een tijdsduur zijn"),
    "time_delta_parsing": N_("moet een tijdsduur zijn"),
    "dict_type": _MAPPING,
    "mapping_type": _MAPPING,
    "model_type": _MAPPING,
    "model_attributes_type": _MAPPING,
    "dataclass_type": _MAPPING,
    "list_type": _LIST,
    "tuple_type": _LIST,
    "set_type": _LIST,
    "frozen_set_type": _LIST,
    "iterable_type": _LIST,
    "set_item_not_hashable": N_("bevat een waarde die geen tekst of getal is"),
    "none_required": N_("moet leeg zijn"),
    "json_invalid": N_("is geen geldige JSON"),
    "json_type": N_("moet JSON-tekst zijn"),
    "url_type": _URL,
    "url_parsing": _URL,
    "url_syntax_violation": _URL,
    "url_too_long": N_("is een te lange URL"),
    "url_scheme": N_("moet een URL zijn die begint met {expected_schemes}"),
    "uuid_type": N_("moet een UUID zijn"),
    "uuid_parsing": N_("moet een UUID zijn"),
    "uuid_version": N_("moet een UUID van versie {expected_version} zijn"),
    "decimal_type": _DECIMAL,
    "decimal_parsing": _DECIMAL,
    "decimal_max_digits": N_("mag hoogstens {max_digits} cijfers hebben"),
    "decimal_max_places": N_("mag hoogstens {decimal_places} cijfers achter de komma hebben"),
    "decimal_whole_digits": N_("mag hoogstens {whole_digits} cijfers voor de komma hebben"),
    "union_tag_invalid": N_("{discriminator} '{tag}' is onbekend; bekend zijn {expected_tags}"),
    "union_tag_not_found": N_("de sleutel {discriminator} ontbreekt"),
    "frozen_field": N_("kan niet gewijzigd worden"),
    "frozen_instance": N_("kan niet gewijzigd worden"),
    "bytes_type": N_("moet tekst of bytes zijn"),
    "path_type": N_("moet een pad zijn"),
}

# Sizes: singular and plural, because the count decides the word.
_SIZES: Mapping[str, tuple[str, str, str]] = {
    "too_short": (
        N_("moet minstens {min_length} element hebben"),
        N_("moet minstens {min_length} elementen hebben"),
        "min_length",
    ),
    "too_long": (
        N_("mag hoogstens {max_length} element hebben"),
        N_("mag hoogstens {max_length} elementen hebben"),
        "max_length",
    ),
    "string_too_short": (
        N_("moet minstens {min_length} teken lang zijn"),
        N_("moet minstens {min_length} tekens lang zijn"),
        "min_length",
    ),
    "string_too_long": (
        N_("mag hoogstens {max_length} teken lang zijn"),
        N_("mag hoogstens {max_length} tekens lang zijn"),
        "max_length",
    ),
}


def one_of(expected: str) -> str:
    """Pydantic's list of allowed values ("'a', 'b' or 'c'") with a Dutch "of"."""
    # pydantic-core joins every choice but the last with ", " and the last with " or ";
    # the choices are the model's own literals, which hold no " or ".
    head, sep, last = expected.rpartition(" or ")
    return f"{head} {_('of')} {last}" if sep else expected


def _number(value: float) -> str:
    """100.0 as "100" (as pydantic shows it), 0.5 with a Dutch decimal comma: "0,5"."""
    return str(int(value)) if value.is_integer() else str(value).replace(".", ",")


def _context(error: Mapping[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for key, value in (error.get("ctx") or {}).items():
        if isinstance(value, float):
            value = _number(value)
        elif key in ("expected", "expected_tags") and isinstance(value, str):
            value = one_of(value)
        elif key not in _OWN_CONTEXT and isinstance(value, str):
            value = short(value, MAX_QUOTED)
        context[key] = value
    return context


def error_message(error: Mapping[str, Any]) -> str:
    """One item of `ValidationError.errors()` as a Dutch message, without the input value.

    A validator's own ValueError (type value_error or assertion_error) is already Sluis'
    message and is used as it is, without pydantic's English "Value error, " before it.
    """
    kind = str(error.get("type", ""))
    context = _context(error)
    if kind in ("value_error", "assertion_error") and context.get("error") is not None:
        return short(str(context["error"]), 300)
    try:
        if kind in _SIZES:
            singular, plural, count_key = _SIZES[kind]
            count = int(context.get(count_key, 0))
            return ngettext(singular, plural, count).format(**context)
        if kind in _TEMPLATES:
            return _(_TEMPLATES[kind]).format(**context)
    except (KeyError, IndexError, ValueError):  # a context this pydantic no longer gives
        pass
    # The code names the rule exactly (https://docs.pydantic.dev/latest/errors/validation_errors/);
    # pydantic's English text is not shown.
    return _("ongeldige waarde (regel {code})").format(code=kind or "?")
