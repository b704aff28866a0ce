"""Brings the lineage database to the schema this Sluis needs, through Alembic migrations.

A new, empty database is created by running every migration (`ensure_schema`, which
`LineageStore.create_schema` calls). A database that is behind is never changed on the
side: Sluis stops with a message to run ``sluis db upgrade`` (`upgrade`), so an operator
decides when the schema of a store kept for years changes, after a backup.

A database made by ``create_all`` before Sluis used migrations has the lineage tables but
no revision. When its tables and columns are exactly those of revision 0001 (or 0002, once
run_locks existed) it is adopted: stamped with that revision, after which it upgrades like
any other.

Migrations run in one transaction that also holds a lock (``BEGIN IMMEDIATE`` on SQLite, an
advisory lock on PostgreSQL), so two processes starting at once on an empty database
cannot both create it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from connectors.errors import ConfigurationError
from connectors.i18n import _
from lineage.engine import build_engine
from lineage.engine import transaction as _transaction
from lineage.schema_version import VERSION_TABLE, at_head, lineage_metadata

__all__ = [
    "MIGRATIONS",
    "VERSION_TABLE",
    "at_head",
    "check_current",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "lineage_metadata",
    "upgrade",
]

MIGRATIONS: Final = Path(__file__).with_name("migrations")

# The tables and columns `create_all` made before Sluis used migrations, with the revision
# that has exactly those: Sluis made two such shapes, without and with run_locks.
# test_migrations checks each against its revision. Frozen: later revisions add nothing.
_TABLES_0001: Final[Mapping[str, frozenset[str]]] = {
    "runs": frozenset(
        {
            "run_id",
            "started_at",
            "finished_at",
            "status",
            "trigger",
            "dry_run",
            "sluis_version",
            "message",
            "parameters",
        }
    ),
    "run_sources": frozenset(
        {
            "id",
            "run_id",
            "school",
            "path",
            "sha256",
            "format",
            "encoding",
            "pupils_read",
            "schooljaar",
        }
    ),
    "deliveries": frozenset(
        {
            "delivery_id",
            "run_id",
            "supplier",
            "school",
            "agreement_sha256",
            "agreement_reference",
            "fields",
            "mode",
            "counts",
            "files",
            "manifest_sha256",
            "location",
            "status",
            "created_at",
        }
    ),
    "quarantine_counts": frozenset(
        {"id", "run_id", "school", "column", "rule", "severity", "count"}
    ),
    "delivery_members": frozenset({"delivery_id", "pupil_hash", "row_hash"}),
    "erasures": frozenset(
        {"pupil_hash", "requested_at", "actor", "reason", "revoked_at", "revoked_by"}
    ),
    "supplier_state": frozenset(
        {"supplier", "school", "pupil_hash", "row_hash", "ref", "delivery_id"}
    ),
    "supplier_state_pending": frozenset({"delivery_id", "pupil_hash", "row_hash", "ref"}),
    "drop_removals": frozenset({"delivery_id", "removed_at"}),
    "audit_log": frozenset(
        {"seq", "at", "actor", "action", "subject", "details", "prev_hash", "row_hash"}
    ),
    "agreement_versions": frozenset({"supplier", "sha256", "recorded_at"}),
}

_BEFORE_MIGRATIONS: Final[Mapping[str, Mapping[str, frozenset[str]]]] = {
    "0001": _TABLES_0001,
    "0002": {
        **_TABLES_0001,
        "run_locks": frozenset({"school", "run_id", "acquired_at", "expires_at"}),
    },
}
_PRE_MIGRATION_TABLES: Final = frozenset(
    table for tables in _BEFORE_MIGRATIONS.values() for table in tables
)

# Any fixed number; every Sluis process migrating the same PostgreSQL database uses it.
_ADVISORY_LOCK: Final = zlib.crc32(b"sluis lineage migrations")


def head_revision() -> str:
    """Return the revision this Sluis needs: the newest migration it ships."""
    head = _scripts().get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


def current_revision(url: str) -> str | None:
    """Return the revision a lineage database is at; None when it has none yet.

    Args:
        url: the lineage database URL; it may hold a password and never appears in an
            error message.

    Raises:
        ConfigurationError: the URL is unusable or the database cannot be reached.
    """
    engine = build_engine(url)
    try:
        with _transaction(engine) as connection:
            return _revision(connection)
    finally:
        engine.dispose()


def upgrade(url: str, *, to: str = "head") -> tuple[str | None, str]:
    """Run every migration the lineage database lacks, creating it when it is empty.

    Args:
        url: the lineage database URL; it may hold a password and never appears in an
            error message.
        to: the revision to stop at; the newest by default.

    Returns:
        The revision before (None for an empty database; for one made before migrations,
        the revision it was adopted as) and the revision after: `head_revision`, unless
        ``to`` says otherwise.

    Raises:
        ConfigurationError: the database cannot be reached, was upgraded by a newer Sluis,
            or holds lineage tables that no revision of Sluis made.
    """
    engine = build_engine(url)
    try:
        with _locked(engine) as connection:
            before = _revision_or_adopt(connection)
            if before is not None and before not in _known_revisions():
                raise ConfigurationError(_newer_message(before))
            command.upgrade(_config(connection), to)
            after = _revision(connection)
    finally:
        engine.dispose()
    if after is None:  # pragma: no cover - Alembic always records the revision it ran
        raise RuntimeError("the upgrade recorded no revision")
    return before, after


def ensure_schema(engine: Engine) -> None:
    """Create the lineage schema in an empty database; check it in any other.

    Does nothing on a database at `head_revision`. An empty database is migrated to the
    head; one made before migrations is stamped with the revision whose tables it has.

    Args:
        engine: an engine on the lineage database (see `lineage.engine.build_engine`).

    Raises:
        ConfigurationError: the database cannot be reached, is behind (run ``sluis db
            upgrade``), was upgraded by a newer Sluis, or holds lineage tables that no
            revision of Sluis made.
    """
    # The common case, every run: already at the head, decided without taking the lock
    # (`LineageStore.create_schema` decides it before it even imports this module).
    if at_head(engine):
        return
    with _locked(engine) as connection:
        # Read again under the lock: another process may have migrated in between.
        revision = _revision_or_adopt(connection)
        if revision is None:
            command.upgrade(_config(connection), "head")
            return
    _require_head(revision)


def check_current(engine: Engine) -> None:
    """Refuse a lineage database that is not at the revision this Sluis needs.

    An empty database passes: `ensure_schema` creates it.

    Args:
        engine: an engine on the lineage database.

    Raises:
        ConfigurationError: the database cannot be reached, is behind (the message says
            to run ``sluis db upgrade``) or was upgraded by a newer Sluis.
    """
    with _transaction(engine) as connection:
        revision = _revision(connection)
        if revision is None and not _lineage_tables(connection):
            return
    _require_head(revision)


# -- helpers ----------------------------------------------------------------------------


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config(None))


@cache
def _known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions())


def _config(connection: Connection | None) -> Config:
    config = Config()
    # ConfigParser interpolates "%": a path holding one must not be read as a reference.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _revision_or_adopt(connection: Connection) -> str | None:
    """The database's revision, adopting one made before migrations; None when empty."""
    revision = _revision(connection)
    if revision is None:
        present = _lineage_tables(connection)
        if present:
            revision = _adopt(connection, present)
    return revision


