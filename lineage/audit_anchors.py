"""Anchors of the audit log's head outside its table: in each run's record.

A run records the head (sequence number and MAC) it left the log at; `run_anchors`
returns them for `AuditLog.verify`, so rows removed after a run, or a log rewritten up to
a run, are found even when ``audit_head`` was rewritten too.
"""

from __future__ import annotations

from sqlalchemy import Engine, select, update

from connectors.i18n import _
from lineage.audit import AuditHead
from lineage.engine import transaction as _transaction
from lineage.tables import RunRecord
from lineage.values import RunKey, boundary

__all__ = ["anchor_run", "run_anchors"]


@boundary
def anchor_run(engine: Engine, run_id: RunKey, head: AuditHead | None) -> None:
    """Record in a run's record the audit head it leaves the log at (nothing if empty).

    Raises:
        ValueError: ``run_id`` is not a UUID.
        ConfigurationError: the database cannot be reached.
    """
    if head is None:
        return
    with _transaction(engine) as connection:
        connection.execute(
            update(RunRecord)
            .where(RunRecord.run_id == run_id)
            .values(audit_seq=head.seq, audit_mac=head.row_hash)
        )


def run_anchors(engine: Engine) -> list[tuple[str, AuditHead]]:
    """Every head a run recorded, labelled with the run, oldest run first.

    Raises:
        ConfigurationError: the database cannot be reached.
    """
    query = (
        select(RunRecord.run_id, RunRecord.audit_seq, RunRecord.audit_mac)
        .where(RunRecord.audit_seq.is_not(None), RunRecord.audit_mac.is_not(None))
        .order_by(RunRecord.started_at, RunRecord.run_id)
    )
    with _transaction(engine) as connection:
        return [
            (
                _("de kop die run {run} vastlegde").format(run=row.run_id),
                AuditHead(row.audit_seq, row.audit_mac),
            )
            for row in connection.execute(query)
        ]
