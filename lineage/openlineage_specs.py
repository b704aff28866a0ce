"""What an OpenLineage event of Sluis may say: the specs of its inputs, outputs and checks.

The small spec classes check their input on construction (catalog field names, 64-hex
digests, ids without spaces, single-line paths without passwords), so free text passed by
mistake raises instead of ending up in a lineage server; lineage.openlineage builds the
events from them. Sluis' own ``sluisAudit`` run facet is here too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol
from urllib.parse import urlsplit

import attr
from openlineage.client.facet_v2 import RunFacet

from contracts.catalog import DERIVED_FROM, field_catalog, lookup_field

# The same guards as the lineage store: one definition of a field name, a count and a digest.
from lineage.values import Count, FieldName, Sha256, Token, check

__all__ = [
    "AUDIT_FACET_SCHEMA",
    "PRODUCER",
    "AssertionSpec",
    "DatasetRef",
    "DeliveryLike",
    "InputSpec",
    "OutputSpec",
    "SluisAuditRunFacet",
    "dataset_part",
    "dataset_ref",
    "delivery_output",
    "export_fields",
    "no_repeats",
]

PRODUCER: Final = "https://github.com/sluis/sluis"

# A dataset as OpenLineage names it: (namespace, name).
DatasetRef = tuple[str, str]

# Lengths double as a guard: a dataset's name never needs more, free text would.
_DATASET_LENGTH: Final = 1024

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


# -- Sluis' own run facet ----------------------------------------------------------------

AUDIT_FACET_SCHEMA: Final = (
    f"{PRODUCER}/blob/main/lineage/openlineage_facets/SluisAuditRunFacet.json"
    "#/$defs/SluisAuditRunFacet"
)


@attr.define
class SluisAuditRunFacet(RunFacet):
    """The audit log's head when the run completed: an anchor outside the database.

    Its JSON schema is lineage/openlineage_facets/SluisAuditRunFacet.json; the key in an
    event's run facets is ``sluisAudit``.
    """

    seq: int
    mac: str

    @staticmethod
    def _get_schema() -> str:
        return AUDIT_FACET_SCHEMA


# -- input specs -------------------------------------------------------------------------


@dataclass(frozen=True)
class InputSpec:
    """One export the run read.

    Attributes:
        namespace: where it lives, e.g. ``file://<host>`` or ``sluis://<brincode>``.
        name: the export's path within that namespace.
        fields: canonical field names with their type (``"string"``), in schema order.
    """

    namespace: str
    name: str
    fields: Sequence[tuple[str, str]]

    def __post_init__(self) -> None:
        dataset_part(self.namespace, "namespace")
        dataset_part(self.name, "name")
        pairs = tuple(self.fields)
        for pair in pairs:
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise ValueError("fields must be (name, type) pairs")
            check(FieldName, pair[0], "field name")
            check(Token, pair[1], "field type")
        no_repeats([name for name, _ in pairs], "fields")
        object.__setattr__(self, "fields", pairs)

    @property
    def ref(self) -> DatasetRef:
        """The dataset's (namespace, name)."""
        return (self.namespace, self.name)


@dataclass(frozen=True)
class OutputSpec:
    """One delivery: one output dataset per supplier and school.

    Attributes:
        namespace: e.g. ``sluis-drop://<supplier>``.
        name: the delivery's location, or its id when it has none (a dry run).
        fields: the delivered field names, in delivery order; every one must be in the
            catalog.
        row_count: delivered pupils.
        file_sha256s: SHA-256 of every delivered file.
        source_input: (namespace, name) of the export the pupils came from.
        consent_input: (namespace, name) of the consent export, when the school has one;
            the source of `toestemming_<categorie>` flags.
        size: bytes delivered, when known.
    """

    namespace: str
    name: str
    fields: Sequence[str]
    row_count: int
    file_sha256s: Sequence[str]
    source_input: DatasetRef
    consent_input: DatasetRef | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        dataset_part(self.namespace, "namespace")
        dataset_part(self.name, "name")
        names = tuple(check(FieldName, name, "delivered field") for name in self.fields)
        no_repeats(list(names), "fields")
        for name in names:
            if lookup_field(name) is None:
                raise ValueError(f"delivered field {name} is not in the field catalog")
        check(Count, self.row_count, "row_count")
        digests = tuple(check(list[Sha256], list(self.file_sha256s), "file_sha256s"))
        dataset_ref(self.source_input, "source_input")
        if self.consent_input is not None:
            dataset_ref(self.consent_input, "consent_input")
        if self.size is not None:
            check(Count, self.size, "size")
        object.__setattr__(self, "fields", names)
        object.__setattr__(self, "file_sha256s", digests)


