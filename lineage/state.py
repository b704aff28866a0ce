"""What each supplier holds now, per school: the baseline of deltas and of the mass-change hold.

After every delivery a supplier actually received, the store keeps, per pupil it now
holds, three things: the pupil's keyed hash (the same `pupil_hash` as lineage.rights), a
keyed hash of the row as delivered, and, for suppliers in delta mode only, the pupil's
identifiers toward that supplier *encrypted* (`ref`). The next run compares its own cut
with this, without re-reading old drops:

- a pupil hash that is new is an addition;
- the same hash with another row hash is a change (a corrected name, a new group);
- a hash that is gone is a removal (left, consent withdrawn, erased): a delta supplier is
  told, by the identifiers in `ref`, even when the pupil is no longer in the export.

`ref` is AES-GCM ciphertext under a key derived from the membership secret, bound to the
supplier and the pupil hash, so the database alone never reveals an identifier; it exists
only while the supplier holds the pupil, and is gone with the delivery that removes it.

The teachers of the delivered groups (structured formats with teacher fields) are kept the
same way, as rows of kind `teacher`: a keyed hash of the school's teacher key (under its own
derived secret, so it can never equal a pupil's), a row hash and, in delta mode, the
teacher's identifiers and groepen toward the supplier, sealed. So a teacher who no longer
teaches a delivered group is removed, and an unchanged one is not sent again.

A held delivery's state waits in `supplier_state_pending` until it is approved (read with
`pending_state`, committed, then discarded) or superseded (`discard_pending`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Final

import pandas as pd
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, ForeignKey, LargeBinary, Row, String, select
from sqlalchemy import delete as sql_delete
from sqlalchemy import insert as sql_insert
from sqlalchemy.orm import Mapped, mapped_column

from connectors.errors import ConfigurationError
from connectors.i18n import _
from lineage.engine import deleted
from lineage.engine import transaction as _transaction
from lineage.rights import DeliveryMemberRecord, ErasureRecord
from lineage.tables import Base, DeliveryRecord, UtcDateTime
from lineage.values import NAME_LENGTH as _NAME_LENGTH
from lineage.values import Name, Sha256, Token, UtcTime, boundary, check

__all__ = [
    "KINDS",
    "PUPIL",
    "STATE_COLUMNS",
    "TEACHER",
    "DropRemovalRecord",
    "PendingStateRecord",
    "RefCipher",
    "SupplierState",
    "SupplierStateRecord",
    "commit_state",
    "discard_pending",
    "forget_suppliers",
    "load_state",
    "mark_removed",
    "pending_rows",
    "pending_state",
    "pupil_is_known",
    "removed_deliveries",
    "stage_pending",
    "state_from_delivery",
    "state_key",
]

STATE_COLUMNS: Final = ("pupil_hash", "row_hash", "ref")
# What a state row is about; `pupil_hash` holds a teacher's keyed hash on a teacher row.
PUPIL: Final = "pupil"
TEACHER: Final = "teacher"
KINDS: Final = (PUPIL, TEACHER)
_BATCH: Final = 5000
_NONCE_BYTES: Final = 12


class SupplierStateRecord(Base):
    """One pupil (or teacher: `kind`) a supplier holds for a school since the delivery named."""

    __tablename__ = "supplier_state"

    supplier: Mapped[str] = mapped_column(String(_NAME_LENGTH), primary_key=True)
    school: Mapped[str] = mapped_column(String(_NAME_LENGTH), primary_key=True)
    pupil_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    row_hash: Mapped[str] = mapped_column(String(64))
    ref: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey(DeliveryRecord.delivery_id), index=True)
    kind: Mapped[str] = mapped_column(String(16), server_default=PUPIL)


class PendingStateRecord(Base):
    """The state a held delivery leaves once it is approved."""

    __tablename__ = "supplier_state_pending"

    delivery_id: Mapped[str] = mapped_column(
        ForeignKey(DeliveryRecord.delivery_id), primary_key=True
    )
    pupil_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    row_hash: Mapped[str] = mapped_column(String(64))
    ref: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    kind: Mapped[str] = mapped_column(String(16), server_default=PUPIL)


class DropRemovalRecord(Base):
    """A published delivery removed from its drop by the retention policy."""

    __tablename__ = "drop_removals"

    delivery_id: Mapped[str] = mapped_column(
        ForeignKey(DeliveryRecord.delivery_id), primary_key=True
    )
    removed_at: Mapped[datetime] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class SupplierState:
    """What a supplier holds for one school.

    Attributes:
        frame: STATE_COLUMNS; one row per pupil; `ref` is ciphertext bytes or None.
        delivery_id: the lineage id of the delivery that left this state, or None when the
            supplier has received nothing for the school yet.
        agreement_sha256: the agreement file hash of that delivery ("" when none).
        teachers: STATE_COLUMNS; one row per teacher the supplier holds (a teacher's
            keyed hash in `pupil_hash`).
    """

    frame: pd.DataFrame
    delivery_id: str | None = None
    agreement_sha256: str = ""
    teachers: pd.DataFrame = field(default_factory=lambda: _empty_frame())

    @classmethod
    def nothing(cls) -> SupplierState:
        """The state of a supplier that has received nothing for the school yet."""
        return cls(_empty_frame())

    @property
    def empty(self) -> bool:
        """True when the supplier has never received anything for the school."""
        return self.delivery_id is None


def _new_empty_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pupil_hash": pd.Series([], dtype="str"),
            "row_hash": pd.Series([], dtype="str"),
            "ref": pd.Series([], dtype="object"),
        }
    )


# Built once: building an empty frame costs about a millisecond, and a supplier new to a
# school asks for two per delivery (thousands per run).
_EMPTY: Final = _new_empty_frame()


def _empty_frame() -> pd.DataFrame:
    # A shallow copy, so a caller that adds or sets a column changes its own frame only
    # (copy-on-write); about 50 times cheaper than building one.
    return _EMPTY.copy(deep=False)


def state_key(membership_secret: bytes) -> bytes:
    """The AES key sealing the supplier state, derived from the membership secret.

    Derived, so no second key has to be managed, and rotating the membership key ends the
    old refs too. Lineage records its fingerprint (`lineage.key_records.STATE_KEY`).
    """
    if len(membership_secret) < 16:
        raise ValueError("the membership secret must be at least 16 bytes")
    return hmac.new(membership_secret, b"sluis supplier-state ref v1", hashlib.sha256).digest()


class RefCipher:
    """Encrypts a pupil's identifiers toward one supplier for the state table.

    Args:
        membership_secret: the lineage membership secret; the AES key is derived from it
            (`state_key`).
    """

    def __init__(self, membership_secret: bytes) -> None:
        self._aead = AESGCM(state_key(membership_secret))

    def seal(self, supplier: str, pupil_hash: str, values: Mapping[str, str | None]) -> bytes:
        """Encrypt `values` (column name to value) for this supplier and pupil."""
        nonce = os.urandom(_NONCE_BYTES)
        plain = json.dumps(dict(values), sort_keys=True, separators=(",", ":")).encode()
        return nonce + self._aead.encrypt(nonce, plain, _aad(supplier, pupil_hash))

    def open(self, supplier: str, pupil_hash: str, sealed: bytes) -> dict[str, str | None]:
        """Decrypt a ref sealed by `seal` for the same supplier and pupil.

        Raises:
            ConfigurationError: it cannot be decrypted: another membership secret, or a
                ref moved to another row.
        """
        try:
            plain = self._aead.decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _aad(supplier, pupil_hash)
            )
        except (InvalidTag, ValueError):
            raise ConfigurationError(
                _(
                    "de leveranciersstatus van {supplier} kan niet ontsleuteld worden: is de "
                    "lidmaatschapssleutel (SLUIS_MEMBERSHIP_KEY of "
                    "<state>/keys/lineage-membership) gewijzigd? Verwijderde leerlingen kunnen "
                    "dan niet in een delta genoemd worden; lever één keer volledig"
                ).format(supplier=supplier)
            ) from None
        values: dict[str, str | None] = json.loads(plain)
        return values


def _aad(supplier: str, pupil_hash: str) -> bytes:
    return f"{supplier}\x1f{pupil_hash}".encode()


@boundary
def load_state(engine: Engine, supplier: Name, schools: list[str]) -> dict[str, SupplierState]:
    """Return what `supplier` holds for each of `schools` (empty state where nothing).

    Raises:
        ConfigurationError: the database cannot be reached.
    """
    result = {school: SupplierState.nothing() for school in schools}
    with _transaction(engine) as connection:
        for chunk in _chunks(list(result)):
            rows = connection.execute(
                select(
                    SupplierStateRecord.school,
                    SupplierStateRecord.pupil_hash,
                    SupplierStateRecord.row_hash,
                    SupplierStateRecord.ref,
                    SupplierStateRecord.delivery_id,
                    DeliveryRecord.agreement_sha256,
                    SupplierStateRecord.kind,
                )
                .join(DeliveryRecord, DeliveryRecord.delivery_id == SupplierStateRecord.delivery_id)
                .where(
                    SupplierStateRecord.supplier == supplier, SupplierStateRecord.school.in_(chunk)
                )
            ).all()
            if not rows:
                continue
            frame = pd.DataFrame(
                rows,
                columns=["school", *STATE_COLUMNS, "delivery_id", "agreement_sha256", "kind"],
            )
            for school, part in frame.groupby("school", sort=False):
                teacher = part["kind"].eq(TEACHER)
                result[str(school)] = SupplierState(
                    _state_frame(part.loc[~teacher]),
                    delivery_id=str(part["delivery_id"].iloc[0]),
                    agreement_sha256=str(part["agreement_sha256"].iloc[0]),
                    teachers=_state_frame(part.loc[teacher]),
                )
        # A school whose last delivery left nobody with the supplier still has a baseline.
        empty = [school for school, state in result.items() if state.empty]
        for school, (delivery_id, agreement_sha256) in _baselines(
            connection, supplier, empty
        ).items():
            result[school] = SupplierState(_empty_frame(), delivery_id, agreement_sha256)
    return result


def _state_frame(rows: pd.DataFrame) -> pd.DataFrame:
    return (
        rows.loc[:, list(STATE_COLUMNS)]
        .astype({"pupil_hash": "str", "row_hash": "str"})
        .reset_index(drop=True)
    )


def _chunks(schools: list[str]) -> Iterator[list[str]]:
    """Schools in slices small enough for one IN list on every backend."""
    for start in range(0, len(schools), 500):
        yield schools[start : start + 500]


def _baselines(
    connection: Connection, supplier: str, schools: list[str]
) -> dict[str, tuple[str, str]]:
    """The newest delivered delivery per school (as LineageStore.last_delivery orders them)."""
    found: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(schools):
        rows = connection.execute(
            select(
                DeliveryRecord.school,
                DeliveryRecord.delivery_id,
                DeliveryRecord.agreement_sha256,
            )
            .where(
                DeliveryRecord.supplier == supplier,
                DeliveryRecord.school.in_(chunk),
                DeliveryRecord.status == "delivered",
            )
            .order_by(DeliveryRecord.created_at, DeliveryRecord.delivery_id)
        ).all()
        for school, delivery_id, agreement_sha256 in rows:
            found[school] = (delivery_id, agreement_sha256)  # the newest wins
    return found


def _rows(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Insertable rows; a frame without a `kind` column holds pupils only."""
    hashes = check(list[Sha256], list(frame["pupil_hash"]), "pupil_hash")
    rows = check(list[Sha256], list(frame["row_hash"]), "row_hash")
    refs = [r if isinstance(r, bytes) else None for r in frame["ref"]]
    kinds = list(frame["kind"]) if "kind" in frame.columns else [PUPIL] * len(frame)
    unknown = sorted({str(k) for k in kinds} - set(KINDS))
    if unknown:
        raise ValueError(f"state rows of unknown kind {', '.join(unknown)}; known: pupil, teacher")
    return [
        {"pupil_hash": p, "row_hash": r, "ref": f, "kind": k}
        for p, r, f, k in zip(hashes, rows, refs, kinds, strict=True)
    ]


