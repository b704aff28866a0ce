"""Parents' rights: which deliveries held a pupil, and erasure, without storing a pupil value.

A pupil is known here only by `pupil_hash`: an HMAC-SHA256 of the pupil's key in the
student administration (LAS ``leerlingkey``) under a secret from the settings. The secret
never enters the database, so a dump of it does not lead back to a key, and the same
pupil gets the same hash in every run as long as the secret stays the same (rotating it
makes earlier memberships and erasures unfindable: record a ``key_rotated`` entry and
rehash, or keep the old secret for lookups).

- Access (AVG art. 15): each delivery's members are recorded as hashes
  (`record_members`); `deliveries_for_pupil` answers "which supplier received what about
  my child, when, under which agreement".
- Erasure and objection (art. 17, 21): `erase` records the request, with the parent's
  reason, and `erased_hashes` is what the flow withholds (reason code ``erased``).
  `revoke` ends it. Both are also entries in the audit log, with only the reason's hash.
- Retention: `purge_before` deletes memberships of old deliveries; the deliveries
  themselves (names, counts, hashes) stay.

The tables live on `lineage.tables.Base`: importing this module is what makes
`LineageStore.create_schema` create them. Every write is one transaction.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Final, cast

from sqlalchemy import (
    CheckConstraint,
    Connection,
    Engine,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    select,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy import insert as sql_insert
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from connectors.i18n import _
from lineage.audit import AuditEntry
from lineage.audit import append_entry as _append
from lineage.audit import locked_transaction as _locked_transaction
from lineage.engine import transaction as _transaction
from lineage.snapshots import from_row
from lineage.tables import Base, DeliveryRecord, RunRecord, UtcDateTime
from lineage.values import (
    Actor,
    AuditKey,
    DeliveryStatus,
    Sha256,
    Sha256s,
    Token,
    UtcTime,
    boundary,
)

__all__ = [
    "LEGAL_REQUEST_TRIGGER",
    "DeliveryMemberRecord",
    "Erasure",
    "ErasureRecord",
    "PupilDelivery",
    "deliveries_for_pupil",
    "erase",
    "erased_hashes",
    "get_erasure",
    "pupil_hash",
    "purge_before",
    "record_members",
    "revoke",
]

_MIN_SECRET_BYTES: Final = 16
_REASON_LENGTH: Final = 2000
_BATCH: Final = 5000


class DeliveryMemberRecord(Base):
    """One pupil, as a keyed hash, in one delivery."""

    __tablename__ = "delivery_members"
    # The primary key serves "who was in delivery X"; this index serves "where did pupil Y go".
    __table_args__ = (Index("ix_delivery_members_pupil_hash", "pupil_hash"),)

    delivery_id: Mapped[str] = mapped_column(
        ForeignKey(DeliveryRecord.delivery_id), primary_key=True
    )
    pupil_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Keyed hash of the pupil's delivered row: a change between deliveries means a
    # corrected value reached the supplier, without storing the value.
    row_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ErasureRecord(Base):
    """A parent's request that a pupil is no longer delivered, and its revocation."""

    __tablename__ = "erasures"
    __table_args__ = (
        CheckConstraint("(revoked_at IS NULL) = (revoked_by IS NULL)", name="revoked"),
    )

    pupil_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    # The request as the parent made it; it may hold personal information, which is why
    # it is kept here and only its hash goes into the audit log.
    reason: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(128))


@dataclass(frozen=True, slots=True)
class PupilDelivery:
    """A delivery a pupil was part of, as the lineage store recorded it."""

    delivery_id: str
    supplier: str
    school: str
    created_at: datetime
    fields: tuple[str, ...]
    agreement_reference: str
    status: DeliveryStatus
    row_hash: str | None = None
    # A delivery on request (`sluis verstrek`): who asked, the request's reference and
    # the legal reference, as the run recorded them; None for a normal run.
    request: dict[str, str] | None = None


# The lineage run trigger of a delivery on request (pipelines.legal_requests).
LEGAL_REQUEST_TRIGGER = "verstrek"
_REQUEST_KEYS = ("aanvrager", "kenmerk", "legal_reference")


def _request(trigger: str, parameters: Mapping[str, object] | None) -> dict[str, str] | None:
    if trigger != LEGAL_REQUEST_TRIGGER:
        return None
    return {k: str((parameters or {}).get(k) or "") for k in _REQUEST_KEYS}


@dataclass(frozen=True, slots=True)
class Erasure:
    """An erasure request as stored; active while ``revoked_at`` is None."""

    pupil_hash: str
    requested_at: datetime
    actor: str
    reason: str
    revoked_at: datetime | None
    revoked_by: str | None


