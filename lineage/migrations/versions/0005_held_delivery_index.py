"""An index for the held-delivery check: deliveries by status, supplier and school.

Every recorded outcome asks whether an older hold of the same supplier and school must be
superseded. Held deliveries are few and every other status grows with history, so with
status first the check reads only the held rows of that school, however long the history;
created_at and delivery_id follow, in the order the lookup returns them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_deliveries_status_supplier_school"


def upgrade() -> None:
    """Add the index (the table's rows are not touched)."""
    op.create_index(
        _INDEX, "deliveries", ["status", "supplier", "school", "created_at", "delivery_id"]
    )


def downgrade() -> None:
    """Drop the index; the check then scans the supplier's deliveries again."""
    op.drop_index(_INDEX, table_name="deliveries")
