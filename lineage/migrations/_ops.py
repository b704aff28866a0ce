"""What the lineage revisions share: column types, constraint names, the audit log's history.

A revision must make the same schema whatever lineage's modules say later, so nothing here
imports them: these are the values as the revisions made them. Add to this module, never
change what a revision already used (a changed schema is a new revision).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import sqlalchemy as sa
from alembic import op

__all__ = [
    "APPEND_ONLY_TRIGGERS",
    "AUDIT_ACTIONS_0001",
    "AUDIT_ACTIONS_0006",
    "AUDIT_ACTIONS_0007",
    "action_check",
    "foreign_key",
    "primary_key",
    "utc",
]

# The audit log's actions as each revision allowed them.
AUDIT_ACTIONS_0001: Final = (
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
AUDIT_ACTIONS_0006: Final = (*AUDIT_ACTIONS_0001, "reconciliation", "lock_takeover")
AUDIT_ACTIONS_0007: Final = (*AUDIT_ACTIONS_0006, "legal_request")

# A copy of lineage.audit._APPEND_ONLY_TRIGGERS as it was at 0001, not an import of it:
# a revision must create the same triggers whatever that module says later (a changed
# trigger is a new revision). test_migrations compares the schema both make.
_APPEND_ONLY: Final = "audit_log is append-only"
APPEND_ONLY_TRIGGERS: Final[dict[str, tuple[str, ...]]] = {
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


def action_check(actions: Sequence[str]) -> str:
    """The audit log's check on its action column, allowing `actions`."""
    return "action IN ({})".format(", ".join(f"'{action}'" for action in actions))


def utc() -> sa.DateTime:
    """A timestamp column's type: DateTime with time zone (UtcDateTime stores this)."""
    return sa.DateTime(timezone=True)


def foreign_key(table: str, column: str, target: str, target_column: str) -> sa.Constraint:
    """`table.column` referring to `target.target_column`, named as the metadata names it."""
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.{target_column}"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def primary_key(table: str, *columns: str) -> sa.Constraint:
    """The primary key of `table` on `columns`, named as the metadata names it."""
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))
