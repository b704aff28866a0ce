"""The types at lineage's boundary: names, counts, hashes and codes, never a pupil value.

Every value the store, the audit log and the rights, state and lock records write is
declared here once, as a pydantic type, so that a pupil value passed by mistake raises a
ValueError (which names the argument, never the value) instead of landing in an audit trail
kept for years. A lineage function declares its parameters with these types and `boundary`
checks them; `check` does the same for a value a function computes or reads. Shared by
every lineage module, so one definition of a field name, a digest or an id holds
everywhere. Imports nothing of lineage.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC
from typing import (
    Annotated,
    Any,
    Final,
    Literal,
    TypeVar,
    cast,
    get_args,
    get_origin,
    get_type_hints,
    overload,
)
from urllib.parse import urlsplit

from annotated_types import Ge, MinLen
from pydantic import (
    AfterValidator,
    AwareDatetime,
    ConfigDict,
    GetPydanticSchema,
    PlainValidator,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "ACTOR_LENGTH",
    "MESSAGE_LENGTH",
    "NAME_LENGTH",
    "SCHOOLJAAR",
    "TOKEN_LENGTH",
    "Actor",
    "AuditKey",
    "Count",
    "Counts",
    "DeliveredFiles",
    "DeliveryIds",
    "DeliveryMode",
    "DeliveryModeCode",
    "DeliveryStatus",
    "DeliveryStatusCode",
    "DeliveryStatusCodes",
    "Details",
    "EndStatusCode",
    "FieldName",
    "FieldNames",
    "Flag",
    "Location",
    "Message",
    "Name",
    "Names",
    "Reference",
    "RunKey",
    "RunParameters",
    "RunStatus",
    "Severity",
    "SeverityCode",
    "Sha256",
    "Sha256s",
    "SingleLine",
    "Token",
    "UtcTime",
    "boundary",
    "check",
    "fold",
    "require_balance",
]

# aborted: the process died or was stopped by a signal (pipelines/reconcile.py).
RunStatus = Literal["running", "completed", "failed", "aborted"]
# held: waits for approval (mass change); superseded: a held delivery a later run replaced.
DeliveryStatus = Literal[
    "delivered",
    "nothing_to_deliver",
    "failed",
    "dry_run",
    "agreement_expired",
    "held",
    "superseded",
    # publishing: the intent, recorded before the drop shows it; rolled_back: an intent
    # the supplier never saw (pipelines/reconcile.py).
    "publishing",
    "rolled_back",
]
DeliveryMode = Literal["full", "delta"]
Severity = Literal["error", "warning"]

# How a run can end (a running run is not finished).
EndStatus = Literal["completed", "failed", "aborted"]

# Lengths double as a guard: a name, code or id never needs more, free text would.
NAME_LENGTH: Final = 63
TOKEN_LENGTH: Final = 128
MESSAGE_LENGTH: Final = 500

_FIELD_NAME: Final = r"^[a-z][a-z0-9_]*$"
_SHA256: Final = r"^[0-9a-fA-F]{64}$"
# Ids, supplier ids, school codes, formats, encodings, triggers: no spaces, no punctuation
# that free text (a name, an address, a sentence) would need.
_ID: Final = r"^[A-Za-z0-9][A-Za-z0-9._:+-]*$"
# Patterns run in pydantic-core's Rust engine, where `$` is the end of the text only (a
# trailing line break is refused, as re.fullmatch refused it).
_LINE: Final = r"^[^\x00-\x1f\x7f]*$"
# A delivered file is named inside its delivery folder; a separator would mean a path.
_FILE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
SCHOOLJAAR: Final = re.compile(r"[0-9]{4}-[0-9]{4}")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_COUNT_KEYS: Final = frozenset({"input", "delivered", "withheld", "quarantined"})
_FILE_KEYS: Final = frozenset({"name", "sha256", "rows"})
ACTOR_LENGTH: Final = 128
_DETAIL_LENGTH: Final = 500
_DETAIL_DEPTH: Final = 4
_MIN_KEY_BYTES: Final = 16


# -- refusing without the value ----------------------------------------------------------

# pydantic prints the input in its errors by default; a refusal here never does.
_CONFIG: Final = ConfigDict(hide_input_in_errors=True)
# The type of a refusal whose message is this module's own; "{name}" in it stands for the
# argument, filled in by `boundary` or `check`.
_REFUSED: Final = "lineage"


class _Boundary:
    """Marks a type of this module, so `boundary` knows which parameters to check."""


_MARK: Final = _Boundary()


def _says(template: str) -> WrapValidator:
    """Refuse anything the rules before it refuse with `template`, never with the value."""

    def refuse(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(value)
        except ValidationError:
            pass
        raise PydanticCustomError(_REFUSED, template)

    return WrapValidator(refuse)


def _refusal(error: ValidationError, name: str) -> str:
    """The first refusal's message for the argument `name`; it never holds the value."""
    first = error.errors(include_url=False, include_input=False)[0]
    if first["type"] == _REFUSED:
        message = first["msg"]
    elif first["type"] == "value_error":  # a rule below with a message of its own
        message = str(first.get("ctx", {}).get("error", ""))
    else:  # not reached by the types here; still never the value
        message = "{name} is malformed"
    return message.replace("{name}", name)


