"""What `sluis db upgrade` does, kept out of the CLI module."""

from __future__ import annotations

from connectors.i18n import _
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
        return _("Lineage-database aangemaakt op revisie {after}.").format(after=after)
    if before == after:
        return _("Lineage-database staat al op revisie {after}; er is niets te doen.").format(
            after=after
        )
    return _("Lineage-database bijgewerkt van revisie {before} naar {after}.").format(
        before=before, after=after
    )