@boundary
def commit_state(
    engine: Engine, supplier: Name, school: Name, delivery_id: Token, frame: pd.DataFrame
) -> int:
    """Replace what `supplier` holds for `school` by `frame`, left by delivery `delivery_id`.

    `frame` holds STATE_COLUMNS and, optionally, `kind` (pupil or teacher; pupil when
    there is no such column).

    Returns:
        The number of rows (pupils and teachers) the supplier now holds.

    Raises:
        ValueError: a hash is not 64 hex characters.
        ConfigurationError: the database cannot be reached.
    """
    rows = _rows(frame)
    with _transaction(engine) as connection:
        connection.execute(
            sql_delete(SupplierStateRecord).where(
                SupplierStateRecord.supplier == supplier, SupplierStateRecord.school == school
            )
        )
        it = iter(rows)
        while batch := list(islice(it, _BATCH)):
            connection.execute(
                sql_insert(SupplierStateRecord),
                [
                    {**r, "supplier": supplier, "school": school, "delivery_id": delivery_id}
                    for r in batch
                ],
            )
    return len(rows)


@boundary
def stage_pending(engine: Engine, delivery_id: Token, frame: pd.DataFrame) -> int:
    """Keep the state a held delivery would leave, until it is approved or superseded."""
    rows = _rows(frame)
    with _transaction(engine) as connection:
        it = iter(rows)
        while batch := list(islice(it, _BATCH)):
            connection.execute(
                sql_insert(PendingStateRecord), [{**r, "delivery_id": delivery_id} for r in batch]
            )
    return len(rows)