def _lineage_tables(connection: Connection) -> set[str]:
    """The lineage tables the database holds; other applications' tables do not count."""
    known = _PRE_MIGRATION_TABLES | lineage_metadata().tables.keys()
    return set(inspect(connection).get_table_names()) & known


def _adopt(connection: Connection, present: set[str]) -> str:
    """Stamp a database made by `create_all` before migrations with the revision it has."""
    inspector = inspect(connection)
    found = {
        table: frozenset(column["name"] for column in inspector.get_columns(table))
        for table in present
    }
    problems: list[tuple[int, str]] = []
    for revision, tables in _BEFORE_MIGRATIONS.items():
        missing = sorted(tables.keys() - found.keys())
        unexpected = sorted(found.keys() - tables.keys())
        changed = sorted(t for t in tables.keys() & found.keys() if found[t] != tables[t])
        if not (missing or unexpected or changed):
            command.stamp(_config(connection), revision)
            return revision
        listed = [
            f"{label}: {', '.join(names)}"
            for label, names in (
                ("missing tables", missing),
                ("unknown tables", unexpected),
                ("tables with other columns", changed),
            )
            if names
        ]
        problems.append((len(missing) + len(unexpected) + len(changed), "; ".join(listed)))
    # The shape it is closest to says best what is wrong; the newest wins a tie.
    _count, closest = min(reversed(problems), key=lambda problem: problem[0])
    raise ConfigurationError(
        _(
            "de lineage-database heeft lineage-tabellen maar geen schemarevisie, en het zijn "
            "niet de tabellen die Sluis maakte voordat het migraties gebruikte ({closest}); "
            "zet haar terug uit een back-up, of wijs --db naar een lege database"
        ).format(closest=closest)
    )


def _require_head(revision: str | None) -> None:
    head = head_revision()
    if revision == head:
        return
    if revision is not None and revision not in _known_revisions():
        raise ConfigurationError(_newer_message(revision))
    shown = revision or _("geen (gemaakt voordat Sluis migraties gebruikte)")
    raise ConfigurationError(
        _(
            "de lineage-database staat op revisie {shown}, Sluis heeft {head} nodig: voer "
            "`sluis db upgrade` uit"
        ).format(shown=shown, head=head)
    )


def _newer_message(revision: str) -> str:
    return (
        f"the lineage database is at revision {revision}, which this Sluis does not know "
        f"(it needs {head_revision()}): a newer Sluis upgraded it; upgrade Sluis"
    )


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A transaction that no other Sluis process can migrate alongside."""
    with _transaction(engine) as connection:
        backend = connection.dialect.name
        if backend == "sqlite":
            # Takes the write lock now; SQLite's DDL is transactional, so a failed
            # migration leaves nothing behind.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif backend == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        yield connection
