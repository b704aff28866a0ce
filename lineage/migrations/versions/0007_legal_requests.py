"""The audit log records legal requests: action `legal_request` (sluis verstrek).

A request of an authority with a legal duty (the leerplicht officer) is an administrator
action: who recorded it, who asked, the request's reference and the delivery. The
run itself (trigger `verstrek`, its parameters) needs no new column.

SQLite cannot alter a check constraint, so there the table is rebuilt (rows copied as
they are, the chain unchanged) and its append-only triggers, which go with the old
table, are created again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from lineage.migrations._ops import (
    APPEND_ONLY_TRIGGERS,
    AUDIT_ACTIONS_0006,
    AUDIT_ACTIONS_0007,
    action_check,
)

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _replace_check(actions: Sequence[str]) -> None:
    name = op.f("ck_audit_log_action")
    if op.get_context().dialect.name == "sqlite":
        with op.batch_alter_table("audit_log", recreate="always") as batch:
            batch.drop_constraint(name, type_="check")
            batch.create_check_constraint(name, action_check(actions))
        # The triggers go with the old table; 0001's are made again.
        for statement in APPEND_ONLY_TRIGGERS["sqlite"]:
            op.execute(statement)
        return
    op.drop_constraint(name, "audit_log", type_="check")
    op.create_check_constraint(name, "audit_log", action_check(actions))


def upgrade() -> None:
    """Allow the action legal_request."""
    _replace_check(AUDIT_ACTIONS_0007)


def downgrade() -> None:
    """Refuse while a legal request is recorded: the audit trail is append-only."""
    bind = op.get_bind()
    if bind.exec_driver_sql(
        "SELECT 1 FROM audit_log WHERE action = 'legal_request' LIMIT 1"
    ).first():
        raise NotImplementedError("the audit log records legal requests; restore a backup")
    _replace_check(AUDIT_ACTIONS_0006)
