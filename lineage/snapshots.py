"""What the lineage store's reads return: runs, sources, deliveries and quarantine counts.

Frozen dataclasses, detached from any database session, so a caller can keep them after
the transaction and cannot write through them; the conversions from the table rows sit
beside them. Imports only lineage.tables and lineage.values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeVar, cast

from lineage.tables import DeliveryRecord, QuarantineRecord, RunRecord, SourceRecord
from lineage.values import DeliveryMode, DeliveryStatus, RunStatus, Severity

__all__ = [
    "DeliveredFile",
    "DeliveryCounts",
    "DeliverySnapshot",
    "QuarantineSnapshot",
    "RunSnapshot",
    "SourceSnapshot",
    "delivery_snapshot",
    "from_row",
    "quarantine_snapshot",
    "run_snapshot",
    "source_snapshot",
]


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """A run as stored, detached from any database session."""

    run_id: str
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    trigger: str
    dry_run: bool
    sluis_version: str
    message: str | None
    parameters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SourceSnapshot:
    """An export file a run read, as stored."""

    run_id: str
    school: str
    path: str
    sha256: str
    format: str
    encoding: str
    pupils_read: int
    schooljaar: str


@dataclass(frozen=True, slots=True)
class DeliveredFile:
    """One data file of a delivery."""

    name: str
    sha256: str
    rows: int


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """Pupil counts of a delivery; `input = delivered + sum(withheld) + quarantined`."""

    input: int
    delivered: int
    withheld: Mapping[str, int]
    quarantined: int


@dataclass(frozen=True, slots=True)
class DeliverySnapshot:
    """A delivery as stored, detached from any database session."""

    delivery_id: str
    run_id: str
    supplier: str
    school: str
    agreement_sha256: str
    agreement_reference: str
    fields: tuple[str, ...]
    mode: DeliveryMode
    counts: DeliveryCounts
    files: tuple[DeliveredFile, ...]
    manifest_sha256: str | None
    location: str | None
    status: DeliveryStatus
    created_at: datetime


@dataclass(frozen=True, slots=True)
class QuarantineSnapshot:
    """A quarantine count as stored."""

    run_id: str
    school: str
    column: str | None
    rule: str
    severity: Severity
    count: int


_Snapshot = TypeVar("_Snapshot")


def from_row(kind: type[_Snapshot], row: object, **computed: object) -> _Snapshot:
    """A `kind` dataclass of `row`'s attributes of the same names; `computed` for the rest.

    Statuses and codes come over as the strings stored; their Literal types hold because
    every write checked them (lineage.values).
    """
    copied = {
        f.name: getattr(row, f.name) for f in fields(cast(Any, kind)) if f.name not in computed
    }
    return kind(**copied, **computed)


def run_snapshot(run: RunRecord) -> RunSnapshot:
    """The run as stored, detached from its session."""
    return from_row(
        RunSnapshot, run, parameters=MappingProxyType(json.loads(json.dumps(run.parameters)))
    )


def source_snapshot(row: SourceRecord) -> SourceSnapshot:
    """The export file as stored, detached from its session."""
    return from_row(SourceSnapshot, row)


def delivery_snapshot(row: DeliveryRecord) -> DeliverySnapshot:
    """The delivery as stored, detached from its session (its JSON copied)."""
    counts = row.counts
    return from_row(
        DeliverySnapshot,
        row,
        fields=tuple(row.fields),
        counts=DeliveryCounts(
            input=counts["input"],
            delivered=counts["delivered"],
            withheld=MappingProxyType(dict(counts["withheld"])),
            quarantined=counts["quarantined"],
        ),
        files=tuple(
            DeliveredFile(name=f["name"], sha256=f["sha256"], rows=f["rows"]) for f in row.files
        ),
    )


def quarantine_snapshot(row: QuarantineRecord) -> QuarantineSnapshot:
    """The quarantine count as stored, detached from its session."""
    return from_row(QuarantineSnapshot, row)
