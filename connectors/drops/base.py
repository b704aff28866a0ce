"""The one-method drop interface, the delivery it publishes and the manifest that seals it.

A delivery is a set of data files plus `manifest.json`. Every drop publishes it all or
nothing, with the manifest written last: a delivery without its manifest did not happen.
The manifest holds ids, counts, field names and file hashes; never a pupil value.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypedDict

from connectors.errors import ConfigurationError, PolicyError
from connectors.formats.base import MAX_NAME_LENGTH, DataFile
from connectors.i18n import _

__all__ = [
    "AFTER_DATA_FILES",
    "AFTER_MANIFEST",
    "AFTER_RENAME",
    "BEFORE_UPLOAD",
    "DROP_STEPS",
    "INCOMING",
    "MANIFEST_KEYS",
    "MANIFEST_NAME",
    "MODES",
    "REASON_CODES",
    "REMOVING",
    "SAFE_ID",
    "Counts",
    "DeliveredFile",
    "Delivery",
    "Drop",
    "Receipt",
    "build_manifest",
    "check_counts",
    "check_delivery",
    "check_id",
    "hidden_id",
    "hidden_name",
    "is_hidden_of",
    "manifest_bytes",
    "no_steps",
    "receipt",
    "sha256_hex",
]

MANIFEST_NAME = "manifest.json"
MANIFEST_KEYS = ("supplier", "run_id", "school", "created_at", "mode", "files", "fields", "counts")
MODES = ("full", "delta")
# The reason codes suppliers and parents see (ARCHITECTURE.md); anything else is a typo.
REASON_CODES = (
    "no_consent",
    "consent_unreadable",
    "left_school",
    "out_of_scope",
    "no_identifier",
    "incomplete_for_format",
    "erased",
)
# Supplier and delivery ids become folder names: lower case so that two ids cannot land
# in the same folder on a case-insensitive share, and no leading dot or separator so an
# id can neither hide a folder nor climb out of the drop root.
SAFE_ID = re.compile(r"[a-z0-9][a-z0-9_.-]*")


class Counts(TypedDict):
    """Pupil counts of one delivery; `input = delivered + sum(withheld) + quarantined`."""

    input: int
    delivered: int
    withheld: Mapping[str, int]
    quarantined: int


@dataclass(frozen=True)
class DeliveredFile:
    """What a receipt records of one published file."""

    name: str
    sha256: str
    rows: int


@dataclass(frozen=True)
class Delivery:
    """Everything one supplier receives in one go.

    Attributes:
        supplier: supplier id, the folder under the drop root.
        delivery_id: unique per supplier; the delivery's folder name.
        files: the rendered data files, in manifest order.
        manifest: from `build_manifest`; its `files` must describe `files` exactly.
    """

    supplier: str
    delivery_id: str
    files: tuple[DataFile, ...]
    manifest: dict[str, Any]


@dataclass(frozen=True)
class Receipt:
    """Proof of a completed publish, for lineage.

    Attributes:
        supplier: supplier id.
        delivery_id: the delivery's id.
        location: where it was published (a path or URL; never holds a secret).
        files: name, hash and row count of each data file.
        manifest_sha256: hex SHA-256 of the manifest.json bytes as published.
    """

    supplier: str
    delivery_id: str
    location: str
    files: tuple[DeliveredFile, ...]
    manifest_sha256: str


# The step boundaries of a publish, in order. A drop built with `steps=` calls it with each
# name as the boundary is passed, so that a test can stop the process exactly there
# (tests/pipelines/test_kill_safety*.py); nothing else listens.
BEFORE_UPLOAD = "before_upload"
AFTER_DATA_FILES = "after_data_files"
AFTER_MANIFEST = "after_manifest"
AFTER_RENAME = "after_rename"
DROP_STEPS = (BEFORE_UPLOAD, AFTER_DATA_FILES, AFTER_MANIFEST, AFTER_RENAME)
Steps = Callable[[str], None]


def no_steps(step: str) -> None:
    """The default step callback: nothing listens."""


class Drop(Protocol):
    """A place deliveries are published to; `publish` is the whole interface."""

    def publish(self, delivery: Delivery) -> Receipt:
        """Publish all of `delivery` with its manifest last, or nothing of it.

        Raises:
            ConfigurationError: a supplier id, delivery id or file name is not allowed.
            PolicyError: the manifest does not describe the delivery.
            TransientDeliveryError: publishing failed; a retry may work.
            PermanentDeliveryError: publishing failed and a retry will not help,
                including a delivery id that was published before.
        """
        ...


def check_id(value: str, *, what: str) -> str:
    """Return `value` if it is a safe supplier or delivery id.

    Args:
        value: the id to check.
        what: what the id is, for the message ("supplier id", "delivery id").

    Returns:
        The id, unchanged.

    Raises:
        ConfigurationError: the id is not lower-case letters, digits, '_', '.' and '-'
            starting with a letter or digit, or is longer than the name limit.
    """
    if not (isinstance(value, str) and len(value) <= MAX_NAME_LENGTH and SAFE_ID.fullmatch(value)):
        raise ConfigurationError(
            _(
                "{what} {value} is niet toegestaan: gebruik hoogstens "
                "{max_name_length} kleine letters, cijfers, '_', '.' of '-', "
                "beginnend met een letter of cijfer"
            ).format(
                what=what,
                value=repr(value),
                max_name_length=MAX_NAME_LENGTH,
            )
        )
    return value


def check_counts(counts: Mapping[str, Any]) -> None:
    """Check the pupil counts of a delivery and their invariant.

    Args:
        counts: `input`, `delivered`, `withheld` (reason code to count) and `quarantined`.

    Raises:
        PolicyError: a count is missing or not a whole number of at least 0, a reason code
            is unknown, or `input != delivered + sum(withheld) + quarantined`.
    """
    if not isinstance(counts, Mapping):
        raise PolicyError(
            _(
                "de aantallen in het manifest moeten input, delivered, withheld en "
                "quarantined bevatten"
            )
        )
    missing = [
        key for key in ("input", "delivered", "withheld", "quarantined") if key not in counts
    ]
    if missing:
        raise PolicyError(
            _("de aantallen in het manifest missen {value}").format(
                value=", ".join(missing),
            )
        )
    withheld = counts["withheld"]
    if not isinstance(withheld, Mapping):
        raise PolicyError(
            _("aantallen in het manifest: withheld moet redencodes op aantallen afbeelden")
        )
    unknown = sorted(str(code) for code in withheld if code not in REASON_CODES)
    if unknown:
        raise PolicyError(
            _(
                "aantallen in het manifest: onbekende redencode(s) {value}; "
                "bekende redencodes: {value2}"
            ).format(
                value=", ".join(unknown),
                value2=", ".join(REASON_CODES),
            )
        )
    numbers = {key: counts[key] for key in ("input", "delivered", "quarantined")}
    numbers.update({f"withheld.{code}": n for code, n in withheld.items()})
    bad = sorted(key for key, n in numbers.items() if not _is_count(n))
    if bad:
        raise PolicyError(
            _(
                "aantallen in het manifest: {value} moeten gehele getallen van minstens 0 zijn"
            ).format(
                value=", ".join(bad),
            )
        )
    accounted = counts["delivered"] + sum(withheld.values()) + counts["quarantined"]
    if counts["input"] != accounted:
        raise PolicyError(
            _(
                "de aantallen in het manifest kloppen niet: input {input} != "
                "delivered {delivered} + withheld {value} + quarantined "
                "{quarantined}; elke leerling moet geleverd, achtergehouden of in "
                "quarantaine zijn"
            ).format(
                input=counts["input"],
                delivered=counts["delivered"],
                value=sum(withheld.values()),
                quarantined=counts["quarantined"],
            )
        )


def build_manifest(
    *,
    supplier: str,
    run_id: str,
    school: str,
    created_at: str,
    mode: str,
    files: Sequence[DataFile],
    fields: Sequence[str],
    counts: Counts | Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the manifest of one delivery.

    Args:
        supplier: supplier id.
        run_id: the run that produced the delivery.
        school: the school the delivery is about (e.g. its BRIN code).
        created_at: ISO 8601 timestamp; passed in, not read from the clock, so that the
            same run gives the same bytes.
        mode: "full" or "delta".
        files: the data files of the delivery, in the order to list them.
        fields: the delivered field names.
        counts: `input`, `delivered`, `withheld` (reason code to count), `quarantined`.
        extra: more top-level keys (e.g. agreement version); may not replace a required key.

    Returns:
        A JSON-ready dict with at least the keys in MANIFEST_KEYS.

    Raises:
        ConfigurationError: a bad supplier id or mode.
        PolicyError: the counts break `input = delivered + sum(withheld) + quarantined`,
            a field is listed twice, `created_at` is not ISO 8601, or `extra` tries to
            replace a required key.
    """
    check_id(supplier, what=_("leverancier-id"))
    if mode not in MODES:
        raise ConfigurationError(
            _("levermodus {mode} is niet toegestaan; toegestane modi: full, delta").format(
                mode=repr(mode),
            )
        )
    try:
        datetime.fromisoformat(created_at)
    except (TypeError, ValueError):
        raise PolicyError(
            _("created_at {created_at} in het manifest is geen ISO 8601-tijdstip").format(
                created_at=repr(created_at),
            )
        ) from None
    check_counts(counts)
    field_names = list(fields)
    repeated = sorted({name for name in field_names if field_names.count(name) > 1})
    if repeated:
        raise PolicyError(
            _("velden in het manifest staan er meer dan eens in: {value}").format(
                value=", ".join(repeated),
            )
        )
    clashes = sorted(set(extra or {}) & set(MANIFEST_KEYS))
    if clashes:
        raise PolicyError(
            _(
                "extra sleutels in het manifest mogen verplichte sleutels niet vervangen: {value}"
            ).format(
                value=", ".join(clashes),
            )
        )

    manifest: dict[str, Any] = dict(extra or {})
    manifest.update(
        supplier=supplier,
        run_id=run_id,
        school=school,
        created_at=created_at,
        mode=mode,
        files=[_file_entry(data_file) for data_file in files],
        fields=field_names,
        counts={
            "input": counts["input"],
            "delivered": counts["delivered"],
            "withheld": dict(counts["withheld"]),
            "quarantined": counts["quarantined"],
        },
    )
    return manifest


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """Serialise a manifest: JSON, sorted keys, indent 2, UTF-8, trailing newline.

    Args:
        manifest: the manifest from `build_manifest`.

    Returns:
        The exact bytes of manifest.json.

    Raises:
        PolicyError: the manifest holds something JSON cannot represent.
    """
    try:
        text = json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PolicyError(
            _("het manifest kan niet als JSON geschreven worden: {exc}").format(
                exc=exc,
            )
        ) from None
    return (text + "\n").encode("utf-8")