@dataclass(frozen=True)
class AssertionSpec:
    """One contract rule and whether every row passed it.

    Attributes:
        assertion: the rule id, as in the quarantine report (e.g. ``leerlingkey_unique``).
        success: False when at least one row failed the rule.
        column: the canonical field the rule is about; None for a rule on whole rows.
        severity: ``error`` (the row is quarantined) or ``warn``; None when not known.
        dataset: (namespace, name) of the input the rule ran on; None for every input
            of the run (a run that read one export).
    """

    assertion: str
    success: bool
    column: str | None = None
    severity: Literal["error", "warn"] | None = None
    dataset: DatasetRef | None = None

    def __post_init__(self) -> None:
        check(Token, self.assertion, "assertion")
        if not isinstance(self.success, bool):
            raise ValueError("success must be a bool")
        if self.column is not None:
            check(FieldName, self.column, "column")
        if self.severity not in (None, "error", "warn"):
            raise ValueError("severity must be error, warn or None")
        if self.dataset is not None:
            dataset_ref(self.dataset, "dataset")


class DeliveryLike(Protocol):
    """What `delivery_output` reads from a delivery outcome (pipelines.work.DeliveryOutcome)."""

    @property
    def supplier(self) -> str:
        """The supplier id."""

    @property
    def delivery_id(self) -> str | None:
        """The delivery folder name."""

    @property
    def location(self) -> str | None:
        """Where the drop published it; None for a dry run."""

    @property
    def fields(self) -> tuple[str, ...]:
        """The delivered field names."""

    @property
    def counts(self) -> dict[str, object]:
        """input, delivered, withheld and quarantined."""

    @property
    def files(self) -> tuple[dict[str, object], ...]:
        """name, sha256 and rows per delivered file."""


def delivery_output(
    delivery: DeliveryLike, *, source_input: DatasetRef, consent_input: DatasetRef | None = None
) -> OutputSpec:
    """Describe one delivery outcome as an output dataset.

    The namespace is ``sluis-drop://<supplier>``; the name is the delivery's location, or
    its id for a dry run, which published nothing.

    Args:
        delivery: the outcome of delivering one school to one supplier.
        source_input: (namespace, name) of that school's export.
        consent_input: (namespace, name) of that school's consent export, if any.

    Raises:
        ValueError: the outcome has no delivery (an expired agreement) or its counts or
            files are not what a delivery records.
    """
    name = delivery.location or delivery.delivery_id
    if name is None:
        raise ValueError(f"{delivery.supplier}: no delivery, so no output dataset")
    return OutputSpec(
        namespace=f"sluis-drop://{check(Token, delivery.supplier, 'supplier')}",
        name=name,
        fields=list(delivery.fields),
        row_count=check(Count, delivery.counts.get("delivered"), "counts['delivered']"),
        file_sha256s=check(
            list[Sha256], [f.get("sha256") for f in delivery.files], "files[].sha256"
        ),
        source_input=source_input,
        consent_input=consent_input,
    )


def export_fields() -> list[tuple[str, str]]:
    """Canonical fields of a school export (catalog order, derived fields left out)."""
    return [(name, "string") for name in field_catalog() if name not in DERIVED_FROM]


# -- guards ------------------------------------------------------------------------------


def dataset_part(value: object, name: str) -> str:
    """A dataset's namespace or name: one line, without a password.

    Raises:
        ValueError: it is not.
    """
    if (
        not isinstance(value, str)
        or not value
        or len(value) > _DATASET_LENGTH
        or _CONTROL.search(value)
    ):
        raise ValueError(f"dataset {name} must be a non-empty single line")
    if "://" in value and urlsplit(value).password is not None:
        raise ValueError(f"dataset {name} must not hold a password")
    return value


def dataset_ref(value: object, name: str) -> DatasetRef:
    """A (namespace, name) pair of dataset parts.

    Raises:
        ValueError: it is not.
    """
    if not isinstance(value, tuple) or len(value) != 2:
        raise ValueError(f"{name} must be a (namespace, name) tuple")
    return (dataset_part(value[0], f"{name} namespace"), dataset_part(value[1], f"{name} name"))


def no_repeats(values: list[str], name: str) -> None:
    """Refuse a list that names something twice.

    Raises:
        ValueError: it does.
    """
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat")
