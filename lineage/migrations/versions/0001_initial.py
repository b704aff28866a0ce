"""The lineage schema as `create_all` made it before Sluis used migrations.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Runs, sources, quarantine counts and deliveries (lineage.store), who was in a delivery
and erasures (lineage.rights), supplier state (lineage.state), and the append-only audit
log with the agreement versions (lineage.audit). Timestamps are plain DateTime with time
zone: the models' UtcDateTime only converts values in Python and stores this type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from lineage.migrations._ops import (
    APPEND_ONLY_TRIGGERS,
    AUDIT_ACTIONS_0001,
    action_check,
    foreign_key,
    primary_key,
    utc,
)

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON: Final = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create every lineage table, index and constraint, and the audit log's triggers."""
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("started_at", utc(), nullable=False),
        sa.Column("finished_at", utc(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(63), nullable=False),
        sa.Column(
            "dry_run",
            sa.Boolean(create_constraint=True, name=op.f("ck_runs_dry_run")),
            nullable=False,
        ),
        sa.Column("sluis_version", sa.String(63), nullable=False),
        sa.Column("message", sa.String(500), nullable=True),
        sa.Column("parameters", _JSON, nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed')", name=op.f("ck_runs_status")
        ),
        primary_key("runs", "run_id"),
    )
    op.create_index(op.f("ix_runs_started_at"), "runs", ["started_at"])

    op.create_table(
        "run_sources",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("school", sa.String(63), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("format", sa.String(63), nullable=False),
        sa.Column("encoding", sa.String(63), nullable=False),
        sa.Column("pupils_read", sa.Integer(), nullable=False),
        sa.Column("schooljaar", sa.String(9), nullable=False),
        foreign_key("run_sources", "run_id", "runs", "run_id"),
        primary_key("run_sources", "id"),
    )
    op.create_index(op.f("ix_run_sources_run_id"), "run_sources", ["run_id"])

    op.create_table(
        "deliveries",
        sa.Column("delivery_id", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("supplier", sa.String(63), nullable=False),
        sa.Column("school", sa.String(63), nullable=False),
        sa.Column("agreement_sha256", sa.String(64), nullable=False),
        sa.Column("agreement_reference", sa.String(128), nullable=False),
        sa.Column("fields", _JSON, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("counts", _JSON, nullable=False),
        sa.Column("files", _JSON, nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        sa.CheckConstraint("mode IN ('full', 'delta')", name=op.f("ck_deliveries_mode")),
        sa.CheckConstraint(
            "status IN ('delivered', 'nothing_to_deliver', 'failed', 'dry_run', "
            "'agreement_expired', 'held', 'superseded')",
            name=op.f("ck_deliveries_status"),
        ),
        foreign_key("deliveries", "run_id", "runs", "run_id"),
        primary_key("deliveries", "delivery_id"),
    )
    op.create_index(op.f("ix_deliveries_run_id"), "deliveries", ["run_id"])
    op.create_index(
        op.f("ix_deliveries_supplier_school_created_at"),
        "deliveries",
        ["supplier", "school", "created_at"],
    )

    op.create_table(
        "quarantine_counts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("school", sa.String(63), nullable=False),
        sa.Column("column", sa.String(63), nullable=True),
        sa.Column("rule", sa.String(500), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "severity IN ('error', 'warning')", name=op.f("ck_quarantine_counts_severity")
        ),
        foreign_key("quarantine_counts", "run_id", "runs", "run_id"),
        primary_key("quarantine_counts", "id"),
    )
    op.create_index(op.f("ix_quarantine_counts_run_id"), "quarantine_counts", ["run_id"])

    op.create_table(
        "delivery_members",
        sa.Column("delivery_id", sa.String(128), nullable=False),
        sa.Column("pupil_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=True),
        foreign_key("delivery_members", "delivery_id", "deliveries", "delivery_id"),
        primary_key("delivery_members", "delivery_id", "pupil_hash"),
    )
    op.create_index(op.f("ix_delivery_members_pupil_hash"), "delivery_members", ["pupil_hash"])

    op.create_table(
        "erasures",
        sa.Column("pupil_hash", sa.String(64), nullable=False),
        sa.Column("requested_at", utc(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("revoked_at", utc(), nullable=True),
        sa.Column("revoked_by", sa.String(128), nullable=True),
        sa.CheckConstraint(
            "(revoked_at IS NULL) = (revoked_by IS NULL)", name=op.f("ck_erasures_revoked")
        ),
        primary_key("erasures", "pupil_hash"),
    )

    op.create_table(
        "supplier_state",
        sa.Column("supplier", sa.String(63), nullable=False),
        sa.Column("school", sa.String(63), nullable=False),
        sa.Column("pupil_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.Column("ref", sa.LargeBinary(), nullable=True),
        sa.Column("delivery_id", sa.String(128), nullable=False),
        foreign_key("supplier_state", "delivery_id", "deliveries", "delivery_id"),
        primary_key("supplier_state", "supplier", "school", "pupil_hash"),
    )
    op.create_index(op.f("ix_supplier_state_delivery_id"), "supplier_state", ["delivery_id"])

    op.create_table(
        "supplier_state_pending",
        sa.Column("delivery_id", sa.String(128), nullable=False),
        sa.Column("pupil_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.Column("ref", sa.LargeBinary(), nullable=True),
        foreign_key("supplier_state_pending", "delivery_id", "deliveries", "delivery_id"),
        primary_key("supplier_state_pending", "delivery_id", "pupil_hash"),
    )

    op.create_table(
        "drop_removals",
        sa.Column("delivery_id", sa.String(128), nullable=False),
        sa.Column("removed_at", utc(), nullable=False),
        foreign_key("drop_removals", "delivery_id", "deliveries", "delivery_id"),
        primary_key("drop_removals", "delivery_id"),
    )

    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", utc(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("details", _JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.CheckConstraint(
            action_check(AUDIT_ACTIONS_0001),
            name=op.f("ck_audit_log_action"),
        ),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_audit_log_seq")),
        primary_key("audit_log", "seq"),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_log_prev_hash")),
    )
    op.create_index(op.f("ix_audit_log_subject"), "audit_log", ["subject"])
    for statement in APPEND_ONLY_TRIGGERS.get(op.get_context().dialect.name, ()):
        op.execute(statement)

    op.create_table(
        "agreement_versions",
        sa.Column("supplier", sa.String(63), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("recorded_at", utc(), nullable=False),
        primary_key("agreement_versions", "supplier"),
    )


def downgrade() -> None:
    """Refuse: dropping the lineage tables would destroy the audit trail."""
    # The audit log and delivery records are kept for years (IBP SM.04); a schema tool is
    # not the place to delete them. Restore a backup to go back.
    raise NotImplementedError("the initial lineage schema cannot be downgraded")
