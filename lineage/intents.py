"""Deliveries recorded as they are published: an intent first, a confirmation after.

A delivery is recorded as `publishing`, with the state it leaves staged as pending rows,
before the drop makes it visible; once the drop has it, `confirm` makes it `delivered`,
records who was in it and moves the pending rows into the supplier's state, all in one
commit. A process killed in between leaves a `publishing` row that a later run settles
(pipelines/reconcile.py): `confirm` when the supplier can see the manifest, `roll_back`
when it cannot. The run itself carries a heartbeat, so a later run can tell a dead run
(`aborted` here) from one that is still busy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Final

from sqlalchemy import Engine, select, update
from sqlalchemy import delete as sql_delete
from sqlalchemy import insert as sql_insert

from lineage.engine import transaction as _transaction
from lineage.locks import RunLockRecord
from lineage.rights import DeliveryMemberRecord
from lineage.state import PUPIL, PendingStateRecord, SupplierStateRecord, pending_rows
from lineage.tables import DeliveryRecord, RunRecord
from lineage.values import DeliveryIds, Location, Message, RunKey, Token, UtcTime, boundary, check

__all__ = [
    "OpenIntent",
    "abort_run",
    "beat",
    "confirm",
    "dead_runs",
    "delivered_in_run",
    "live_runs",
    "open_intents",
    "reopen",
    "roll_back",
]

PUBLISHING: Final = "publishing"
_BATCH: Final = 5000


@dataclass(frozen=True)
class OpenIntent:
    """A delivery recorded as `publishing` and not settled yet.

    Attributes:
        delivery_id: the lineage key, `<supplier>:<folder>`.
        folder: the delivery's folder name in the drop.
        drop: the drop root the run published to (its `drop` parameter), if recorded.
    """

    delivery_id: str
    run_id: str
    supplier: str
    school: str
    manifest_sha256: str | None
    drop: str | None

    @property
    def folder(self) -> str:
        """The delivery's folder name in the drop."""
        return self.delivery_id.split(":", 1)[1]


def open_intents(engine: Engine) -> list[OpenIntent]:
    """Every delivery still `publishing`, oldest first."""
    query = (
        select(
            DeliveryRecord.delivery_id,
            DeliveryRecord.run_id,
            DeliveryRecord.supplier,
            DeliveryRecord.school,
            DeliveryRecord.manifest_sha256,
            RunRecord.parameters,
        )
        .join(RunRecord, RunRecord.run_id == DeliveryRecord.run_id)
        .where(DeliveryRecord.status == PUBLISHING)
        .order_by(DeliveryRecord.created_at, DeliveryRecord.delivery_id)
    )
    with _transaction(engine) as connection:
        rows = connection.execute(query).all()
    return [
        OpenIntent(
            delivery_id=str(key),
            run_id=str(run),
            supplier=str(supplier),
            school=str(school),
            manifest_sha256=None if sha is None else str(sha),
            drop=(parameters or {}).get("drop") if isinstance(parameters, dict) else None,
        )
        for key, run, supplier, school, sha, parameters in rows
    ]


def _running(engine: Engine) -> list[tuple[str, datetime]]:
    """(run id, last sign of life) of every run recorded as `running`."""
    with _transaction(engine) as connection:
        rows = connection.execute(
            select(RunRecord.run_id, RunRecord.started_at, RunRecord.heartbeat_at).where(
                RunRecord.status == "running"
            )
        ).all()
    return [
        (str(run), check(UtcTime, beat if beat is not None else started, "heartbeat_at"))
        for run, started, beat in rows
    ]


def live_runs(engine: Engine, *, now: datetime, stale: timedelta) -> frozenset[str]:
    """Runs still `running` that beat within `stale` of `now`."""
    return frozenset(run for run, last in _running(engine) if now - last < stale)


def dead_runs(engine: Engine, *, now: datetime, stale: timedelta) -> list[str]:
    """Runs still recorded as `running` whose process has not beaten for `stale`."""
    return sorted(run for run, last in _running(engine) if now - last >= stale)


@boundary
def beat(engine: Engine, run_id: RunKey, at: UtcTime) -> None:
    """A sign of life of `run_id`: on its run row and on every lock it holds."""
    with _transaction(engine) as connection:
        connection.execute(
            update(RunRecord)
            .where(RunRecord.run_id == run_id, RunRecord.status == "running")
            .values(heartbeat_at=at)
        )
        connection.execute(
            update(RunLockRecord).where(RunLockRecord.run_id == run_id).values(heartbeat_at=at)
        )


