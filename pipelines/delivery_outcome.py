"""What became of one school's delivery, where deliveries go, and how a supplier knows a pupil."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

import pandas as pd

from connectors.drops.base import Drop
from contracts.agreements import Agreement, IdentifierPolicy
from lineage.state import PUPIL, TEACHER
from lineage.store import LineageStore

__all__ = [
    "DeliveryOutcome",
    "DeliveryTargets",
    "Ledger",
    "delivery_id_for",
    "identifier_columns",
]


class Ledger(Protocol):
    """Records a batch's deliveries as they are published (pipelines.publishing.RunLedger)."""

    def intend(self, outcomes: Sequence[DeliveryOutcome]) -> None:
        """Commit the intents, in one transaction, before the drop makes any visible."""

    def confirm(
        self,
        published: Sequence[DeliveryOutcome],
        *,
        unpublished: Sequence[DeliveryOutcome] = (),
    ) -> None:
        """The drop has `published`, not `unpublished`: record both in one transaction."""


@dataclass(frozen=True)
class DeliveryTargets:
    """Where a supplier's deliveries go.

    Attributes:
        drop: the supplier's drop; None for a dry run (everything but publishing).
        held: where a delivery waits for approval (a folder in Sluis' state).
        archive: where a copy of every published delivery is kept for re-delivery.
        ledger: records each published delivery in lineage as it goes out; without
            one the caller records the outcomes afterwards.
    """

    drop: Drop | None
    held: Drop | None = None
    archive: Drop | None = None
    ledger: Ledger | None = None


@dataclass(frozen=True)
class DeliveryOutcome:
    """What happened for one supplier and one school: counts and hashes, no pupil values.

    `status` is delivered, held, nothing_to_deliver, dry_run or agreement_expired.
    """

    supplier: str
    school: str
    status: str
    delivery_id: str | None
    mode: str
    fields: tuple[str, ...]
    counts: dict[str, object]
    files: tuple[dict[str, object], ...] = ()
    location: str | None = None
    manifest_sha256: str | None = None
    agreement_sha256: str = ""
    agreement_reference: str = ""
    created_at: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    # Keyed hashes of the delivered pupils (lineage membership); never keys or names.
    member_ids: tuple[str, ...] = ()
    member_row_hashes: tuple[str, ...] = ()
    # Per member, the supplier-facing identifiers sealed for the state (delta mode only).
    member_refs: tuple[bytes | None, ...] = ()
    changes: dict[str, int] = field(default_factory=dict)
    hold_reason: str = ""
    baseline: str | None = None  # lineage id of the delivery the changes are counted from
    # The same for the teachers of the delivered groups (keyed hashes, sealed refs).
    teacher_ids: tuple[str, ...] = ()
    teacher_row_hashes: tuple[str, ...] = ()
    teacher_refs: tuple[bytes | None, ...] = ()

    def without_members(self) -> DeliveryOutcome:
        """This outcome without its member hashes and refs: its counts and names only.

        What a run keeps once lineage has recorded the members: they would make its memory
        grow with every pupil it delivers.
        """
        return replace(
            self,
            member_ids=(),
            member_row_hashes=(),
            member_refs=(),
            teacher_ids=(),
            teacher_row_hashes=(),
            teacher_refs=(),
        )

    def record(
        self,
        store: LineageStore,
        run_id: str,
        key: str,
        *,
        counts: Mapping[str, object],
        files: Iterable[Mapping[str, object]],
        location: str | None,
        status: str,
        created_at: datetime,
    ) -> None:
        """Record this outcome in lineage as delivery `key`, with what the caller knows now.

        The ledger's intent (status publishing) and the record after the run describe the
        same delivery: only its counts, files, location, status and time are the caller's.
        """
        store.record_delivery(
            run_id,
            delivery_id=key,
            supplier=self.supplier,
            school=self.school,
            agreement_sha256=self.agreement_sha256,
            agreement_reference=self.agreement_reference,
            fields=list(self.fields),
            mode=self.mode,
            counts=counts,
            files=files,
            manifest_sha256=self.manifest_sha256,
            location=location,
            status=status,
            created_at=created_at,
        )

    def state_frame(self) -> pd.DataFrame:
        """What the supplier holds after this delivery, for lineage.state: pupils, teachers."""

        def part(
            ids: tuple[str, ...], rows: tuple[str, ...], refs: tuple[bytes | None, ...], kind: str
        ) -> pd.DataFrame:
            return pd.DataFrame(
                {
                    "pupil_hash": pd.Series(list(ids), dtype="str"),
                    "row_hash": pd.Series(list(rows), dtype="str"),
                    "ref": pd.Series(list(refs) or [None] * len(ids), dtype="object"),
                    "kind": pd.Series([kind] * len(ids), dtype="str"),
                }
            )

        return pd.concat(
            [
                part(self.member_ids, self.member_row_hashes, self.member_refs, PUPIL),
                part(self.teacher_ids, self.teacher_row_hashes, self.teacher_refs, TEACHER),
            ],
            ignore_index=True,
        )


def delivery_id_for(created_at: datetime, school: str, run_id: str) -> str:
    """Delivery folder name: sortable by time, unique per run and school."""
    return f"{created_at:%Y%m%dT%H%M%SZ}-{school}-{run_id[:8]}".lower()


def identifier_columns(agreement: Agreement) -> list[str]:
    """The delivered columns by which a supplier knows a pupil (and its group).

    A removal names the pupil by these, so they are what the state keeps (sealed).
    """
    by_policy = {
        IdentifierPolicy.ECKID: ["eckid"],
        IdentifierPolicy.ECKID_OR_KEY: ["eckid", "leerlingkey"],
        IdentifierPolicy.KEY: ["leerlingkey"],
        IdentifierPolicy.PSEUDONIEM: ["pseudoniem"],
    }[agreement.identifier]
    wanted = [*by_policy, "groepskey"]
    return [name for name in wanted if name in agreement.field_names]
