"""The lineage store's tables: runs, the exports they read, quarantine counts, deliveries.

`Base` is the declarative base every lineage table sits on (the audit log, rights, state
and lock tables too, in their own modules), with the naming convention the Alembic
migrations in lineage/migrations rely on: every table, index and constraint has an
explicit, stable name. Imports only lineage.values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lineage.values import MESSAGE_LENGTH, NAME_LENGTH, TOKEN_LENGTH, UtcTime, check

__all__ = [
    "JSON_VALUE",
    "NAMING_CONVENTION",
    "Base",
    "DeliveryRecord",
    "QuarantineRecord",
    "RunRecord",
    "SourceRecord",
    "UtcDateTime",
]

# Alembic autogenerate compares names; without a convention PostgreSQL and SQLite invent
# different ones and every later migration would have to guess them.
NAMING_CONVENTION: Final[dict[str, str]] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite keeps no offset, so the value is stored as naive UTC there; text order then
    equals time order, which `last_delivery` relies on. Read values always come back
    aware, in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware timestamp to UTC (naive UTC for SQLite)."""
        if value is None:
            return None
        value = check(UtcTime, value, "timestamp")
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored timestamp as an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL so a privacy officer can ask "which deliveries carried field X"
# with an indexable containment query; plain JSON (text) elsewhere.
JSON_VALUE: Final = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base of the lineage tables, with the shared naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class RunRecord(Base):
    """One run of Sluis: when, how it was started, and how it ended."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'completed', 'failed', 'aborted')", name="status"),
    )

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(NAME_LENGTH))
    dry_run: Mapped[bool] = mapped_column(Boolean(create_constraint=True, name="dry_run"))
    sluis_version: Mapped[str] = mapped_column(String(NAME_LENGTH))
    message: Mapped[str | None] = mapped_column(String(MESSAGE_LENGTH))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON_VALUE)
    # The audit log's head when the run ended: an anchor outside audit_log
    # (lineage.audit_anchors).
    audit_seq: Mapped[int | None] = mapped_column(Integer)
    audit_mac: Mapped[str | None] = mapped_column(String(64))
    # Renewed while the run lives (pipelines/heartbeat.py): a `running` run that stopped
    # beating is dead, and a later run marks it aborted.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SourceRecord(Base):
    """One export file a run read for one school."""

    __tablename__ = "run_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey(RunRecord.run_id), index=True)
    school: Mapped[str] = mapped_column(String(NAME_LENGTH))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(NAME_LENGTH))
    encoding: Mapped[str] = mapped_column(String(NAME_LENGTH))
    pupils_read: Mapped[int] = mapped_column(Integer)
    schooljaar: Mapped[str] = mapped_column(String(9))


class DeliveryRecord(Base):
    """One delivery (or attempt) to one supplier for one school: fields, counts, hashes."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(
            "status IN ('delivered', 'nothing_to_deliver', 'failed', 'dry_run', "
            "'agreement_expired', 'held', 'superseded', 'publishing', 'rolled_back')",
            name="status",
        ),
        CheckConstraint("mode IN ('full', 'delta')", name="mode"),
        # Serves last_delivery: the newest delivery per supplier and school.
        Index("ix_deliveries_supplier_school_created_at", "supplier", "school", "created_at"),
        # Serves the held-delivery check of every outcome: held rows are few, every other
        # status grows with history, so status leads; then deliveries_of's order (0005).
        Index(
            "ix_deliveries_status_supplier_school",
            "status",
            "supplier",
            "school",
            "created_at",
            "delivery_id",
        ),
    )

    delivery_id: Mapped[str] = mapped_column(String(TOKEN_LENGTH), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey(RunRecord.run_id), index=True)
    supplier: Mapped[str] = mapped_column(String(NAME_LENGTH))
    school: Mapped[str] = mapped_column(String(NAME_LENGTH))
    agreement_sha256: Mapped[str] = mapped_column(String(64))
    agreement_reference: Mapped[str] = mapped_column(String(TOKEN_LENGTH))
    fields: Mapped[list[str]] = mapped_column(JSON_VALUE)
    mode: Mapped[str] = mapped_column(String(16))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON_VALUE)
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON_VALUE)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class QuarantineRecord(Base):
    """How many rows of one school a contract rule sent to quarantine in a run."""

    __tablename__ = "quarantine_counts"
    __table_args__ = (CheckConstraint("severity IN ('error', 'warning')", name="severity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey(RunRecord.run_id), index=True)
    school: Mapped[str] = mapped_column(String(NAME_LENGTH))
    column: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    rule: Mapped[str] = mapped_column(String(MESSAGE_LENGTH))
    severity: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