def check_delivery(delivery: Delivery) -> None:
    """Check a delivery before anything of it is published; every drop calls this first.

    Args:
        delivery: the delivery about to be published.

    Raises:
        ConfigurationError: a supplier id, delivery id or file name is not allowed, or
            two files share a name (ignoring case, as a Windows share does).
        PolicyError: the manifest is missing a required key, names another supplier,
            lists other files than the delivery holds, or its counts do not add up.
    """
    check_id(delivery.supplier, what=_("leverancier-id"))
    check_id(delivery.delivery_id, what=_("levering-id"))
    folded = [data_file.name.casefold() for data_file in delivery.files]
    if MANIFEST_NAME in folded:
        raise ConfigurationError(
            _("een gegevensbestand mag niet {manifest_name} heten").format(
                manifest_name=MANIFEST_NAME,
            )
        )
    repeated = sorted({name for name in folded if folded.count(name) > 1})
    if repeated:
        raise ConfigurationError(
            _("namen van gegevensbestanden worden meer dan eens gebruikt: {value}").format(
                value=", ".join(repeated),
            )
        )

    manifest = delivery.manifest
    missing = [key for key in MANIFEST_KEYS if key not in manifest]
    if missing:
        raise PolicyError(
            _("het manifest mist verplichte sleutel(s): {value}").format(
                value=", ".join(missing),
            )
        )
    if manifest["supplier"] != delivery.supplier:
        raise PolicyError(
            _("het manifest is voor leverancier {supplier}, niet voor {supplier2}").format(
                supplier=repr(manifest["supplier"]),
                supplier2=repr(delivery.supplier),
            )
        )
    if manifest["files"] != [_file_entry(data_file) for data_file in delivery.files]:
        raise PolicyError(
            _(
                "het manifest van levering {delivery_id} voor leverancier "
                "{supplier} noemt niet precies de bestanden die ze bevat (name, "
                "sha256, rows)"
            ).format(
                delivery_id=repr(delivery.delivery_id),
                supplier=repr(delivery.supplier),
            )
        )
    check_counts(manifest["counts"])


