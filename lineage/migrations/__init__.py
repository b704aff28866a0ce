"""Alembic migrations of the lineage database; `lineage.migrate` runs them.

Sluis configures Alembic in code (see `lineage.migrate`); the alembic.ini here is only for
Alembic's command line, to write a new migration: in this folder, against a database at
the current head, let autogenerate propose one, then edit it::

    sluis db upgrade --db sqlite:////tmp/lineage-dev.db
    cd lineage/migrations
    alembic -x db=sqlite:////tmp/lineage-dev.db revision --autogenerate --rev-id 0003 -m "..."

Autogenerate sees tables, columns, indexes, unique and foreign keys, but neither check
constraints nor triggers: write those by hand. A migration, once released, never changes;
it uses plain SQLAlchemy types rather than the models, so a later model edit cannot
rewrite history.
"""
