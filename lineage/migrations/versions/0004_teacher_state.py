"""The supplier state keeps teachers too: a `kind` column (pupil or teacher) on its rows.

Rows from before are the pupils they always were. A teacher row holds a keyed hash of the
school's teacher key (never the key), a row hash and, for delta suppliers, the sealed
identifiers and groepen, as pupil rows do (lineage.state).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("supplier_state", "supplier_state_pending")


def upgrade() -> None:
    """Add `kind` to the state tables; what is there already is pupils."""
    for table in _TABLES:
        op.add_column(
            table,
            sa.Column("kind", sa.String(16), server_default="pupil", nullable=False),
        )


def downgrade() -> None:
    """Drop teacher rows and the `kind` column (the next run sends the teachers again)."""
    for table in _TABLES:
        rows = sa.table(table, sa.column("kind"))
        op.execute(rows.delete().where(rows.c.kind != "pupil"))
        with op.batch_alter_table(table) as batch:
            batch.drop_column("kind")
