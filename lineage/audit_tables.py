"""The audit log's tables: the chained log, its head, and the agreement versions recorded.

On both databases, triggers created with `audit_log` refuse UPDATE and DELETE (and
TRUNCATE on PostgreSQL); see lineage.audit for the chain the rows form. The tables live on
`lineage.tables.Base`. Imports only lineage.tables and lineage.values.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal, get_args

from sqlalchemy import CheckConstraint, Connection, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from lineage.tables import JSON_VALUE, Base, UtcDateTime
from lineage.values import ACTOR_LENGTH

__all__ = [
    "AUDIT_ACTIONS",
    "SUBJECT_LENGTH",
    "SUPPLIER_LENGTH",
    "AgreementVersionRecord",
    "AuditAction",
    "AuditHeadRecord",
    "AuditRecord",
]

AuditAction = Literal[
    "agreement_added",
    "agreement_changed",
    "agreement_removed",
    "delivery_approved",
    "erasure",
    "erasure_revoked",
    "redelivery",
    "key_rotated",
    "retention_purge",
    # What a run settled of a killed run, and a lock taken from a holder that stopped
    # beating (pipelines/reconcile.py, lineage/locks.py).
    "reconciliation",
    "lock_takeover",
    "legal_request",
]
AUDIT_ACTIONS: Final = frozenset(get_args(AuditAction))

SUBJECT_LENGTH: Final = 128
SUPPLIER_LENGTH: Final = 63


class AuditRecord(Base):
    """One administrator action, chained to the one before it."""

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(
            "action IN ({})".format(", ".join(f"'{a}'" for a in get_args(AuditAction))),
            name="action",
        ),
        CheckConstraint("seq >= 1", name="seq"),
        # The history of one supplier or one pupil hash, for the privacy officer.
        Index("ix_audit_log_subject", "subject"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(SUBJECT_LENGTH))
    details: Mapped[dict[str, Any]] = mapped_column(JSON_VALUE)
    # Unique: two rows chaining to the same predecessor is a fork, whatever the database.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRecord(Base):
    """The log's last row, written with every append: an anchor outside `audit_log`."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    row_hash: Mapped[str] = mapped_column(String(64))


class AgreementVersionRecord(Base):
    """The agreement file version last recorded for a supplier."""

    __tablename__ = "agreement_versions"

    supplier: Mapped[str] = mapped_column(String(SUPPLIER_LENGTH), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


_APPEND_ONLY_MESSAGE: Final = "audit_log is append-only"
_APPEND_ONLY_TRIGGERS: Final[Mapping[str, tuple[str, ...]]] = {
    "sqlite": (
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY_MESSAGE}'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY_MESSAGE}'); END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY_MESSAGE}'; END $$",
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    ),
}


def _create_append_only_triggers(target: object, connection: Connection, **_: object) -> None:
    # Alembic does not autogenerate triggers: a migration creating audit_log must run these.
    for statement in _APPEND_ONLY_TRIGGERS.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)


event.listen(AuditRecord.__table__, "after_create", _create_append_only_triggers)