@boundary
def pending_state(engine: Engine, delivery_id: Token) -> pd.DataFrame:
    """The state a held delivery leaves: STATE_COLUMNS and `kind` (pupil or teacher)."""
    with _transaction(engine) as connection:
        rows = pending_rows(connection, delivery_id)
    if not rows:
        return _empty_frame().assign(kind=pd.Series([], dtype="str"))
    return pd.DataFrame(rows, columns=[*STATE_COLUMNS, "kind"]).astype(
        {"pupil_hash": "str", "row_hash": "str", "kind": "str"}
    )


def pending_rows(
    connection: Connection, delivery_id: str
) -> Sequence[Row[str, str, bytes | None, str]]:
    """(pupil_hash, row_hash, ref, kind) of each row a held delivery's state would hold."""
    pending = PendingStateRecord
    return connection.execute(
        select(pending.pupil_hash, pending.row_hash, pending.ref, pending.kind).where(
            pending.delivery_id == delivery_id
        )
    ).all()


@boundary
def discard_pending(engine: Engine, delivery_id: Token) -> int:
    """Forget a held delivery's pending state (superseded or expired)."""
    return deleted(
        engine, sql_delete(PendingStateRecord).where(PendingStateRecord.delivery_id == delivery_id)
    )


@boundary
def state_from_delivery(engine: Engine, delivery_id: Token) -> pd.DataFrame:
    """The state a full delivery left, rebuilt from its recorded members (for re-delivery).

    Refs are not kept with members, so the rebuilt state has none.
    """
    with _transaction(engine) as connection:
        rows = connection.execute(
            select(DeliveryMemberRecord.pupil_hash, DeliveryMemberRecord.row_hash).where(
                DeliveryMemberRecord.delivery_id == delivery_id,
                DeliveryMemberRecord.row_hash.is_not(None),
            )
        ).all()
    frame = _empty_frame()
    if rows:
        frame = pd.DataFrame(rows, columns=["pupil_hash", "row_hash"]).astype("str")
        frame["ref"] = None
    return frame


