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

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON: Final = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_AUDIT_ACTIONS: Final = (
    "agreement_added",
    "agreement_changed",
    "agreement_removed",
    "delivery_approved",
    "erasure",
    "erasure_revoked",
    "redelivery",
    "key_rotated",
    "retention_purge",
)

# A copy of lineage.audit._APPEND_ONLY_TRIGGERS as it was at this revision, not an import
# of it: a migration must create the same triggers whatever that module says later (a
# changed trigger is a new migration). test_migrations compares the two.
_APPEND_ONLY: Final = "audit_log is append-only"
_APPEND_ONLY_TRIGGERS: Final[dict[str, tuple[str, ...]]] = {
    "sqlite": (
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$",
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    ),
}


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create every lineage table, index and constraint, and the audit log's triggers."""
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc(), nullable=True),
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
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_runs")),
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
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_run_sources_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_sources")),
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
        sa.Column("created_at", _utc(), nullable=False),
        sa.CheckConstraint("mode IN ('full', 'delta')", name=op.f("ck_deliveries_mode")),
        sa.CheckConstraint(
            "status IN ('delivered', 'nothing_to_deliver', 'failed', 'dry_run', "
            "'agreement_expired', 'held', 'superseded')",
            name=op.f("ck_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_deliveries_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_deliveries")),
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
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_quarantine_counts_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine_counts")),
    )
    op.create_index(op.f("ix_quarantine_counts_run_id"), "quarantine_counts", ["run_id"])

    op.create_table(
        "delivery_members",
        sa.Column("delivery_id", sa.String(128), nullable=False),
        sa.Column("pupil_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.delivery_id"],
            name=op.f("fk_delivery_members_delivery_id_deliveries"),
        ),
        sa.PrimaryKeyConstraint("delivery_id", "pupil_hash", name=op.f("pk_delivery_members")),
    )
    op.create_index(op.f("ix_delivery_members_pupil_hash"), "delivery_members", ["pupil_hash"])

    op.create_table(
        "erasures",
        sa.Column("pupil_hash", sa.String(64), nullable=False),
        sa.Column("requested_at", _utc(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("revoked_at", _utc(), nullable=True),
        sa.Column("revoked_by", sa.String(128), nullable=True),
        sa.CheckConstraint(
            "(revoked_at IS NULL) = (revoked_by IS NULL)", name=op.f("ck_erasures_revoked")
        ),
        sa.PrimaryKeyConstraint("pupil_hash", name=op.f("pk_erasures")),
    )

    op.create_table(
        "supplier_state",
        sa.Column("supplier", sa.String(63), nullable=False),
        sa.Column("school", sa.String(63), nullable=False),
        sa.Column("pupil_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.Column("ref", sa.LargeBinary(), nullable=True),
        sa.Column("delivery_id", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.delivery_id"],
            name=op.f("fk_supplier_state_delivery_id_deliveries"),
        ),
        sa.PrimaryKeyConstraint("supplier", "school", "pupil_hash", name=op.f("pk_supplier_state")),
    )
    op.create_index(op.f("ix_supplier_state_delivery_id"), "supplier_state", ["delivery_id"])

    op.create_table(
        "supplier_state_pending",
        sa.Column("delivery_id", sa.String(128), nullable=False),
        sa.Column("pupil_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.Column("ref", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.delivery_id"],
            name=op.f("fk_supplier_state_pending_delivery_id_deliveries"),
        ),
        sa.PrimaryKeyConstraint(
            "delivery_id", "pupil_hash", name=op.f("pk_supplier_state_pending")
        ),
    )

    op.create_table(
        "drop_removals",
        sa.Column("delivery_id", sa.String(128), nullable=False),
        sa.Column("removed_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.delivery_id"],
            name=op.f("fk_drop_removals_delivery_id_deliveries"),
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_drop_removals")),
    )

    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("details", _JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.CheckConstraint(
            "action IN ({})".format(", ".join(f"'{action}'" for action in _AUDIT_ACTIONS)),
            name=op.f("ck_audit_log_action"),
        ),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_audit_log_seq")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_log_prev_hash")),
    )
    op.create_index(op.f("ix_audit_log_subject"), "audit_log", ["subject"])
    for statement in _APPEND_ONLY_TRIGGERS.get(op.get_context().dialect.name, ()):
        op.execute(statement)

    op.create_table(
        "agreement_versions",
        sa.Column("supplier", sa.String(63), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("recorded_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("supplier", name=op.f("pk_agreement_versions")),
    )


def downgrade() -> None:
    """Refuse: dropping the lineage tables would destroy the audit trail."""
    # The audit log and delivery records are kept for years (IBP SM.04); a schema tool is
    # not the place to delete them. Restore a backup to go back.
    raise NotImplementedError("the initial lineage schema cannot be downgraded")