def receipt(delivery: Delivery, location: str, manifest: bytes) -> Receipt:
    """Return the receipt of `delivery`, published at `location` with `manifest` bytes."""
    return Receipt(
        supplier=delivery.supplier,
        delivery_id=delivery.delivery_id,
        location=location,
        files=tuple(
            DeliveredFile(name=data_file.name, sha256=data_file.sha256, rows=data_file.rows)
            for data_file in delivery.files
        ),
        manifest_sha256=sha256_hex(manifest),
    )


def sha256_hex(content: bytes) -> str:
    """Return the hex SHA-256 of `content`."""
    return hashlib.sha256(content).hexdigest()


def _file_entry(data_file: DataFile) -> dict[str, Any]:
    return {"name": data_file.name, "sha256": data_file.sha256, "rows": data_file.rows}


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# Hidden folders beside a supplier's deliveries, named `<kind>-<delivery_id>-<16 hex>`: a
# delivery being staged (INCOMING) or being removed (REMOVING). Exactly 16 hex digits
# after the id, so that the leftovers of delivery "d1" are never taken for those of a
# delivery "d1-<something>". A drop that removes a delivery first renames its folder to
# a REMOVING one, so that the supplier sees it vanish in one step, then empties and
# deletes it; the REMOVING leftovers of an earlier interrupted removal go with it.
INCOMING = ".incoming"
REMOVING = ".removing"
_TOKEN_BYTES = 8


def hidden_name(kind: str, delivery_id: str) -> str:
    """A fresh hidden folder name for `delivery_id`: `<kind>-<delivery_id>-<16 hex>`."""
    return f"{kind}-{delivery_id}-{secrets.token_hex(_TOKEN_BYTES)}"


def hidden_id(name: str, kind: str) -> str | None:
    """The delivery id of hidden folder `name` of `kind`, or None when it is not one."""
    token = rf"[0-9a-f]{{{_TOKEN_BYTES * 2}}}"
    found = re.fullmatch(rf"{re.escape(kind)}-(.+)-{token}", name)
    return found.group(1) if found is not None and SAFE_ID.fullmatch(found.group(1)) else None


def is_hidden_of(name: str, kind: str, delivery_id: str) -> bool:
    """Whether `name` is a hidden folder `hidden_name(kind, delivery_id)` could have made."""
    token = rf"[0-9a-f]{{{_TOKEN_BYTES * 2}}}"
    return re.fullmatch(rf"{re.escape(kind)}-{re.escape(delivery_id)}-{token}", name) is not None