# -- the types ------------------------------------------------------------------------------


def _printable(message: str) -> Callable[[str], str]:
    def printable(value: str) -> str:
        if not value.isprintable():
            raise ValueError(message)
        return value

    return printable


def _trimmed_line(value: str) -> str:
    if not value.isprintable() or value != value.strip():
        raise ValueError("not one trimmed printable line")
    return value


def _without_password(value: str) -> str:
    if "://" in value and urlsplit(value).password is not None:
        raise ValueError("location must not hold a password")
    return value


def _id(length: int) -> StringConstraints:
    return StringConstraints(strict=True, max_length=length, pattern=_ID)


def _id_refusal(length: int) -> WrapValidator:
    return _says(
        f"{{name}} must be an id of at most {length} letters, digits or ._:+- without spaces"
    )


def _code_of(codes: object) -> GetPydanticSchema:
    """Validate as the Literal `codes`; callers still pass (and mypy still sees) a str."""
    return GetPydanticSchema(lambda _source, handler: handler(codes))


def _one_of(codes: object) -> WrapValidator:
    return _says(f"{{name}} must be one of {', '.join(sorted(get_args(codes)))}")


RunKey = Annotated[
    str,
    Strict(),
    AfterValidator(lambda value: str(uuid.UUID(value))),
    _says("run_id must be a UUID string"),
    _MARK,
]
"""A run id, stored in its canonical lower-case UUID form."""
UtcTime = Annotated[
    AwareDatetime,
    Strict(),
    _says("{name} must be a timezone-aware datetime"),
    AfterValidator(lambda value: value.astimezone(UTC)),
    _MARK,
]
"""A timezone-aware timestamp, in UTC."""
Flag = Annotated[bool, Strict(), _says("{name} must be a bool"), _MARK]
"""A real bool (not 0 or 1)."""
# bool is an int subclass; True as a count is a bug, not a one (strict refuses it).
Count = Annotated[int, Strict(), Ge(0), _says("{name} must be a non-negative int"), _MARK]
"""A non-negative int (not a bool)."""
Name = Annotated[str, _id(NAME_LENGTH), _id_refusal(NAME_LENGTH), _MARK]
"""A supplier id, school code, format, encoding or trigger: an id of at most 63 characters."""
Token = Annotated[str, _id(TOKEN_LENGTH), _id_refusal(TOKEN_LENGTH), _MARK]
"""An id (a delivery id, a job name) of letters, digits and ``._:+-``, at most 128."""
FieldName = Annotated[
    str,
    StringConstraints(strict=True, max_length=NAME_LENGTH, pattern=_FIELD_NAME),
    _says(f"{{name}} must be a snake_case field name matching {_FIELD_NAME}"),
    _MARK,
]
"""A snake_case field name (a canonical field or a reason code)."""
Sha256 = Annotated[
    str,
    StringConstraints(strict=True, pattern=_SHA256),
    _says("{name} must be a SHA-256 digest of 64 hex characters"),
    AfterValidator(str.lower),
    _MARK,
]
"""A SHA-256 digest of 64 hex characters, in lower case."""
SingleLine = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, pattern=_LINE),
    _says("{name} must be a non-empty single line"),
    _MARK,
]
"""A non-empty text without line breaks or other control characters."""
Location = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, pattern=_LINE),
    _says("location must be a non-empty single line"),
    AfterValidator(_without_password),
    _MARK,
]
"""Where a delivery went (a folder or URL), without a password."""
# An agreement's reference is the title people use for it ("Verwerkersovereenkomst
# Basispoort 4.0"): printable text on one line, written by the school, not a pupil value.
Reference = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=TOKEN_LENGTH),
    _says(f"agreement_reference must be 1 to {TOKEN_LENGTH} characters"),
    AfterValidator(_printable("agreement_reference must be printable text on one line")),
    _MARK,
]
"""An agreement's reference: one printable line of at most 128 characters."""
Actor = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=ACTOR_LENGTH),
    AfterValidator(_trimmed_line),
    _says(
        f"actor must be a name of 1 to {ACTOR_LENGTH} printable characters on one line, "
        "without surrounding spaces"
    ),
    _MARK,
]
"""Who acted: one printable line of at most 128 characters, without surrounding spaces."""
AuditKey = Annotated[
    bytes,
    Strict(),
    MinLen(_MIN_KEY_BYTES),
    _says(f"the audit key must be at least {_MIN_KEY_BYTES} bytes"),
    _MARK,
]
"""The audit key: at least 16 bytes."""
DeliveryStatusCode = Annotated[str, _code_of(DeliveryStatus), _one_of(DeliveryStatus), _MARK]
"""A delivery's status."""
DeliveryModeCode = Annotated[str, _code_of(DeliveryMode), _one_of(DeliveryMode), _MARK]
"""``full`` or ``delta``."""
SeverityCode = Annotated[str, _code_of(Severity), _one_of(Severity), _MARK]
"""``error`` or ``warning``."""
EndStatusCode = Annotated[str, _code_of(EndStatus), _one_of(EndStatus), _MARK]
"""How a run ended."""


