"""One sync per school at a time: a lock row per school in the lineage database.

A nightly run and a run started from the UI for the same school must not deliver at the
same time: both would compare with the same supplier state and send overlapping changes.
A run takes the lock of each of its schools (in sorted order, so two runs can never wait
for each other) and waits while another run holds one. A lock whose run has finished, or
whose lease ran out (a crashed process), is taken over.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, String, select
from sqlalchemy import delete as sql_delete
from sqlalchemy import insert as sql_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from lineage.engine import deleted
from lineage.engine import transaction as _transaction
from lineage.tables import Base, RunRecord, UtcDateTime
from lineage.values import NAME_LENGTH as _NAME_LENGTH
from lineage.values import Names, UtcTime, boundary, check

__all__ = ["LockTimeout", "RunLockRecord", "acquire", "release"]


class RunLockRecord(Base):
    """The run that holds a school, until when."""

    __tablename__ = "run_locks"

    school: Mapped[str] = mapped_column(String(_NAME_LENGTH), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(36))
    acquired_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Renewed while the holder lives; None on a row from before 0006 (acquired_at counts).
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LockTimeout(Exception):
    """Another run kept a school for longer than this run was willing to wait."""

    def __init__(self, school: str, holder: str) -> None:
        super().__init__(school, holder)
        self.school = school
        self.holder = holder


def _try(
    engine: Engine, school: str, run_id: str, now: datetime, lease: timedelta, stale: timedelta
) -> tuple[str | None, str | None]:
    """Take the lock: (None, run taken over or None) when taken, else (holder, None)."""
    taken_from = None
    with _transaction(engine) as connection:
        row = connection.execute(
            select(
                RunLockRecord.run_id,
                RunLockRecord.expires_at,
                RunLockRecord.acquired_at,
                RunLockRecord.heartbeat_at,
                RunRecord.status,
            )
            .outerjoin(RunRecord, RunRecord.run_id == RunLockRecord.run_id)
            .where(RunLockRecord.school == school)
        ).first()
        if row is not None:
            holder, _, acquired_at, heartbeat_at, status = row
            if holder == run_id:
                return None, None
            beaten = check(UtcTime, heartbeat_at or acquired_at, "heartbeat")
            # The heartbeat decides, not the lease: a long run that beats is alive.
            if status == "running" and now - beaten < stale:
                return str(holder), None
            if status == "running":
                taken_from = str(holder)
            connection.execute(sql_delete(RunLockRecord).where(RunLockRecord.school == school))
        try:
            connection.execute(
                sql_insert(RunLockRecord),
                [
                    {
                        "school": school,
                        "run_id": run_id,
                        "acquired_at": now,
                        "expires_at": now + lease,
                        "heartbeat_at": now,
                    }
                ],
            )
        except IntegrityError:
            return "another run", None
    return None, taken_from


@boundary(labels={"schools": "school"})
def acquire(
    engine: Engine,
    schools: Names,
    run_id: str,
    *,
    wait_seconds: float,
    lease: timedelta = timedelta(hours=6),
    stale: timedelta = timedelta(seconds=60),
    poll_seconds: float = 5.0,
    on_wait: Callable[[str, str], None] = lambda school, holder: None,
    on_takeover: Callable[[str, str], None] = lambda school, holder: None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Take the lock of every school, waiting up to `wait_seconds` for each one held.

    Args:
        engine: the lineage database.
        schools: the run's schools (their BRIN or folder names).
        run_id: the run taking the locks (a started run in lineage).
        wait_seconds: how long to wait for a school another run holds.
        lease: recorded as the lock's `expires_at`, for people reading the table.
        stale: a holder that has not beaten for this long is dead (a killed process).
        poll_seconds: how often to look again while waiting.
        on_wait: called once per held school with (school, holding run id).
        on_takeover: called with (school, dead run id) when a lock of a run still
            recorded as running is taken over.
        clock: the time source (tests pass a fake one).
        sleep: how to wait (tests pass a fake one).

    Raises:
        LockTimeout: a school stayed held for longer than `wait_seconds`.
    """
    for school in sorted(set(schools)):
        started = clock()
        told = False
        while True:
            holder, taken_from = _try(engine, school, run_id, clock(), lease, stale)
            if taken_from is not None:
                on_takeover(school, taken_from)
            if holder is None:
                break
            if not told:
                on_wait(school, holder)
                told = True
            if (clock() - started).total_seconds() >= wait_seconds:
                release(engine, run_id)
                raise LockTimeout(school, holder)
            sleep(poll_seconds)


def release(engine: Engine, run_id: str) -> int:
    """Give up every lock the run holds; returns how many."""
    return deleted(engine, sql_delete(RunLockRecord).where(RunLockRecord.run_id == run_id))
