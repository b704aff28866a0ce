"""The engine on the lineage database, set up one way for every module that uses it.

`build_engine` parses the URL (which may hold a password, so it never appears in a
message), creates a SQLite file private (0600, its folder 0700), turns on SQLite's foreign
keys and WAL mode, and gives a silent PostgreSQL server a connect timeout. `transaction`
is one transaction on a fresh connection, where a database that cannot be reached or is
damaged becomes a one-line `ConfigurationError` with the fix. Inside `batch(engine)` every
`transaction(engine)` of the same thread joins the batch's one transaction instead, so a
batch of writes is one commit (`after_commit` defers what must follow that commit).
Imports nothing of lineage.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Delete, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from connectors.errors import ConfigurationError, shorten
from connectors.i18n import _
from connectors.private_files import make_private_dir, make_private_file

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "Disposing",
    "after_commit",
    "batch",
    "build_engine",
    "connection_error",
    "deleted",
    "describe",
    "in_batch",
    "is_damaged",
    "parse_url",
    "transaction",
]

# Seconds to wait for a PostgreSQL server to answer before the run gives up, in one line.
CONNECT_TIMEOUT_SECONDS = 10


def build_engine(url: str) -> Engine:
    """Create an engine on the lineage database, set up the one way every module needs.

    Values are hidden from error messages, SQLite enforces foreign keys and runs in WAL
    mode, and a SQLite file's folder is created.

    Raises:
        ConfigurationError: the URL cannot be parsed or names a driver that is missing;
            the message never holds the URL.
    """
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        _make_sqlite_folder(parsed)
    # A server that accepts the connection and never answers would hold the run for as
    # long as TCP keeps trying; the URL's own connect_timeout wins.
    connect_args: dict[str, Any] = {}
    if backend == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    try:
        # hide_parameters: a failing statement's message then never echoes a value,
        # whatever a later caller manages to pass.
        engine = create_engine(
            parsed,
            hide_parameters=True,
            pool_pre_ping=backend != "sqlite",
            connect_args=connect_args,
        )
    except (NoSuchModuleError, ImportError, ArgumentError):
        raise ConfigurationError(
            _(
                "de URL van de lineage-database ({database}) noemt een databasedriver die niet "
                "geïnstalleerd is; gebruik sqlite:///PAD of postgresql+psycopg://HOST/DB"
            ).format(database=describe(parsed))
        ) from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def parse_url(url: str) -> URL:
    """Parse a lineage database URL; a bare ``postgresql://`` means psycopg 3.

    Raises:
        ConfigurationError: the URL cannot be parsed; the message never holds it.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError):
        raise ConfigurationError(
            _(
                "de URL van de lineage-database is onleesbaar; gebruik sqlite:///PAD of "
                "postgresql+psycopg://GEBRUIKER@HOST:POORT/DB"
            )
        ) from None
    # psycopg 3 is the PostgreSQL driver Sluis ships; SQLAlchemy 2.0 would pick psycopg2.
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def connection_error(url: URL, exc: DBAPIError) -> ConfigurationError:
    """The one-line error for a lineage database that cannot be used, with the fix.

    A SQLite file is named (it is a path in Sluis' state, not a secret); a server by its
    dialect and host only, never its user, password or database name.
    """
    if url.get_backend_name() != "sqlite":
        return ConfigurationError(
            _(
                "geen verbinding met de lineage-database ({database}); controleer dat de "
                "server draait en dat de database-URL (--db of SLUIS_DB_URL), gebruiker en "
                "wachtwoord kloppen"
            ).format(database=describe(url))
        )
    path = url.database or ":memory:"
    if is_damaged(exc):
        return ConfigurationError(
            _(
                "de lineage-database {path} is beschadigd of geen SQLite-database; zet haar "
                "terug uit een back-up, of wijs --db (SLUIS_DB_URL) naar het juiste bestand"
            ).format(path=path)
        )
    # SQLite's own reasons ("unable to open database file", "database is locked") name
    # no value.
    reason = shorten(getattr(exc, "orig", exc), 80)
    return ConfigurationError(
        _(
            "de lineage-database {path} kan niet geopend worden ({reason}); controleer dat het "
            "bestand en zijn map lees- en schrijfbaar zijn, en dat geen ander programma het "
            "vasthoudt"
        ).format(path=path, reason=reason)
    )


def is_damaged(exc: DBAPIError) -> bool:
    """Whether SQLite says the file is not a database or is corrupt."""
    name = getattr(exc.orig, "sqlite_errorname", "")
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))