@boundary(labels={"at": "removed_at"})
def mark_removed(engine: Engine, delivery_id: Token, at: UtcTime) -> None:
    """Record that a delivery was removed from its drop (retention)."""
    with _transaction(engine) as connection:
        connection.execute(
            sql_insert(DropRemovalRecord),
            [{"delivery_id": delivery_id, "removed_at": at}],
        )


def removed_deliveries(engine: Engine) -> frozenset[str]:
    """Lineage ids of the deliveries retention already removed from their drops."""
    with _transaction(engine) as connection:
        return frozenset(connection.scalars(select(DropRemovalRecord.delivery_id)))


def forget_suppliers(engine: Engine, keep: set[str]) -> int:
    """Delete the state of suppliers no agreement names any more; returns rows deleted.

    Without an agreement nothing is delivered to them again, so what they held (hashes
    and sealed identifiers) has no use left.
    """
    return deleted(
        engine, sql_delete(SupplierStateRecord).where(SupplierStateRecord.supplier.not_in(keep))
    )


@boundary
def pupil_is_known(engine: Engine, pupil_hash: Sha256) -> bool:
    """Whether lineage holds anything about the pupil (by `lineage.rights.pupil_hash`).

    A delivery that held the pupil, a supplier's state or a held delivery's pending
    state, or an erasure request (active or revoked). The hash includes the school, so a
    key another school has does not count. Memberships purged after the retention period
    no longer count.

    Raises:
        ValueError: the hash is not 64 hex characters.
        ConfigurationError: the database cannot be reached.
    """
    queries = [
        select(table.pupil_hash).where(table.pupil_hash == pupil_hash).limit(1)
        for table in (
            DeliveryMemberRecord,
            SupplierStateRecord,
            PendingStateRecord,
            ErasureRecord,
        )
    ]
    with _transaction(engine) as connection:
        return any(connection.execute(query).first() is not None for query in queries)
