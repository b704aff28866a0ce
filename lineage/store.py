"""The lineage store: which run read which export and delivered what to whom, never a value.

A run is recorded as it goes: `start_run` first, then its sources, quarantine counts and
deliveries, and `finish_run` last. A run without a finished record did not complete.
Every write is its own short transaction, so what a crash leaves behind is still true.

Only names, counts, hashes, paths and reason codes are stored. `record_delivery` and
`record_quarantine` refuse anything that does not look like one of those, so that a pupil
value passed by mistake raises instead of landing in an audit trail that is kept for years.

Works on SQLite (the default, a file under the state folder) and PostgreSQL (psycopg 3).
`create_schema` creates the tables through the Alembic migrations in lineage/migrations
(`sluis db upgrade` applies new ones), which is why every table, index and constraint has
an explicit, stable name.

The store adds the writes to the reads of lineage.queries, and stands on lineage.tables
(the tables), lineage.values (the checks), lineage.snapshots (what reads return) and
lineage.engine (the connection); it names their public parts here again, so a caller
imports the store's names from the store.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lineage.engine import Disposing, build_engine
from lineage.engine import describe as _describe
from lineage.engine import parse_url as _parse_url
from lineage.queries import StoreQueries
from lineage.snapshots import (
    DeliveredFile,
    DeliveryCounts,
    DeliverySnapshot,
    QuarantineSnapshot,
    RunSnapshot,
    SourceSnapshot,
)
from lineage.tables import (
    NAMING_CONVENTION,
    Base,
    DeliveryRecord,
    QuarantineRecord,
    RunRecord,
    SourceRecord,
)

# The checks keep the short private names the code below was written with.
from lineage.values import MESSAGE_LENGTH as _MESSAGE_LENGTH
from lineage.values import SCHOOLJAAR as _SCHOOLJAAR
from lineage.values import (
    Count,
    Counts,
    DeliveredFiles,
    DeliveryMode,
    DeliveryModeCode,
    DeliveryStatus,
    DeliveryStatusCode,
    EndStatusCode,
    FieldName,
    FieldNames,
    Flag,
    Location,
    Message,
    Name,
    Reference,
    RunKey,
    RunParameters,
    RunStatus,
    Severity,
    SeverityCode,
    Sha256,
    SingleLine,
    Token,
    UtcTime,
    boundary,
    check,
    require_balance,
)

__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "DeliveredFile",
    "DeliveryCounts",
    "DeliveryMode",
    "DeliveryRecord",
    "DeliverySnapshot",
    "DeliveryStatus",
    "LineageStore",
    "QuarantineRecord",
    "QuarantineSnapshot",
    "RunRecord",
    "RunSnapshot",
    "RunStatus",
    "Severity",
    "SourceRecord",
    "SourceSnapshot",
    "build_engine",
]


class LineageStore(StoreQueries, Disposing):
    """Records runs, sources, quarantine counts and deliveries in a SQL database.

    Args:
        url: SQLAlchemy database URL, e.g. ``sqlite:///state/lineage.db`` or
            ``postgresql+psycopg://user:password@host/db``. It may hold a password, so it
            never appears in an error message. For SQLite the parent folder is created.

    Raises:
        ConfigurationError: the URL cannot be parsed or names an unknown database driver.
    """

    def __init__(self, url: str) -> None:
        self._where = _describe(_parse_url(url))
        self._engine: Engine = build_engine(url)

    def dispose(self) -> None:
        """Close every pooled connection; the store can still be used afterwards."""
        self._engine.dispose()

    def create_schema(self) -> None:
        """Create the lineage tables that do not exist yet.

        Raises:
            ConfigurationError: the database cannot be reached.
        """
        from lineage.schema_version import at_head, lineage_metadata

        # The audit log, rights, state and lock tables live in their own modules on the
        # same metadata; this registers them, whoever calls first.
        lineage_metadata()

        # Every run comes here: a database at the head is the common case, and deciding it
        # without Alembic keeps Alembic's import out of every nightly run.
        if at_head(self._engine):
            return
        # Imported here: Alembic loads only when a database must be created or adopted.
        from lineage.migrate import ensure_schema

        ensure_schema(self._engine)

    @property
    def engine(self) -> Engine:
        """The engine, for the audit log and rights modules that share this database."""
        return self._engine

    # -- writes -----------------------------------------------------------------------

    @boundary
    def start_run(
        self,
        run_id: RunKey,
        *,
        started_at: UtcTime,
        trigger: Name,
        dry_run: Flag,
        parameters: RunParameters,
        sluis_version: Name,
    ) -> None:
        """Record the start of a run, with status ``running``.

        Args:
            run_id: the run's UUID as text; stored in its canonical lower-case form.
            started_at: timezone-aware start time; stored in UTC.
            trigger: what started the run, e.g. ``cli``, ``schedule`` or ``ui``.
            dry_run: whether the run only plans deliveries.
            parameters: JSON-serialisable, non-secret, non-pupil settings of the run
                (supplier ids, source paths); stored exactly as they serialise.
            sluis_version: the version of Sluis doing the run.

        Raises:
            ValueError: an argument is malformed, or the run was already started.
            ConfigurationError: the database cannot be reached.
        """
        record = RunRecord(
            run_id=run_id,
            started_at=started_at,
            finished_at=None,
            status="running",
            trigger=trigger,
            dry_run=dry_run,
            sluis_version=sluis_version,
            message=None,
            parameters=dict(parameters),
        )
        with self._transaction() as session:
            if session.get(RunRecord, run_id) is not None:
                raise ValueError(f"run {run_id} was already started")
            session.add(record)

    @boundary
    def record_source(
        self,
        run_id: RunKey,
        *,
        school: Name,
        path: SingleLine,
        sha256: Sha256,
        format: Name,
        encoding: Name,
        pupils_read: Count,
        schooljaar: str,
    ) -> None:
        """Record an export file the run read for one school.

        Args:
            run_id: a started, unfinished run.
            school: the school's brincode.
            path: where the export was read from.
            sha256: hex SHA-256 of the file as read.
            format: the source format, e.g. ``edexml``.
            encoding: the file's text encoding, e.g. ``utf-8``.
            pupils_read: how many pupil records the file held.
            schooljaar: the school year of the export, e.g. ``2025-2026``.

        Raises:
            ValueError: an argument is malformed, or the run is unknown or finished.
            ConfigurationError: the database cannot be reached.
        """
        if not isinstance(schooljaar, str) or not _SCHOOLJAAR.fullmatch(schooljaar):
            raise ValueError("schooljaar must look like 2025-2026")
        record = SourceRecord(
            run_id=run_id,
            school=school,
            path=path,
            sha256=sha256,
            format=format,
            encoding=encoding,
            pupils_read=pupils_read,
            schooljaar=schooljaar,
        )
        with self._transaction() as session:
            _require_running(session, run_id)
            session.add(record)

    @boundary
    def record_quarantine(
        self,
        run_id: RunKey,
        *,
        school: Name,
        counts: Iterable[tuple[str | None, str, str, int]],
    ) -> None:
        """Record how many rows each contract rule quarantined for one school.

        Args:
            run_id: a started, unfinished run.
            school: the school's brincode.
            counts: ``(column, rule, severity, count)`` per rule; ``column`` is a
                canonical field name or None for a rule on the whole row, ``rule`` the
                check's name (never its failure message, which holds values), ``severity``
                ``error`` or ``warning``. Empty records nothing.

        Raises:
            ValueError: any entry is malformed (then nothing is recorded), or the run is
                unknown or finished.
            ConfigurationError: the database cannot be reached.
        """
        records = [
            _quarantine_record(run_id, school, entry, position)
            for position, entry in enumerate(counts)
        ]
        with self._transaction() as session:
            _require_running(session, run_id)
            session.add_all(records)

    @boundary
    def record_delivery(
        self,
        run_id: RunKey,
        *,
        delivery_id: Token,
        supplier: Name,
        school: Name,
        agreement_sha256: Sha256,
        agreement_reference: Reference,
        fields: FieldNames,
        mode: DeliveryModeCode,
        counts: Counts,
        files: DeliveredFiles,
        manifest_sha256: Sha256 | None,
        location: Location | None,
        status: DeliveryStatusCode,
        created_at: UtcTime,
    ) -> None:
        """Record one delivery to a supplier for a school, as its manifest describes it.

        Args:
            run_id: a started, unfinished run.
            delivery_id: unique id of the delivery (letters, digits, ``._:+-``).
            supplier: the supplier id of the agreement.
            school: the school's brincode.
            agreement_sha256: hex SHA-256 of the agreement file the delivery followed.
            agreement_reference: the agreement's own reference, one printable line.
            fields: the delivered field names, snake_case.
            mode: ``full`` or ``delta``.
            counts: ``{"input", "delivered", "withheld": {reason: n}, "quarantined"}``;
                unless the status is ``failed``, ``input`` must equal the sum of the rest.
            files: ``{"name", "sha256", "rows"}`` per data file.
            manifest_sha256: hex SHA-256 of manifest.json, or None if none was written.
            location: where the delivery went (a folder or ``sftp://host/path``), or None;
                a URL holding a password is refused.
            status: ``delivered``, ``nothing_to_deliver``, ``failed`` or ``dry_run``.
            created_at: timezone-aware time of the delivery; stored in UTC.

        Raises:
            ValueError: an argument is not a name, count, hash or code as described (so a
                pupil value cannot slip in), the delivery id exists, or the run is unknown
                or finished.
            ConfigurationError: the database cannot be reached.
        """
        if status != "failed":
            require_balance(counts)
        record = DeliveryRecord(
            delivery_id=delivery_id,
            run_id=run_id,
            supplier=supplier,
            school=school,
            agreement_sha256=agreement_sha256,
            agreement_reference=agreement_reference,
            fields=list(fields),
            mode=mode,
            counts=dict(counts),
            files=list(files),
            manifest_sha256=manifest_sha256,
            location=location,
            status=status,
            created_at=created_at,
        )
        with self._transaction() as session:
            _require_running(session, run_id)
            if session.get(DeliveryRecord, record.delivery_id) is not None:
                raise ValueError(f"delivery {record.delivery_id} was already recorded")
            session.add(record)

    @boundary
    def finish_run(
        self,
        run_id: RunKey,
        *,
        status: EndStatusCode,
        finished_at: UtcTime,
        message: Message | None = None,
    ) -> None:
        """Record how a run ended; written last, after everything else of the run.

        Args:
            run_id: a started, unfinished run.
            status: ``completed`` or ``failed``.
            finished_at: timezone-aware end time; stored in UTC.
            message: for a failed run, the one-line error (never a pupil value). Line
                breaks are folded into spaces and it is cut to 500 characters, because a
                failed run must still be recorded as failed.

        Raises:
            ValueError: an argument is malformed, or the run is unknown or already finished.
            ConfigurationError: the database cannot be reached.
        """
        with self._transaction() as session:
            run = _require_running(session, run_id)
            run.status = status
            run.finished_at = finished_at
            run.message = message

    @boundary
    def settle_held(
        self,
        delivery_id: Token,
        *,
        status: str,
        location: Location | None = None,
        manifest_sha256: Sha256 | None = None,
    ) -> None:
        """Move a held delivery to ``delivered`` (approved and published) or ``superseded``.

        Raises:
            ValueError: the delivery is unknown or not held, or a value is malformed.
            ConfigurationError: the database cannot be reached.
        """
        if status not in ("delivered", "superseded"):
            raise ValueError("a held delivery can only become delivered or superseded")
        with self._transaction() as session:
            row = session.get(DeliveryRecord, delivery_id)
            if row is None or row.status != "held":
                raise ValueError(f"delivery {delivery_id} is not held")
            row.status = status
            if location is not None:
                row.location = location
            if manifest_sha256 is not None:
                row.manifest_sha256 = manifest_sha256


def _quarantine_record(run_id: str, school: str, entry: object, position: int) -> QuarantineRecord:
    where = f"quarantine count {position}"
    if not isinstance(entry, tuple) or len(entry) != 4:
        raise ValueError(f"{where} must be a (column, rule, severity, count) tuple")
    column, rule, severity, count = entry
    rule_text = check(SingleLine, rule, f"{where}: rule")
    if len(rule_text) > _MESSAGE_LENGTH:
        raise ValueError(f"{where}: rule must be at most {_MESSAGE_LENGTH} characters")
    return QuarantineRecord(
        run_id=run_id,
        school=school,
        column=None if column is None else check(FieldName, column, f"{where}: column"),
        rule=rule_text,
        severity=check(SeverityCode, severity, f"{where}: severity"),
        count=check(Count, count, f"{where}: count"),
    )


def _require_running(session: Session, run_id: str) -> RunRecord:
    run = session.get(RunRecord, run_id, with_for_update=True)
    if run is None:
        raise ValueError(f"run {run_id} was not started")
    if run.status != "running":
        raise ValueError(f"run {run_id} has already finished ({run.status})")
    return run
