"""The engine on the lineage database, set up one way for every module that uses it.

`build_engine` parses the URL (which may hold a password, so it never appears in a
message), creates a SQLite file private (0600, its folder 0700), turns on SQLite's foreign
keys and WAL mode, and gives a silent PostgreSQL server a connect timeout. `transaction`
is one transaction on a fresh connection, where a database that cannot be reached or is
damaged becomes a one-line `ConfigurationError` with the fix. Imports nothing of lineage.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from connectors.errors import ConfigurationError, shorten
from connectors.i18n import _
from connectors.private_files import make_private_dir, make_private_file

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "build_engine",
    "connection_error",
    "describe",
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


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction on a fresh connection; a failure to connect is a ConfigurationError."""
    try:
        connection = engine.connect()
    except DBAPIError as exc:
        raise connection_error(engine.url, exc) from None
    with connection, connection.begin():
        try:
            yield connection
        except DBAPIError as exc:
            # A damaged SQLite file can pass the connect and fail on a later page.
            if is_damaged(exc):
                raise connection_error(engine.url, exc) from None
            raise
