"""The lineage store's reads: a run, its sources, deliveries and quarantine counts, as snapshots.

`StoreQueries` is the half of `lineage.store.LineageStore` that only reads; the store adds
the writes on top. Every read, and every write of the store, runs in `_transaction`: one
short session, where a database that cannot be reached or is damaged becomes a one-line
`ConfigurationError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Engine, ScalarResult, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from lineage.engine import connection_error, in_batch, is_damaged, transaction
from lineage.snapshots import DeliverySnapshot, QuarantineSnapshot, RunSnapshot, SourceSnapshot

# Looked up here when a read runs, so a test can count the rows a read turns into snapshots.
from lineage.snapshots import delivery_snapshot as _delivery_snapshot
from lineage.snapshots import quarantine_snapshot as _quarantine_snapshot
from lineage.snapshots import run_snapshot as _run_snapshot
from lineage.snapshots import source_snapshot as _source_snapshot
from lineage.tables import DeliveryRecord, QuarantineRecord, RunRecord, SourceRecord
from lineage.values import DeliveryStatusCodes, Name, Names, RunKey, boundary

__all__ = ["StoreQueries"]

# Schools per IN list: small enough for every backend's limit on bound parameters.
_IN_LIST = 500


class StoreQueries:
    """Reads of the lineage store, each in a short transaction of its own."""

    _engine: Engine

    @boundary
    def get_run(self, run_id: RunKey) -> RunSnapshot | None:
        """Return the run, or None if it was never started.

        Raises:
            ValueError: ``run_id`` is not a UUID.
            ConfigurationError: the database cannot be reached.
        """
        with self._transaction() as session:
            run = session.get(RunRecord, run_id)
            return None if run is None else _run_snapshot(run)

    @boundary
    def sources_for_run(self, run_id: RunKey) -> list[SourceSnapshot]:
        """Return the export files a run read, in the order they were recorded.

        Raises:
            ValueError: ``run_id`` is not a UUID.
            ConfigurationError: the database cannot be reached.
        """
        with self._transaction() as session:
            return [_source_snapshot(row) for row in _of_run(session, SourceRecord, run_id)]

    @boundary
    def deliveries_for_run(self, run_id: RunKey) -> list[DeliverySnapshot]:
        """Return a run's deliveries, oldest first.

        Raises:
            ValueError: ``run_id`` is not a UUID.
            ConfigurationError: the database cannot be reached.
        """
        query = (
            select(DeliveryRecord)
            .where(DeliveryRecord.run_id == run_id)
            .order_by(DeliveryRecord.created_at, DeliveryRecord.delivery_id)
        )
        with self._transaction() as session:
            return [_delivery_snapshot(row) for row in session.scalars(query)]

    def last_delivery(self, supplier: str, school: str) -> DeliverySnapshot | None:
        """Return the newest delivery with status ``delivered`` to a supplier for a school.

        This is the baseline of a delta delivery. Deliveries of runs that later failed
        count: their files did reach the supplier.

        Raises:
            ConfigurationError: the database cannot be reached.
        """
        query = (
            select(DeliveryRecord)
            .where(
                DeliveryRecord.supplier == supplier,
                DeliveryRecord.school == school,
                DeliveryRecord.status == "delivered",
            )
            .order_by(DeliveryRecord.created_at.desc(), DeliveryRecord.delivery_id.desc())
            .limit(1)
        )
        with self._transaction() as session:
            row = session.scalars(query).first()
            return None if row is None else _delivery_snapshot(row)

    @boundary(labels={"statuses": "status", "schools": "school"})
    def deliveries_of(
        self,
        supplier: Name,
        *,
        statuses: DeliveryStatusCodes = ("delivered",),
        school: Name | None = None,
        schools: Names | None = None,
    ) -> list[DeliverySnapshot]:
        """Return a supplier's deliveries with one of `statuses`, oldest first.

        With `school`, only that school's (as stored: the canonical BRIN); the lookup then
        reads only the matching rows through an index, however long the history. With
        `schools`, only theirs, the same way, in one query per 500 schools.

        Raises:
            ConfigurationError: the database cannot be reached.
        """
        statuses = tuple(statuses)
        if schools is not None:
            if school is not None:
                raise ValueError("give school or schools, not both")
            names = sorted(set(schools))
            found = [
                snapshot
                for start in range(0, len(names), _IN_LIST)
                for snapshot in self._deliveries_of(
                    supplier, statuses, names[start : start + _IN_LIST]
                )
            ]
            return sorted(found, key=lambda d: (d.created_at, d.delivery_id))
        return self._deliveries_of(supplier, statuses, None if school is None else [school])

    def _deliveries_of(
        self, supplier: str, statuses: Iterable[str], schools: list[str] | None
    ) -> list[DeliverySnapshot]:
        wanted = list(statuses)
        conditions = [
            DeliveryRecord.supplier == supplier,
            # One status as an equality: planners then use the status index for the order too.
            DeliveryRecord.status == wanted[0]
            if len(wanted) == 1
            else DeliveryRecord.status.in_(wanted),
        ]
        if schools is not None and len(schools) == 1:
            conditions.append(DeliveryRecord.school == schools[0])
        elif schools is not None:
            conditions.append(DeliveryRecord.school.in_(schools))
        query = (
            select(DeliveryRecord)
            .where(*conditions)
            .order_by(DeliveryRecord.created_at, DeliveryRecord.delivery_id)
        )
        with self._transaction() as session:
            return [_delivery_snapshot(row) for row in session.scalars(query)]

    @boundary
    def quarantine_for_run(self, run_id: RunKey) -> list[QuarantineSnapshot]:
        """Return a run's quarantine counts in the order they were recorded.

        Raises:
            ValueError: ``run_id`` is not a UUID.
            ConfigurationError: the database cannot be reached.
        """
        with self._transaction() as session:
            return [_quarantine_snapshot(row) for row in _of_run(session, QuarantineRecord, run_id)]

    # -- plumbing ---------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        if in_batch(self._engine):
            # Inside lineage.engine.batch: the session's commit is the scope's to make.
            with (
                transaction(self._engine) as connection,
                Session(
                    bind=connection,
                    expire_on_commit=False,
                    join_transaction_mode="rollback_only",
                ) as session,
                session.begin(),
            ):
                yield session
            return
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            # Connecting eagerly separates "cannot reach the database", a configuration
            # problem, from errors in the statements that follow.
            try:
                session.connection()
            except DBAPIError as exc:
                raise connection_error(self._engine.url, exc) from None
            try:
                yield session
            except DBAPIError as exc:
                # A damaged SQLite file can pass the connect and fail on a later page.
                if is_damaged(exc):
                    raise connection_error(self._engine.url, exc) from None
                raise


_RunRow = TypeVar("_RunRow", SourceRecord, QuarantineRecord)


def _of_run(session: Session, table: type[_RunRow], run_id: str) -> ScalarResult[_RunRow]:
    """A run's rows of `table`, in the order they were recorded."""
    return session.scalars(select(table).where(table.run_id == run_id).order_by(table.id))
