"""The checks at lineage's boundary: names, counts, hashes and codes, never a pupil value.

Every value the store, the audit log and the rights, state and lock records write passes
one of these first, so that a pupil value passed by mistake raises a ValueError (which
names the argument, never the value) instead of landing in an audit trail kept for years.
Shared by every lineage module, so one definition of a field name, a digest or an id holds
everywhere. Imports nothing of lineage.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal, cast, get_args
from urllib.parse import urlsplit

__all__ = [
    "ACTOR_LENGTH",
    "DELIVERY_MODES",
    "DELIVERY_STATUSES",
    "MESSAGE_LENGTH",
    "NAME_LENGTH",
    "RUN_STATUSES",
    "SCHOOLJAAR",
    "SEVERITIES",
    "TOKEN_LENGTH",
    "DeliveryMode",
    "DeliveryStatus",
    "RunStatus",
    "Severity",
    "actor",
    "audit_key",
    "choice",
    "count",
    "delivered_files",
    "delivery_counts",
    "details",
    "field_name",
    "field_names",
    "flag",
    "fold",
    "location",
    "reference",
    "run_key",
    "run_parameters",
    "sha256_hex",
    "single_line",
    "token",
    "utc",
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

RUN_STATUSES: Final = frozenset(get_args(RunStatus))
DELIVERY_STATUSES: Final = frozenset(get_args(DeliveryStatus))
DELIVERY_MODES: Final = frozenset(get_args(DeliveryMode))
SEVERITIES: Final = frozenset(get_args(Severity))

# Lengths double as a guard: a name, code or id never needs more, free text would.
NAME_LENGTH: Final = 63
TOKEN_LENGTH: Final = 128
MESSAGE_LENGTH: Final = 500

_FIELD_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")
_SHA256: Final = re.compile(r"[0-9a-fA-F]{64}")
# Ids, supplier ids, school codes, formats, encodings, triggers: no spaces, no punctuation
# that free text (a name, an address, a sentence) would need.
_TOKEN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]*")
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


def run_key(run_id: object) -> str:
    """The run id in its canonical lower-case UUID form.

    Raises:
        ValueError: it is not.
    """
    if not isinstance(run_id, str):
        raise ValueError("run_id must be a UUID string")
    try:
        return str(uuid.UUID(run_id))
    except ValueError:
        raise ValueError("run_id must be a UUID string") from None


def utc(value: object, name: str) -> datetime:
    """A timezone-aware timestamp, in UTC.

    Raises:
        ValueError: it is not.
    """
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(UTC)


def flag(value: object, name: str) -> bool:
    """A real bool (not 0 or 1).

    Raises:
        ValueError: it is not.
    """
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool")
    return value


def count(value: object, name: str) -> int:
    """A non-negative int (not a bool).

    Raises:
        ValueError: it is not.
    """
    # bool is an int subclass; True as a count is a bug, not a one.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int")
    return value


def reference(value: object) -> str:
    """An agreement's reference: one printable line of at most 128 characters.

    Raises:
        ValueError: it is not.
    """
    # An agreement's reference is the title people use for it ("Verwerkersovereenkomst
    # Basispoort 4.0"): printable text on one line, written by the school, not a pupil value.
    if not isinstance(value, str) or not value or len(value) > TOKEN_LENGTH:
        raise ValueError(f"agreement_reference must be 1 to {TOKEN_LENGTH} characters")
    if not value.isprintable():
        raise ValueError("agreement_reference must be printable text on one line")
    return value


def token(value: object, name: str, length: int) -> str:
    """An id of letters, digits and ``._:+-`` of at most `length` characters.

    Raises:
        ValueError: it is not.
    """
    if not isinstance(value, str) or len(value) > length or not _TOKEN.fullmatch(value):
        raise ValueError(
            f"{name} must be an id of at most {length} letters, digits or ._:+- without spaces"
        )
    return value


def field_name(value: object, name: str) -> str:
    """A snake_case field name (a canonical field or a reason code).

    Raises:
        ValueError: it is not.
    """
    if not isinstance(value, str) or len(value) > NAME_LENGTH or not _FIELD_NAME.fullmatch(value):
        raise ValueError(f"{name} must be a snake_case field name matching ^[a-z][a-z0-9_]*$")
    return value


def sha256_hex(value: object, name: str) -> str:
    """A SHA-256 digest of 64 hex characters, in lower case.

    Raises:
        ValueError: it is not.
    """
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise ValueError(f"{name} must be a SHA-256 digest of 64 hex characters")
    return value.lower()


def choice(value: object, name: str, allowed: frozenset[str]) -> str:
    """One of the `allowed` codes.

    Raises:
        ValueError: it is not.
    """
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(sorted(allowed))}")
    return value


def single_line(value: object, name: str) -> str:
    """A non-empty text without line breaks or other control characters.

    Raises:
        ValueError: it is not.
    """
    if not isinstance(value, str) or not value or _CONTROL.search(value):
        raise ValueError(f"{name} must be a non-empty single line")
    return value


def fold(message: str) -> str:
    """A run's error message on one line, cut to 500 characters.

    Raises:
        ValueError: it is not.
    """
    if not isinstance(message, str):
        raise ValueError("message must be a string")
    folded = " ".join(_CONTROL.sub(" ", message).split())
    return folded[:MESSAGE_LENGTH]


def location(value: object) -> str:
    """Where a delivery went (a folder or URL), without a password.

    Raises:
        ValueError: it is not.
    """
    location = single_line(value, "location")
    if "://" in location and urlsplit(location).password is not None:
        raise ValueError("location must not hold a password")
    return location


def field_names(fields: object) -> list[str]:
    """The delivered field names: snake_case, none twice.

    Raises:
        ValueError: it is not.
    """
    if isinstance(fields, str | bytes) or not isinstance(fields, Sequence):
        raise ValueError("fields must be a list of field names")
    names = [field_name(field, "each field") for field in fields]
    if len(set(names)) != len(names):
        raise ValueError("fields must not repeat a field name")
    return names


def delivery_counts(counts: object, *, balanced: bool) -> dict[str, Any]:
    """A delivery's counts; `balanced`: input = delivered + sum(withheld) + quarantined.

    Raises:
        ValueError: it is not.
    """
    if not isinstance(counts, Mapping) or set(counts) != _COUNT_KEYS:
        raise ValueError(f"counts must have exactly the keys {', '.join(sorted(_COUNT_KEYS))}")
    withheld = counts["withheld"]
    if not isinstance(withheld, Mapping):
        raise ValueError("counts['withheld'] must map reason codes to counts")
    clean_withheld = {
        field_name(reason, "each withheld reason"): count(n, f"counts['withheld'][{reason!r}]")
        for reason, n in withheld.items()
    }
    total = count(counts["input"], "counts['input']")
    delivered = count(counts["delivered"], "counts['delivered']")
    quarantined = count(counts["quarantined"], "counts['quarantined']")
    if balanced and total != delivered + sum(clean_withheld.values()) + quarantined:
        raise ValueError("counts must satisfy input = delivered + sum(withheld) + quarantined")
    return {
        "input": total,
        "delivered": delivered,
        "withheld": clean_withheld,
        "quarantined": quarantined,
    }


def delivered_files(files: object) -> list[dict[str, Any]]:
    """A delivery's files, each exactly ``{name, sha256, rows}``.

    Raises:
        ValueError: it is not.
    """
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
                "sha256": sha256_hex(entry["sha256"], "each file sha256"),
                "rows": count(entry["rows"], "each file's rows"),
            }
        )
    return clean


def run_parameters(parameters: object) -> dict[str, Any]:
    """A run's settings as plain JSON, holding no URL with a password.

    Raises:
        ValueError: it is not.
    """
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
        if "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password is not None:
                raise ValueError("parameters must not hold a URL with a password")
    elif isinstance(value, dict):
        for item in value.values():
            _refuse_credentials(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_credentials(item)


# -- the audit log's entries ---------------------------------------------------------


def actor(value: object) -> str:
    """Who acted: one printable line of at most 128 characters, without surrounding spaces.

    Raises:
        ValueError: it is not.
    """
    if (
        not isinstance(value, str)
        or not value
        or len(value) > ACTOR_LENGTH
        or not value.isprintable()
        or value != value.strip()
    ):
        raise ValueError(
            f"actor must be a name of 1 to {ACTOR_LENGTH} printable characters on one line, "
            "without surrounding spaces"
        )
    return value


def details(value: object) -> dict[str, Any]:
    """An audit entry's details: names, counts, hashes and codes as canonical JSON.

    Raises:
        ValueError: it is not.
    """
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
        if "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password is not None:
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


def audit_key(value: object) -> bytes:
    """The audit key: at least 16 bytes.

    Raises:
        ValueError: it is not.
    """
    if not isinstance(value, bytes) or len(value) < _MIN_KEY_BYTES:
        raise ValueError(f"the audit key must be at least {_MIN_KEY_BYTES} bytes")
    return value
