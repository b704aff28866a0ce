"""Kill safety: aborted runs, delivery intents, heartbeats, two more audit actions.

Runs can be `aborted`, deliveries `publishing` (an intent) or `rolled_back`, a run and
its locks carry a heartbeat, and the audit log takes `reconciliation` and `lock_takeover`.

A delivery is recorded as `publishing` before the drop makes it visible and becomes
`delivered` in one commit after; a later run settles what a killed run left (see
pipelines/reconcile.py). A lock whose holder stopped beating is taken over (lineage.locks).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lineage.migrations._ops import AUDIT_ACTIONS_0001, AUDIT_ACTIONS_0006, action_check, utc

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RUNS_OLD = "status IN ('running', 'completed', 'failed')"
_RUNS_NEW = "status IN ('running', 'completed', 'failed', 'aborted')"
_DELIVERIES_OLD = (
    "status IN ('delivered', 'nothing_to_deliver', 'failed', 'dry_run', "
    "'agreement_expired', 'held', 'superseded')"
)
_DELIVERIES_NEW = (
    "status IN ('delivered', 'nothing_to_deliver', 'failed', 'dry_run', "
    "'agreement_expired', 'held', 'superseded', 'publishing', 'rolled_back')"
)

_ACTIONS_OLD = action_check(AUDIT_ACTIONS_0001)
_ACTIONS_NEW = action_check(AUDIT_ACTIONS_0006)


def _widen_check(table: str, name: str, old: str, new: str) -> None:
    """Replace check `name` of `table`: `old` by `new`.

    SQLite cannot alter a check, and copying the table (Alembic's batch mode) fails on
    the foreign keys other tables hold on runs and deliveries. SQLite's documented way
    for a change that leaves every stored row as it is (only the check's text changes;
    the downgrade first moves rows out of the narrower set) is to edit the schema text
    and bump the schema version.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(op.f(name), table, type_="check")
        op.create_check_constraint(op.f(name), table, new)
        return
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).scalar_one()
    if old not in sql:
        raise RuntimeError(f"{table}: check {name} is not the one this migration expects")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        bind.execute(
            sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
            {"sql": sql.replace(old, new), "t": table},
        )
        bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    """Widen the two status checks and add the heartbeat columns."""
    op.add_column("runs", sa.Column("heartbeat_at", utc(), nullable=True))
    op.add_column("run_locks", sa.Column("heartbeat_at", utc(), nullable=True))
    _widen_check("runs", "ck_runs_status", _RUNS_OLD, _RUNS_NEW)
    _widen_check("deliveries", "ck_deliveries_status", _DELIVERIES_OLD, _DELIVERIES_NEW)
    _widen_check("audit_log", "ck_audit_log_action", _ACTIONS_OLD, _ACTIONS_NEW)


def downgrade() -> None:
    """Back to 0005: aborted runs count as failed, open intents as failed attempts."""
    # The audit log is append-only: entries of the new actions keep 0005 from being
    # reached, and that is refused here rather than by a failing constraint.
    log = sa.table("audit_log", sa.column("action", sa.String))
    if (
        op.get_bind()
        .execute(
            sa.select(sa.func.count())
            .select_from(log)
            .where(log.c.action.in_(("reconciliation", "lock_takeover")))
        )
        .scalar_one()
    ):
        raise RuntimeError(
            "the audit log holds reconciliation or lock_takeover entries, which 0005 "
            "cannot hold; the audit log is append-only, so this database stays at 0006"
        )
    runs = sa.table("runs", sa.column("status", sa.String))
    op.execute(runs.update().where(runs.c.status == "aborted").values(status="failed"))
    deliveries = sa.table("deliveries", sa.column("status", sa.String))
    op.execute(
        deliveries.update()
        .where(deliveries.c.status.in_(("publishing", "rolled_back")))
        .values(status="failed")
    )
    _widen_check("deliveries", "ck_deliveries_status", _DELIVERIES_NEW, _DELIVERIES_OLD)
    _widen_check("audit_log", "ck_audit_log_action", _ACTIONS_NEW, _ACTIONS_OLD)
    _widen_check("runs", "ck_runs_status", _RUNS_NEW, _RUNS_OLD)
    for table in ("run_locks", "runs"):
        # Plain DROP COLUMN (SQLite 3.35+): a batch copy of runs fails on its foreign keys.
        op.execute(f"ALTER TABLE {table} DROP COLUMN heartbeat_at")
