"""One sync per school at a time: the run_locks table (lineage.locks).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lineage.migrations._ops import primary_key, utc

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table of per-school run locks."""
    op.create_table(
        "run_locks",
        sa.Column("school", sa.String(63), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("acquired_at", utc(), nullable=False),
        sa.Column("expires_at", utc(), nullable=False),
        primary_key("run_locks", "school"),
    )


def downgrade() -> None:
    """Drop the run locks; they only matter while a run is going."""
    op.drop_table("run_locks")
