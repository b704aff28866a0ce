"""What `sluis db upgrade` does, kept out of the CLI module."""

from __future__ import annotations

from lineage.migrate import upgrade
from pipelines.settings import Settings

__all__ = ["db_upgrade"]


def db_upgrade(settings: Settings) -> str:
    """Run the lineage database's pending migrations; return one line saying what changed.

    Args:
        settings: where the lineage database is (``--db``, or SQLite in ``--state``).

    Raises:
        ConfigurationError: the database cannot be reached, was upgraded by a newer Sluis,
            or holds lineage tables that no revision of Sluis made.
    """
    before, after = upgrade(settings.lineage_url())
    if before is None:
        return f"Lineage database created at revision {after}."
    if before == after:
        return f"Lineage database already at revision {after}; nothing to do."
    return f"Lineage database upgraded from revision {before} to {after}."