def describe(url: URL) -> str:
    """Name the database for a message: dialect and host, never user, password or path."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _("sqlite, een lokaal bestand")
    host = url.host or "localhost"
    where = host if url.port is None else f"{host}:{url.port}"
    return _("{backend} op {where}").format(backend=backend, where=where)


def _make_sqlite_folder(url: URL) -> None:
    """Create the SQLite file's folder (0700) and the file itself (0600).

    SQLite gives its -wal and -shm files the mode of the database file, so creating
    that one private keeps all three private whatever the umask.
    """
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    try:
        make_private_dir(path.parent)
    except OSError:
        raise ConfigurationError(
            _(
                "de map van de SQLite-lineage-database {path} kan niet gemaakt worden; "
                "controleer het pad van --state of --db en de rechten"
            ).format(path=path)
        ) from None
    try:
        make_private_file(path)
    except OSError as exc:
        raise ConfigurationError(
            _(
                "de SQLite-lineage-database {path} kan niet geopend worden ({reason}); "
                "controleer het pad van --state of --db en de rechten"
            ).format(path=path, reason=exc.strerror or type(exc).__name__)
        ) from None


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # SQLite ignores foreign keys unless asked; without this a delivery could name a
        # run that does not exist.
        cursor.execute("PRAGMA foreign_keys = ON")
        # WAL lets a report read while a run writes. Switching needs the database to
        # itself, which fails at once (no busy wait) while another connection is creating
        # the schema; the mode is stored in the file, so whoever comes later switches it.
        for attempt in range(50):
            try:
                cursor.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError:
                time.sleep(0.05 * (attempt + 1) if attempt < 10 else 0.5)
    finally:
        cursor.close()


@dataclass
class _Batch:
    """The open transaction of one `batch` scope, on one engine, in one thread."""

    connection: Connection
    thread: int
    # A write that failed inside the scope: its partial work must not be committed, even
    # when a caller caught the error (PostgreSQL would refuse the rest anyway).
    failed: bool = False
    callbacks: list[Callable[[], object]] = field(default_factory=list)


# Per context, so per thread: the two deliver threads of a run never share a connection.
_BATCHES: ContextVar[dict[int, _Batch] | None] = ContextVar("sluis_lineage_batches", default=None)


def _open_batch(engine: Engine) -> _Batch | None:
    """The batch scope this thread holds open on `engine`, or None."""
    found = (_BATCHES.get() or {}).get(id(engine))
    # A context copied into another thread (a task runner may copy it) must not share a
    # connection across threads: that thread writes on its own.
    if found is None or found.thread != threading.get_ident():
        return None
    return found


def in_batch(engine: Engine) -> bool:
    """Whether this thread's writes on `engine` join an open `batch` scope."""
    return _open_batch(engine) is not None


@contextmanager
def batch(engine: Engine) -> Iterator[Connection]:
    """One transaction for every lineage write on `engine` in this thread until the scope ends.

    Each `transaction(engine)` inside joins it: one COMMIT at the end of the scope; an
    error anywhere in it (also one a caller caught) rolls the whole scope back. A nested
    `batch` joins the outer one. On SQLite the scope takes the write lock at its start
    (BEGIN IMMEDIATE, waiting up to the busy timeout), so a scope that reads before it
    writes never finds another writer's commit in between.

    Raises:
        ConfigurationError: the database cannot be reached or is damaged.
    """
    outer = _open_batch(engine)
    if outer is not None:
        with _joined(outer) as connection:
            yield connection
        return
    connection = _connect(engine)
    scope = _Batch(connection, threading.get_ident())
    token = _BATCHES.set({**(_BATCHES.get() or {}), id(engine): scope})
    try:
        # begin() commits when the block ends and rolls back when an error leaves it.
        with _damage_reported(engine), connection, connection.begin():
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection
            if scope.failed:
                raise RuntimeError("a lineage write in this batch failed; nothing was kept")
    finally:
        _BATCHES.reset(token)
    for callback in scope.callbacks:
        callback()


@contextmanager
def _joined(scope: _Batch) -> Iterator[Connection]:
    """The open batch's connection; an error leaving it fails the whole batch."""
    try:
        yield scope.connection
    except BaseException:
        scope.failed = True
        raise


@contextmanager
def _damage_reported(engine: Engine) -> Iterator[None]:
    """A damaged database file as a ConfigurationError, like a failed connect."""
    try:
        yield
    except DBAPIError as exc:
        # A damaged SQLite file can pass the connect and fail on a later page.
        if is_damaged(exc):
            raise connection_error(engine.url, exc) from None
        raise


def _connect(engine: Engine) -> Connection:
    try:
        return engine.connect()
    except DBAPIError as exc:
        raise connection_error(engine.url, exc) from None


def after_commit(engine: Engine, callback: Callable[[], object]) -> None:
    """Run `callback` once what this thread wrote on `engine` is committed.

    Inside a `batch` scope: after the scope commits (never when it rolls back); outside
    one, every write has committed already, so now.
    """
    scope = _open_batch(engine)
    if scope is None:
        callback()
    else:
        scope.callbacks.append(callback)


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction on a fresh connection; a failure to connect is a ConfigurationError.

    Inside a `batch` scope of this thread on `engine`, the scope's transaction instead:
    nothing is committed until the scope ends.
    """
    scope = _open_batch(engine)
    if scope is not None:
        with _joined(scope) as connection:
            yield connection
        return
    connection = _connect(engine)
    with connection, connection.begin(), _damage_reported(engine):
        yield connection


def deleted(engine: Engine, statement: Delete) -> int:
    """Run one DELETE in a `transaction` of its own; how many rows it removed."""
    with transaction(engine) as connection:
        return int(connection.execute(statement).rowcount)


class Disposing:
    """A context manager whose block ends with `dispose` (the store, the audit log)."""

    def dispose(self) -> None:
        """Close what the object holds; a subclass says what."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.dispose()