@boundary
def abort_run(engine: Engine, run_id: RunKey, *, at: UtcTime, message: Message) -> bool:
    """Mark a `running` run `aborted` and give up its locks; False if it was not running."""
    with _transaction(engine) as connection:
        changed = connection.execute(
            update(RunRecord)
            .where(RunRecord.run_id == run_id, RunRecord.status == "running")
            .values(status="aborted", finished_at=at, message=message)
        ).rowcount
        connection.execute(sql_delete(RunLockRecord).where(RunLockRecord.run_id == run_id))
    return bool(changed)


@boundary(labels={"delivery_ids": "delivery_id"})
def delivered_in_run(engine: Engine, run_id: str, delivery_ids: DeliveryIds) -> frozenset[str]:
    """Which of `delivery_ids` this run has recorded `delivered` (confirmed in any process)."""
    keys = sorted(set(delivery_ids))
    found: set[str] = set()
    with engine.connect() as connection:
        for part in _batches([{"k": k} for k in keys]):
            found.update(
                connection.execute(
                    select(DeliveryRecord.delivery_id).where(
                        DeliveryRecord.run_id == run_id,
                        DeliveryRecord.status == "delivered",
                        DeliveryRecord.delivery_id.in_([r["k"] for r in part]),
                    )
                ).scalars()
            )
    return frozenset(found)


@boundary
def confirm(engine: Engine, delivery_id: Token, *, location: Location | None) -> bool:
    """Settle an intent as delivered: members, supplier state and status in one commit.

    Returns:
        True if the delivery was `publishing` and is now `delivered`; False if it was not
        publishing (confirmed before, or rolled back), and then nothing changes.
    """
    with _transaction(engine) as connection:
        row = connection.execute(
            select(DeliveryRecord.supplier, DeliveryRecord.school, DeliveryRecord.status).where(
                DeliveryRecord.delivery_id == delivery_id
            )
        ).first()
        if row is None or row.status != PUBLISHING:
            return False
        pending = pending_rows(connection, delivery_id)
        members = [
            {"delivery_id": delivery_id, "pupil_hash": h, "row_hash": r}
            for h, r, _, kind in pending
            if kind == PUPIL
        ]
        for batch in _batches(members):
            connection.execute(sql_insert(DeliveryMemberRecord), batch)
        # Also when nobody is left: the supplier then holds nobody, and the next run must
        # not send the same removals again (as pipelines.holds.record_outcome does).
        connection.execute(
            sql_delete(SupplierStateRecord).where(
                SupplierStateRecord.supplier == row.supplier,
                SupplierStateRecord.school == row.school,
            )
        )
        state = [
            {
                "supplier": row.supplier,
                "school": row.school,
                "pupil_hash": h,
                "row_hash": r,
                "ref": ref,
                "kind": kind,
                "delivery_id": delivery_id,
            }
            for h, r, ref, kind in pending
        ]
        for batch in _batches(state):
            connection.execute(sql_insert(SupplierStateRecord), batch)
        connection.execute(
            sql_delete(PendingStateRecord).where(PendingStateRecord.delivery_id == delivery_id)
        )
        values: dict[str, object] = {"status": "delivered"}
        if location is not None:
            values["location"] = location
        connection.execute(
            update(DeliveryRecord).where(DeliveryRecord.delivery_id == delivery_id).values(**values)
        )
    return True


@boundary
def roll_back(engine: Engine, delivery_id: Token) -> bool:
    """Settle an intent the supplier never saw: `rolled_back`, its pending state gone."""
    with _transaction(engine) as connection:
        changed = connection.execute(
            update(DeliveryRecord)
            .where(DeliveryRecord.delivery_id == delivery_id, DeliveryRecord.status == PUBLISHING)
            .values(status="rolled_back")
        ).rowcount
        if changed:
            connection.execute(
                sql_delete(PendingStateRecord).where(PendingStateRecord.delivery_id == delivery_id)
            )
    return bool(changed)


@boundary
def reopen(engine: Engine, delivery_id: Token) -> bool:
    """A rolled-back intent published again (a retry of the same run): `publishing` again."""
    with _transaction(engine) as connection:
        return bool(
            connection.execute(
                update(DeliveryRecord)
                .where(
                    DeliveryRecord.delivery_id == delivery_id,
                    DeliveryRecord.status == "rolled_back",
                )
                .values(status=PUBLISHING)
            ).rowcount
        )


def _batches(rows: Sequence[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    it = iter(rows)
    while batch := list(islice(it, _BATCH)):
        yield batch