# -- the shapes pydantic cannot say with today's messages ------------------------------------
# Each names the part that is wrong (a withheld reason, a file's rows, a details key), so
# they stay hand-written; the types below run them.


def fold(message: str) -> str:
    """A run's error message on one line, cut to 500 characters."""
    folded = " ".join(_CONTROL.sub(" ", message).split())
    return folded[:MESSAGE_LENGTH]


Message = Annotated[str, Strict(), _says("message must be a string"), AfterValidator(fold), _MARK]
"""A run's error message, folded on one line and cut to 500 characters."""


def _field_names(fields: object) -> list[str]:
    if isinstance(fields, str | bytes) or not isinstance(fields, Sequence):
        raise ValueError("fields must be a list of field names")
    names = check(list[FieldName], list(fields), "each field")
    if len(set(names)) != len(names):
        raise ValueError("fields must not repeat a field name")
    return cast(list[str], names)


def _delivery_counts(counts: object) -> dict[str, Any]:
    if not isinstance(counts, Mapping) or set(counts) != _COUNT_KEYS:
        raise ValueError(f"counts must have exactly the keys {', '.join(sorted(_COUNT_KEYS))}")
    withheld = counts["withheld"]
    if not isinstance(withheld, Mapping):
        raise ValueError("counts['withheld'] must map reason codes to counts")
    clean_withheld = {
        check(FieldName, reason, "each withheld reason"): check(
            Count, n, f"counts['withheld'][{reason!r}]"
        )
        for reason, n in withheld.items()
    }
    return {
        "input": check(Count, counts["input"], "counts['input']"),
        "delivered": check(Count, counts["delivered"], "counts['delivered']"),
        "withheld": clean_withheld,
        "quarantined": check(Count, counts["quarantined"], "counts['quarantined']"),
    }


def require_balance(counts: Mapping[str, Any]) -> None:
    """Refuse counts (checked as `Counts`) where input differs from the rest.

    Raises:
        ValueError: input != delivered + sum(withheld) + quarantined.
    """
    rest = counts["delivered"] + sum(counts["withheld"].values()) + counts["quarantined"]
    if counts["input"] != rest:
        raise ValueError("counts must satisfy input = delivered + sum(withheld) + quarantined")


