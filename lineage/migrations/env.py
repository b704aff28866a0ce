"""Alembic environment of the lineage database.

`lineage.migrate` hands over an open connection inside its own (locked) transaction in
``config.attributes["connection"]``; the migrations then run in that transaction. Alembic's
command line, used only to write migrations, passes the database as ``-x db=URL``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from connectors.errors import ConfigurationError
from connectors.i18n import _
from lineage.engine import build_engine
from lineage.migrate import VERSION_TABLE, lineage_metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=lineage_metadata(),
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("db") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise ConfigurationError(_("noem de lineage-database: alembic -x db=URL ..."))
    return url


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
    elif context.is_offline_mode():
        context.configure(
            url=_url(),
            target_metadata=lineage_metadata(),
            version_table=VERSION_TABLE,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    else:
        engine = build_engine(_url())
        try:
            with engine.begin() as own:
                _run(own)
        finally:
            engine.dispose()


_main()