def pupil_hash(key: str, secret: bytes) -> str:
    """Return the keyed hash that stands for a pupil in the lineage database.

    Args:
        key: the pupil's LAS ``leerlingkey``, exactly as the export has it.
        secret: at least 16 bytes from the settings; never stored in the database.

    Returns:
        HMAC-SHA256 of the UTF-8 key under the secret, as 64 lower-case hex characters.

    Raises:
        ValueError: the key is empty or not a string, or the secret is too short.
    """
    if not isinstance(key, str) or not key:
        raise ValueError("key must be a non-empty string")
    if not isinstance(secret, bytes) or len(secret) < _MIN_SECRET_BYTES:
        raise ValueError(f"the pupil hash secret must be at least {_MIN_SECRET_BYTES} bytes")
    return hmac.new(secret, key.encode("utf-8"), hashlib.sha256).hexdigest()


@boundary(labels={"hashes": "each pupil hash", "row_hashes": "each row hash"})
def record_members(
    engine: Engine,
    delivery_id: Token,
    hashes: Sha256s,
    row_hashes: Sha256s | None = None,
) -> int:
    """Record which pupils, as hashes, a recorded delivery held.

    Args:
        engine: an engine on the lineage database (see `lineage.audit.lineage_engine`).
        delivery_id: a delivery already recorded by `LineageStore.record_delivery`.
        hashes: `pupil_hash` of each delivered pupil; repeats are recorded once.
        row_hashes: per pupil, in the same order, a keyed hash of the delivered row.

    Returns:
        How many members were recorded.

    Raises:
        ValueError: a hash is not 64 hex characters (so a raw key is refused), the
            delivery is unknown, or members of it were already recorded (then nothing of
            this call is recorded).
        ConfigurationError: the database cannot be reached.
    """
    pupils = list(hashes)
    rows_of: dict[str, str | None] = dict.fromkeys(pupils)
    if row_hashes is not None:
        row_list = list(row_hashes)
        if len(row_list) != len(pupils):
            raise ValueError("row_hashes must have one hash per pupil hash")
        rows_of = dict(zip(pupils, row_list, strict=True))
    members = sorted(rows_of)
    with _transaction(engine) as connection:
        known = connection.execute(
            select(DeliveryRecord.delivery_id).where(DeliveryRecord.delivery_id == delivery_id)
        ).first()
        if known is None:
            raise ValueError(f"delivery {delivery_id} was not recorded")
        rows = iter(members)
        try:
            while batch := list(islice(rows, _BATCH)):
                connection.execute(
                    sql_insert(DeliveryMemberRecord),
                    [
                        {
                            "delivery_id": delivery_id,
                            "pupil_hash": value,
                            "row_hash": rows_of[value],
                        }
                        for value in batch
                    ],
                )
        except IntegrityError:
            raise ValueError(f"members of delivery {delivery_id} were already recorded") from None
    return len(members)


@boundary
def deliveries_for_pupil(engine: Engine, pupil_hash: Sha256) -> list[PupilDelivery]:
    """Return every delivery the pupil was recorded in, oldest first.

    Args:
        engine: an engine on the lineage database.
        pupil_hash: the pupil's `pupil_hash`.

    Raises:
        ValueError: the hash is not 64 hex characters.
        ConfigurationError: the database cannot be reached.
    """
    query = (
        select(
            DeliveryRecord.delivery_id,
            DeliveryRecord.supplier,
            DeliveryRecord.school,
            DeliveryRecord.created_at,
            DeliveryRecord.fields,
            DeliveryRecord.agreement_reference,
            DeliveryRecord.status,
            DeliveryMemberRecord.row_hash,
            RunRecord.trigger,
            RunRecord.parameters,
        )
        .join(DeliveryMemberRecord, DeliveryMemberRecord.delivery_id == DeliveryRecord.delivery_id)
        .join(RunRecord, RunRecord.run_id == DeliveryRecord.run_id)
        .where(DeliveryMemberRecord.pupil_hash == pupil_hash)
        .order_by(DeliveryRecord.created_at, DeliveryRecord.delivery_id)
    )
    with _transaction(engine) as connection:
        return [
            PupilDelivery(
                delivery_id=row.delivery_id,
                supplier=row.supplier,
                school=row.school,
                created_at=row.created_at,
                fields=tuple(row.fields),
                agreement_reference=row.agreement_reference,
                status=cast(DeliveryStatus, row.status),
                row_hash=row.row_hash,
                request=_request(row.trigger, row.parameters),
            )
            for row in connection.execute(query)
        ]