def _delivered_files(files: object) -> list[dict[str, Any]]:
    if isinstance(files, str | bytes | Mapping) or not isinstance(files, Iterable):
        raise ValueError("files must be a list of {name, sha256, rows}")
    clean: list[dict[str, Any]] = []
    for entry in files:
        if not isinstance(entry, Mapping) or set(entry) != _FILE_KEYS:
            raise ValueError("each file must have exactly the keys name, rows, sha256")
        name = entry["name"]
        if not isinstance(name, str) or len(name) > TOKEN_LENGTH or not _FILE_NAME.fullmatch(name):
            raise ValueError("each file name must be a plain file name (letters, digits, ._-)")
        clean.append(
            {
                "name": name,
                "sha256": check(Sha256, entry["sha256"], "each file sha256"),
                "rows": check(Count, entry["rows"], "each file's rows"),
            }
        )
    return clean


def _run_parameters(parameters: object) -> dict[str, Any]:
    if not isinstance(parameters, Mapping) or not all(isinstance(k, str) for k in parameters):
        raise ValueError("parameters must be a mapping with string keys")
    try:
        # The round trip stores exactly what a later read returns (tuples become lists)
        # and refuses objects such as SecretStr that have no business in lineage.
        clean = json.loads(json.dumps(dict(parameters), allow_nan=False))
    except (TypeError, ValueError):
        raise ValueError("parameters must be plain JSON values (str, number, bool, list)") from None
    _refuse_credentials(clean)
    return cast(dict[str, Any], clean)


