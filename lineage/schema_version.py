"""The schema revision this Sluis needs, and reading the one a lineage database is at.

Every run checks that the lineage database is at the revision this Sluis needs. Loading
Alembic for that check costs more than the check itself, so the common case, a database
already at the head, is decided here with plain SQL; `lineage.migrate` (and Alembic) is
only loaded when a database must be created, adopted or refused.
"""

from __future__ import annotations

import importlib
from typing import Any, Final

from sqlalchemy import Connection, Engine, MetaData, Select, column, inspect, select, table

from lineage.engine import transaction as _transaction
from lineage.tables import Base

__all__ = ["HEAD_REVISION", "VERSION_TABLE", "at_head", "lineage_metadata", "stored_revision"]

# Not Alembic's default "alembic_version": a PostgreSQL schema shared with another
# application may already have that table, holding that application's revision.
VERSION_TABLE: Final = "sluis_alembic_version"

# The newest migration in lineage/migrations/versions. test_migrations fails, naming the
# right value, when a migration is added and this is not moved along.
HEAD_REVISION: Final = "0007"

# Every module that puts tables on lineage.tables.Base.metadata.
_MODEL_MODULES: Final = (
    "lineage.audit",
    "lineage.key_records",
    "lineage.locks",
    "lineage.rights",
    "lineage.state",
)

_VERSIONS: Final[Select[tuple[Any]]] = select(column("version_num")).select_from(
    table(VERSION_TABLE)
)


def stored_revision(connection: Connection) -> str | None:
    """Return the revision the database records; None when it records none or several.

    Several rows would be several Alembic heads, which Sluis never makes; None sends the
    caller down the slow path, where Alembic itself reads and judges the table.
    """
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(_VERSIONS).scalars().all()
    return str(rows[0]) if len(rows) == 1 else None


def at_head(engine: Engine) -> bool:
    """Whether the lineage database is at the revision this Sluis needs.

    Raises:
        ConfigurationError: the database cannot be reached.
    """
    with _transaction(engine) as connection:
        return stored_revision(connection) == HEAD_REVISION


def lineage_metadata() -> MetaData:
    """Return the metadata of every lineage table, importing the modules that define them."""
    for module in _MODEL_MODULES:
        importlib.import_module(module)
    return Base.metadata