@boundary
def erase(
    engine: Engine,
    pupil_hash: Sha256,
    actor: Actor,
    reason: str,
    at: UtcTime,
    *,
    audit_key: AuditKey,
) -> AuditEntry:
    """Record a parent's erasure (or objection) request, and its audit entry.

    From then on `erased_hashes` holds the pupil, and the flow withholds them.
    A pupil whose earlier erasure was revoked can be erased again; the new request then
    replaces the old one here, whose reason hash stays in the audit log.

    Args:
        engine: an engine on the lineage database.
        pupil_hash: the pupil's `pupil_hash`.
        actor: who records the request (see `lineage.audit.AuditLog.append`).
        reason: the request as made, up to 2,000 characters; may span lines.
        at: when the request was made (timezone-aware).
        audit_key: the key of the audit log's chain.

    Returns:
        The ``erasure`` audit entry; its details hold ``reason_sha256`` only.

    Raises:
        ValueError: an argument is malformed, or the pupil is already erased.
        ConfigurationError: the database cannot be reached.
    """
    text = _reason(reason)
    values = {"requested_at": at, "actor": actor, "reason": text}
    with _locked_transaction(engine) as connection:
        current = _current(connection, pupil_hash)
        if current is None:
            connection.execute(sql_insert(ErasureRecord).values(pupil_hash=pupil_hash, **values))
        elif current.revoked_at is None:
            raise ValueError(_("deze leerling is al vergeten; er is niets gewijzigd"))
        else:
            connection.execute(
                sql_update(ErasureRecord)
                .where(ErasureRecord.pupil_hash == pupil_hash)
                .values(revoked_at=None, revoked_by=None, **values)
            )
        details = {"reason_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
        return _append(connection, audit_key, actor, "erasure", pupil_hash, details, at)


@boundary
def revoke(
    engine: Engine, pupil_hash: Sha256, actor: Actor, at: UtcTime, *, audit_key: AuditKey
) -> AuditEntry:
    """End an active erasure, e.g. when a parent withdraws the request.

    Args:
        engine: an engine on the lineage database.
        pupil_hash: the pupil's `pupil_hash`.
        actor: who revokes it.
        at: when (timezone-aware).
        audit_key: the key of the audit log's chain.

    Returns:
        The ``erasure_revoked`` audit entry.

    Raises:
        ValueError: an argument is malformed, or the pupil has no active erasure.
        ConfigurationError: the database cannot be reached.
    """
    with _locked_transaction(engine) as connection:
        current = _current(connection, pupil_hash)
        if current is None or current.revoked_at is not None:
            raise ValueError(
                _("voor deze leerling staat geen actieve vergeet-opdracht om in te trekken")
            )
        connection.execute(
            sql_update(ErasureRecord)
            .where(ErasureRecord.pupil_hash == pupil_hash)
            .values(revoked_at=at, revoked_by=actor)
        )
        return _append(connection, audit_key, actor, "erasure_revoked", pupil_hash, {}, at)


def erased_hashes(engine: Engine) -> frozenset[str]:
    """Return the hashes of every pupil with an active erasure.

    Raises:
        ConfigurationError: the database cannot be reached.
    """
    query = select(ErasureRecord.pupil_hash).where(ErasureRecord.revoked_at.is_(None))
    with _transaction(engine) as connection:
        return frozenset(connection.scalars(query))


@boundary
def get_erasure(engine: Engine, pupil_hash: Sha256) -> Erasure | None:
    """Return the pupil's erasure request, active or revoked, or None if there is none.

    Raises:
        ValueError: the hash is not 64 hex characters.
        ConfigurationError: the database cannot be reached.
    """
    with _transaction(engine) as connection:
        return _current(connection, pupil_hash)


@boundary
def purge_before(engine: Engine, cutoff: UtcTime) -> dict[str, int]:
    """Delete the memberships of deliveries created before the cutoff.

    The deliveries stay; only which pupils they held goes. Erasures stay too, or an
    erased pupil would be delivered again. The caller records the purge.

    Args:
        engine: an engine on the lineage database.
        cutoff: timezone-aware; deliveries with ``created_at`` strictly before it lose
            their members.

    Returns:
        ``{"deliveries": n, "delivery_members": m}``: how many deliveries had members
        deleted, and how many member rows were deleted.

    Raises:
        ValueError: the cutoff is not timezone-aware.
        ConfigurationError: the database cannot be reached.
    """
    old = select(DeliveryRecord.delivery_id).where(DeliveryRecord.created_at < cutoff)
    members = DeliveryMemberRecord
    with _transaction(engine) as connection:
        deliveries = connection.execute(
            select(func.count(func.distinct(members.delivery_id))).where(
                members.delivery_id.in_(old)
            )
        ).scalar_one()
        deleted = connection.execute(
            sql_delete(members).where(members.delivery_id.in_(old))
        ).rowcount
    return {"deliveries": int(deliveries), "delivery_members": int(deleted)}


# -- helpers ---------------------------------------------------------------------------


def _current(connection: Connection, member: str) -> Erasure | None:
    row = connection.execute(
        select(
            ErasureRecord.pupil_hash,
            ErasureRecord.requested_at,
            ErasureRecord.actor,
            ErasureRecord.reason,
            ErasureRecord.revoked_at,
            ErasureRecord.revoked_by,
        ).where(ErasureRecord.pupil_hash == member)
    ).first()
    return None if row is None else from_row(Erasure, row)


def _reason(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _REASON_LENGTH:
        raise ValueError(
            _("de reden moet 1 tot {limit} tekens tekst zijn; kort hem in").format(
                limit=_REASON_LENGTH
            )
        )
    if "\x00" in value:
        raise ValueError(_("de reden bevat een NUL-teken; haal het weg"))
    return value
