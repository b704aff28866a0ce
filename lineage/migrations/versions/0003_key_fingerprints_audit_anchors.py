"""Keys never replaced behind Sluis' back, and the audit log's head anchored outside it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

- key_fingerprints (lineage.key_records): a fingerprint of each key lineage depends on
  (membership, state sealing, audit, each supplier's pseudonym key), checked before a run.
- audit_head (lineage.audit): the audit log's last row, moved with every append.
- runs.audit_seq and runs.audit_mac: the head each run left the log at.

Rows already in audit_log keep their plain SHA-256 chain and stay verifiable as such; the
rows appended from now on are chained with an HMAC under the audit key.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lineage.migrations._ops import primary_key, utc

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the fingerprint and head tables and the runs' anchor columns."""
    op.create_table(
        "key_fingerprints",
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("recorded_at", utc(), nullable=False),
        primary_key("key_fingerprints", "name"),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_one_row")),
        primary_key("audit_head", "id"),
    )
    # Nullable columns: added in place on both databases, no table rebuild.
    op.add_column("runs", sa.Column("audit_seq", sa.Integer(), nullable=True))
    op.add_column("runs", sa.Column("audit_mac", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop them again; the audit rows keep their MACs, verifiable with the audit key."""
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("audit_mac")
        batch.drop_column("audit_seq")
    op.drop_table("audit_head")
    op.drop_table("key_fingerprints")
