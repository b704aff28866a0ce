"""Retention of Sluis' own data: old run folders and old membership hashes are purged.

Sluis keeps what a run needs for days and what a parent may ask about for the period the
sector guidance allows; everything older goes, and the purge itself is recorded.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from lineage.audit import AuditLog
from lineage.rights import purge_before

__all__ = ["purge"]


def _old_run_folders(runs: Path, cutoff: datetime) -> list[Path]:
    if not runs.is_dir():
        return []
    return [
        folder
        for folder in sorted(runs.iterdir())
        if folder.is_dir()
        and datetime.fromtimestamp(folder.stat().st_mtime, cutoff.tzinfo) < cutoff
    ]


def purge(
    *,
    engine: Engine,
    state_dir: Path,
    now: datetime,
    report_days: int,
    membership_days: int,
    actor: str,
    audit: AuditLog,
) -> dict[str, int]:
    """Remove run folders older than `report_days` and memberships older than `membership_days`.

    The purge is appended to `audit`, the run's keyed audit log.

    Returns:
        Counts of what was removed; a non-empty purge is appended to the audit log.
    """
    folders = _old_run_folders(state_dir / "runs", now - timedelta(days=report_days))
    for folder in folders:
        shutil.rmtree(folder)
    counts = {"run_folders": len(folders)}
    counts.update(purge_before(engine, now - timedelta(days=membership_days)))
    if any(counts.values()):
        audit.append(
            actor,
            "retention_purge",
            "sluis",
            {**counts, "report_days": report_days, "membership_days": membership_days},
        )
    return counts