def _refuse_credentials(value: object) -> None:
    if isinstance(value, str):
        if _has_password(value):
            raise ValueError("parameters must not hold a URL with a password")
    elif isinstance(value, dict):
        for item in value.values():
            _refuse_credentials(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_credentials(item)


def _has_password(value: str) -> bool:
    if "://" not in value:
        return False
    try:
        return urlsplit(value).password is not None
    except ValueError:
        return False


def _details(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("details must be a mapping with snake_case keys")
    return cast(dict[str, Any], _detail_value(value, "details", 0))


def _detail_value(value: object, where: str, depth: int) -> Any:
    if depth > _DETAIL_DEPTH:
        raise ValueError(f"details nest deeper than {_DETAIL_DEPTH} levels at {where}")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        raise ValueError(f"{where} must not be a float: use an int or a string")
    if isinstance(value, str):
        if len(value) > _DETAIL_LENGTH or not value.isprintable():
            raise ValueError(
                f"{where} must be one printable line of at most {_DETAIL_LENGTH} characters"
            )
        if _has_password(value):
            raise ValueError(f"{where} must not hold a URL with a password")
        return value
    if isinstance(value, Mapping):
        clean: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not _is_snake(key):
                raise ValueError(f"every key in {where} must be snake_case, at most 63 characters")
            clean[key] = _detail_value(item, f"{where}[{key!r}]", depth + 1)
        return clean
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [
            _detail_value(item, f"{where}[{index}]", depth + 1) for index, item in enumerate(value)
        ]
    raise ValueError(f"{where} must be a string, int, bool, None, list or mapping")


def _is_snake(key: str) -> bool:
    return (
        0 < len(key) <= NAME_LENGTH
        and key[0].isascii()
        and key[0].islower()
        and all(c.isascii() and (c.islower() or c.isdigit() or c == "_") for c in key)
    )


def _each(kind: object, refusal: str) -> PlainValidator:
    """A list of `kind` from any iterable but one string (sets and generators too)."""
    adapter: TypeAdapter[list[Any]] = TypeAdapter(list[kind], config=_CONFIG)  # type: ignore[valid-type]

    def each(values: object) -> list[Any]:
        if isinstance(values, str | bytes) or not isinstance(values, Iterable):
            raise ValueError(refusal)
        try:
            return adapter.validate_python(list(values))
        except ValidationError as error:
            message = _refusal(error, "{name}")
        raise ValueError(message)

    return PlainValidator(each)


FieldNames = Annotated[Sequence[str], PlainValidator(_field_names), _MARK]
"""The delivered field names: snake_case, none twice."""
Counts = Annotated[Mapping[str, Any], PlainValidator(_delivery_counts), _MARK]
"""A delivery's counts ``{input, delivered, withheld: {reason: n}, quarantined}``."""
DeliveredFiles = Annotated[Iterable[Mapping[str, Any]], PlainValidator(_delivered_files), _MARK]
"""A delivery's files, each exactly ``{name, sha256, rows}``."""
RunParameters = Annotated[Mapping[str, Any], PlainValidator(_run_parameters), _MARK]
"""A run's settings as plain JSON, holding no URL with a password."""
Details = Annotated[Mapping[str, Any], PlainValidator(_details), _MARK]
"""An audit entry's details: names, counts, hashes and codes as canonical JSON."""
Sha256s = Annotated[
    Iterable[str],
    _each(Sha256, "hashes must be an iterable of pupil hashes, not one string"),
    _MARK,
]
"""SHA-256 digests, as a list."""
Names = Annotated[Iterable[str], _each(Name, "{name} must be ids, not one string"), _MARK]
"""Supplier ids or school codes, as a list."""
DeliveryStatusCodes = Annotated[
    Iterable[str], _each(DeliveryStatusCode, "{name} must be codes, not one string"), _MARK
]
"""Delivery statuses, as a list."""
DeliveryIds = Annotated[Iterable[str], _each(Token, "{name} must be ids, not one string"), _MARK]
"""Delivery ids, as a list."""


# -- checking them ----------------------------------------------------------------------------

_Function = TypeVar("_Function", bound=Callable[..., Any])
_ADAPTERS: dict[object, TypeAdapter[Any]] = {}


def check(kind: Any, value: object, name: str) -> Any:
    """`value` as the boundary type `kind` makes it, for a value a function computed or read.

    Raises:
        ValueError: it is not of that kind; the message names `name`, never the value.
    """
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS.setdefault(kind, TypeAdapter(kind, config=_CONFIG))
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        message = _refusal(error, name)
    # Raised outside the except block, so the ValidationError is not its context either.
    raise ValueError(message)


@overload
def boundary(function: _Function, /) -> _Function: ...


@overload
def boundary(*, labels: Mapping[str, str]) -> Callable[[_Function], _Function]: ...


def boundary(
    function: _Function | None = None, /, *, labels: Mapping[str, str] | None = None
) -> _Function | Callable[[_Function], _Function]:
    """Check every argument declared with a type of this module before the function runs.

    Arguments declared otherwise (an engine, a frame, a callback) pass untouched, unlike
    with `pydantic.validate_call`, which would validate and convert them all; a default
    that is not passed is not checked. `labels` names an argument in messages otherwise
    than by its parameter (``hashes="each pupil hash"``).

    Raises:
        ValueError: from the decorated function, for the first argument (in signature order)
            that is not of its kind; the message names it, never the value.
    """

    def decorate(function: _Function) -> _Function:
        hints = get_type_hints(function, include_extras=True)
        adapters = {
            name: TypeAdapter(hints[name], config=_CONFIG)
            for name in inspect.signature(function).parameters
            if name in hints and _is_boundary(hints[name])
        }
        if not adapters:
            raise TypeError(f"{function.__qualname__} has no parameter of a boundary type")
        signature = inspect.signature(function)
        names = dict(labels or {})

        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            given = bound.arguments
            for name, adapter in adapters.items():
                if name in given:
                    try:
                        given[name] = adapter.validate_python(given[name])
                    except ValidationError as error:
                        message = _refusal(error, names.get(name, name))
                        break
            else:
                return function(*bound.args, **bound.kwargs)
            raise ValueError(message)

        return cast(_Function, checked)

    return decorate if function is None else decorate(function)


def _is_boundary(hint: object) -> bool:
    if get_origin(hint) is Annotated and any(m is _MARK for m in hint.__metadata__):  # type: ignore[attr-defined]
        return True
    return any(_is_boundary(argument) for argument in get_args(hint))
