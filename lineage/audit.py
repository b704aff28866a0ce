"""Who did what: an append-only, hash-chained log of administrator actions (IBP SM.04).

Every entry names an actor (an OS user or the name given), an action, a subject (a
supplier id, a delivery id, a key name, or for an erasure the keyed hash of the pupil's
key, never the key itself) and details made of names, counts, hashes and short codes.

Each row carries the hash of the row before it, so the rows form a chain that
`AuditLog.verify` walks to find a row that was edited, removed or moved. The hash of a
row is the lower-case hex SHA-256 of the ASCII bytes of this canonical JSON object::

    json.dumps(
        {"seq": 7, "at": "2025-09-01T02:00:00.000000+00:00", "actor": "...",
         "action": "...", "subject": "...", "details": {...}, "prev_hash": "<hex>"},
        sort_keys=True, separators=(",", ":"), ensure_ascii=True,
    )

with ``at`` in UTC with microseconds, and ``prev_hash`` of the first row 64 zeros. Anyone
can recompute it from a table dump, without Sluis.

A chain alone cannot show that rows were cut off at its end: keep `AuditLog.head` of a
verified log somewhere else (a run record, a manifest, a printed report) and pass it to
`verify` later. On both databases, triggers created with the table refuse UPDATE and
DELETE (and TRUNCATE on PostgreSQL); whoever can drop a trigger can still tamper, and the
chain is there to show it.

Appends are serialised, so two writers can never chain to the same row: the transaction
starts with ``BEGIN IMMEDIATE`` on SQLite and ``LOCK TABLE ... IN SHARE ROW EXCLUSIVE
MODE`` on PostgreSQL, and a unique constraint on ``prev_hash`` refuses a fork on any
other database. Sequence numbers are assigned inside that lock rather than by a database
sequence, because a PostgreSQL sequence skips a number on every rolled-back insert, and
a gap is exactly what a removed row looks like.

The tables live on `lineage.store.Base`: importing this module is what makes
`LineageStore.create_schema` create them.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import Any, Final, Literal, Self, cast, get_args
from urllib.parse import urlsplit

from sqlalchemy import (
    CheckConstraint,
    Connection,
    Engine,
    Index,
    Integer,
    String,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from connectors.errors import ConfigurationError
from lineage.store import (
    _JSON,
    Base,
    UtcDateTime,
    _sha256,
    _token,
    _utc,
    build_engine,
    connection_error,
    is_damaged,
)

__all__ = [
    "AUDIT_ACTIONS",
    "GENESIS_HASH",
    "AgreementVersionRecord",
    "AuditAction",
    "AuditEntry",
    "AuditHead",
    "AuditLog",
    "AuditRecord",
    "AuditVerification",
    "default_actor",
    "lineage_engine",
    "record_agreement_versions",
]

AuditAction = Literal[
    "agreement_added",
    "agreement_changed",
    "agreement_removed",
    "delivery_approved",
    "erasure",
    "erasure_revoked",
    "redelivery",
    "key_rotated",
    "retention_purge",
]
AUDIT_ACTIONS: Final = frozenset(get_args(AuditAction))
# Actions whose subject is a pupil: it must be the keyed hash, so a raw key cannot land here.
_PUPIL_ACTIONS: Final = frozenset({"erasure", "erasure_revoked"})

GENESIS_HASH: Final = "0" * 64

_ACTOR_LENGTH: Final = 128
_SUBJECT_LENGTH: Final = 128
_SUPPLIER_LENGTH: Final = 63
_DETAIL_LENGTH: Final = 500
_DETAIL_DEPTH: Final = 4
_APPEND_ATTEMPTS: Final = 3


class AuditRecord(Base):
    """One administrator action, chained to the one before it."""

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(
            "action IN ({})".format(", ".join(f"'{a}'" for a in get_args(AuditAction))),
            name="action",
        ),
        CheckConstraint("seq >= 1", name="seq"),
        # The history of one supplier or one pupil hash, for the privacy officer.
        Index("ix_audit_log_subject", "subject"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(_ACTOR_LENGTH))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(_SUBJECT_LENGTH))
    details: Mapped[dict[str, Any]] = mapped_column(_JSON)
    # Unique: two rows chaining to the same predecessor is a fork, whatever the database.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    row_hash: Mapped[str] = mapped_column(String(64))


class AgreementVersionRecord(Base):
    """The agreement file version last recorded for a supplier."""

    __tablename__ = "agreement_versions"

    supplier: Mapped[str] = mapped_column(String(_SUPPLIER_LENGTH), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


_APPEND_ONLY_MESSAGE: Final = "audit_log is append-only"
_APPEND_ONLY_TRIGGERS: Final[Mapping[str, tuple[str, ...]]] = {
    "sqlite": (
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY_MESSAGE}'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY_MESSAGE}'); END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY_MESSAGE}'; END $$",
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    ),
}


def _create_append_only_triggers(target: object, connection: Connection, **_: object) -> None:
    # Alembic does not autogenerate triggers: a migration creating audit_log must run these.
    for statement in _APPEND_ONLY_TRIGGERS.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)


event.listen(AuditRecord.__table__, "after_create", _create_append_only_triggers)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An audit log row as stored, detached from any database session."""

    seq: int
    at: datetime
    actor: str
    action: AuditAction
    subject: str
    details: Mapping[str, Any]
    prev_hash: str
    row_hash: str


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The last row of a log: keep it outside the database to detect a cut-off end."""

    seq: int
    row_hash: str


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """The outcome of walking the chain.

    Attributes:
        ok: every row is intact, in order, with none missing.
        checked: how many rows, from the first, were found intact.
        first_bad_seq: the first position where the log differs from what was written
            (an edited or moved row, or the number of a removed one); None when ok.
        problem: one line saying what is wrong; None when ok.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str | None


def lineage_engine(url: str) -> Engine:
    """Create an engine on the lineage database configured as `LineageStore` does its own.

    Values are hidden from error messages, SQLite enforces foreign keys and runs in WAL
    mode, and a SQLite file's folder is created.

    Args:
        url: the lineage database URL; it may hold a password and never appears in an
            error message.

    Returns:
        A new engine; dispose of it when done.

    Raises:
        ConfigurationError: the URL cannot be parsed or names a driver that is missing.
    """
    return build_engine(url)


def default_actor() -> str:
    """Return the name of the OS user running Sluis, for entries without a given name.

    Raises:
        ConfigurationError: the OS does not say who the user is; name the actor instead.
    """
    try:
        name = getpass.getuser()
    except (OSError, KeyError, ImportError):
        raise ConfigurationError(
            "cannot tell which user is acting (no OS user name); name the actor explicitly"
        ) from None
    return _actor(name)


class AuditLog:
    """Appends administrator actions to the chained audit log, reads and verifies it.

    Args:
        engine_or_url: an engine on the lineage database, or its URL (then the log makes
            and owns an engine like `LineageStore` does, and `dispose` closes it).

    Raises:
        ConfigurationError: a URL cannot be parsed or names a missing driver.
    """

    def __init__(self, engine_or_url: Engine | str) -> None:
        if isinstance(engine_or_url, Engine):
            self._engine = engine_or_url
            self._owned = False
        else:
            self._engine = lineage_engine(engine_or_url)
            self._owned = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.dispose()

    @property
    def engine(self) -> Engine:
        """The engine the log writes through."""
        return self._engine

    def dispose(self) -> None:
        """Close the pooled connections of an engine the log made itself; else nothing."""
        if self._owned:
            self._engine.dispose()

    def append(
        self,
        actor: str,
        action: str,
        subject: str,
        details: Mapping[str, object],
        *,
        at: datetime | None = None,
    ) -> AuditEntry:
        """Append one action to the end of the chain.

        Args:
            actor: who acted: an OS user (see `default_actor`) or a name, one printable
                line of at most 128 characters.
            action: one of `AUDIT_ACTIONS`.
            subject: what the action was about: an id of letters, digits and ``._:+-``;
                for ``erasure`` and ``erasure_revoked`` the pupil hash (64 hex characters).
            details: non-pupil values only, as JSON: snake_case keys; strings of one line
                (at most 500 characters), integers, booleans, None, lists and nested
                mappings of those. Floats are refused, as their text is not canonical.
            at: when the action happened (timezone-aware); now if omitted.

        Returns:
            The stored entry with its sequence number and hashes.

        Raises:
            ValueError: an argument is malformed.
            ConfigurationError: the database cannot be reached.
        """
        entry = _validated(actor, action, subject, details, at)
        for attempt in range(_APPEND_ATTEMPTS):
            try:
                with _locked_transaction(self._engine) as connection:
                    return _append(connection, *entry)
            except IntegrityError:
                # Only a writer that bypassed the lock can get here; its row is in now.
                if attempt == _APPEND_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def entries(self) -> list[AuditEntry]:
        """Return every entry, in chain order.

        Raises:
            ConfigurationError: the database cannot be reached.
        """
        with _transaction(self._engine) as connection:
            return [_entry(row) for row in connection.execute(_ROWS)]

    def head(self) -> AuditHead | None:
        """Return the last entry's sequence number and hash, or None for an empty log.

        Raises:
            ConfigurationError: the database cannot be reached.
        """
        with _transaction(self._engine) as connection:
            row = connection.execute(_LAST).first()
        return None if row is None else AuditHead(seq=row.seq, row_hash=row.row_hash)

    def verify(self, *, expected_head: AuditHead | None = None) -> AuditVerification:
        """Walk the chain from the first row and report the first row that is wrong.

        Finds a row whose content changed (its hash no longer matches), a removed row
        (a gap in the sequence, or a link to a row that is not there) and rows moved
        to another place (a row chaining to one that is not just before it).

        Args:
            expected_head: a head saved earlier; then the log must still hold that row
                with that hash, which also shows rows cut off at the end.

        Returns:
            The outcome; ``ok`` is False at the first problem found.

        Raises:
            ConfigurationError: the database cannot be reached.
        """
        with _transaction(self._engine) as connection:
            rows = list(connection.execute(_ROWS))
        return _verify(rows, expected_head)


def record_agreement_versions(
    log: AuditLog,
    agreements: Mapping[str, str],
    actor: str,
    *,
    at: datetime | None = None,
) -> list[AuditEntry]:
    """Record which agreement files changed since the last run, as audit entries.

    Compares each supplier's agreement file hash with the version recorded last and
    appends ``agreement_added``, ``agreement_changed`` or ``agreement_removed`` for each
    difference, in supplier order; an agreement file edited by hand is therefore recorded
    at the next run. An unchanged set appends nothing.

    Args:
        log: the audit log to append to.
        agreements: every agreement in force now, supplier id -> hex SHA-256 of its file.
            Pass all agreement files, not only the suppliers a run selected: a supplier
            missing here is recorded as removed.
        actor: who runs Sluis (see `AuditLog.append`).
        at: when; now if omitted.

    Returns:
        The entries appended, possibly none.

    Raises:
        ValueError: a supplier id or hash is malformed.
        ConfigurationError: the database cannot be reached.
    """
    if not isinstance(agreements, Mapping):
        raise ValueError("agreements must map supplier ids to SHA-256 hex digests")
    current = {
        _token(supplier, "supplier", _SUPPLIER_LENGTH): _sha256(digest, f"sha256 of {supplier}")
        for supplier, digest in agreements.items()
    }
    who = _actor(actor)
    when = _now(at)
    versions = AgreementVersionRecord
    with _locked_transaction(log.engine) as connection:
        recorded: dict[str, str] = {
            row.supplier: row.sha256
            for row in connection.execute(select(versions.supplier, versions.sha256))
        }
        appended: list[AuditEntry] = []
        for supplier in sorted(current.keys() | recorded.keys()):
            details: dict[str, Any]
            if supplier not in recorded:
                action, details = "agreement_added", {"sha256": current[supplier]}
                connection.execute(
                    insert(versions).values(
                        supplier=supplier, sha256=current[supplier], recorded_at=when
                    )
                )
            elif supplier not in current:
                action, details = "agreement_removed", {"previous_sha256": recorded[supplier]}
                connection.execute(delete(versions).where(versions.supplier == supplier))
            elif current[supplier] != recorded[supplier]:
                action = "agreement_changed"
                details = {"previous_sha256": recorded[supplier], "sha256": current[supplier]}
                connection.execute(
                    update(versions)
                    .where(versions.supplier == supplier)
                    .values(sha256=current[supplier], recorded_at=when)
                )
            else:
                continue
            appended.append(_append(connection, who, action, supplier, details, when))
        return appended


# -- shared with lineage.rights ----------------------------------------------------------


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction on a fresh connection; a failure to connect is a ConfigurationError."""
    try:
        connection = engine.connect()
    except DBAPIError as exc:
        raise connection_error(engine.url, exc) from None
    with connection, connection.begin():
        try:
            yield connection
        except DBAPIError as exc:
            # A damaged SQLite file can pass the connect and fail on a later page.
            if is_damaged(exc):
                raise connection_error(engine.url, exc) from None
            raise


@contextmanager
def _locked_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the audit log's write lock from its first statement."""
    with _transaction(engine) as connection:
        backend = connection.dialect.name
        if backend == "sqlite":
            # Takes the database's write lock now (waiting up to the busy timeout), so no
            # other writer can append between our read of the last row and our insert.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif backend == "postgresql":
            # Conflicts with itself and with every write, not with readers.
            table = connection.dialect.identifier_preparer.quote(AuditRecord.__tablename__)
            connection.exec_driver_sql(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        yield connection


def _append(
    connection: Connection,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    at: datetime,
) -> AuditEntry:
    """Append an already validated entry inside a `_locked_transaction`."""
    last = connection.execute(_LAST).first()
    seq, prev_hash = (1, GENESIS_HASH) if last is None else (last.seq + 1, last.row_hash)
    row_hash = _row_hash(seq, at, actor, action, subject, details, prev_hash)
    connection.execute(
        insert(AuditRecord).values(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            subject=subject,
            details=details,
            prev_hash=prev_hash,
            row_hash=row_hash,
        )
    )
    return AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=cast(AuditAction, action),
        subject=subject,
        details=_frozen(details),
        prev_hash=prev_hash,
        row_hash=row_hash,
    )


def _validated(
    actor: object, action: object, subject: object, details: object, at: datetime | None
) -> tuple[str, str, str, dict[str, Any], datetime]:
    """Check an entry's parts; returns `_append`'s arguments after the connection."""
    if not isinstance(action, str) or action not in AUDIT_ACTIONS:
        raise ValueError(f"action must be one of {', '.join(sorted(AUDIT_ACTIONS))}")
    if action in _PUPIL_ACTIONS:
        clean_subject = _sha256(subject, f"the subject of {action} (a pupil hash)")
    else:
        clean_subject = _token(subject, "subject", _SUBJECT_LENGTH)
    return _actor(actor), action, clean_subject, _details(details), _now(at)


def _actor(value: object) -> str:
    if (
        not isinstance(value, str)
        or not value
        or len(value) > _ACTOR_LENGTH
        or not value.isprintable()
        or value != value.strip()
    ):
        raise ValueError(
            f"actor must be a name of 1 to {_ACTOR_LENGTH} printable characters on one line, "
            "without surrounding spaces"
        )
    return value


def _now(at: datetime | None) -> datetime:
    return datetime.now(UTC) if at is None else _utc(at, "at")


# -- details: names, counts, hashes and codes as canonical JSON ------------------------


def _details(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("details must be a mapping with snake_case keys")
    return cast(dict[str, Any], _detail_value(value, "details", 0))


def _detail_value(value: object, where: str, depth: int) -> Any:
    if depth > _DETAIL_DEPTH:
        raise ValueError(f"details nest deeper than {_DETAIL_DEPTH} levels at {where}")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        raise ValueError(f"{where} must not be a float: use an int or a string")
    if isinstance(value, str):
        if len(value) > _DETAIL_LENGTH or not value.isprintable():
            raise ValueError(
                f"{where} must be one printable line of at most {_DETAIL_LENGTH} characters"
            )
        if "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password is not None:
                raise ValueError(f"{where} must not hold a URL with a password")
        return value
    if isinstance(value, Mapping):
        clean: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not _is_snake(key):
                raise ValueError(f"every key in {where} must be snake_case, at most 63 characters")
            clean[key] = _detail_value(item, f"{where}[{key!r}]", depth + 1)
        return clean
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [
            _detail_value(item, f"{where}[{index}]", depth + 1) for index, item in enumerate(value)
        ]
    raise ValueError(f"{where} must be a string, int, bool, None, list or mapping")


def _is_snake(key: str) -> bool:
    return (
        0 < len(key) <= _SUPPLIER_LENGTH
        and key[0].isascii()
        and key[0].islower()
        and all(c.isascii() and (c.islower() or c.isdigit() or c == "_") for c in key)
    )


def _frozen(details: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(json.loads(json.dumps(details)))


def _row_hash(
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    payload = {
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "prev_hash": prev_hash,
    }
    text = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


# -- reading and verifying --------------------------------------------------------------

_ROWS: Final = select(
    AuditRecord.seq,
    AuditRecord.at,
    AuditRecord.actor,
    AuditRecord.action,
    AuditRecord.subject,
    AuditRecord.details,
    AuditRecord.prev_hash,
    AuditRecord.row_hash,
).order_by(AuditRecord.seq)

_LAST: Final = (
    select(AuditRecord.seq, AuditRecord.row_hash).order_by(AuditRecord.seq.desc()).limit(1)
)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=cast(AuditAction, row.action),
        subject=row.subject,
        details=_frozen(row.details),
        prev_hash=row.prev_hash,
        row_hash=row.row_hash,
    )


def _verify(rows: Sequence[Any], expected_head: AuditHead | None) -> AuditVerification:
    if expected_head is not None and expected_head.seq < 1:
        raise ValueError("expected_head.seq must be at least 1")
    # Where each stored hash sits, to tell a moved row from a removed one.
    position = {row.row_hash: row.seq for row in rows}
    expected_seq, prev_hash = 1, GENESIS_HASH
    for row in rows:
        problem: str | None = None
        bad_seq = row.seq
        if row.seq > expected_seq:
            bad_seq = expected_seq
            missing = (
                f"row {expected_seq} is"
                if row.seq == expected_seq + 1
                else f"rows {expected_seq} to {row.seq - 1} are"
            )
            problem = f"{missing} missing: removed from the log"
        elif row.seq < expected_seq:
            problem = f"row {row.seq} is out of sequence: its number was changed"
        elif row.prev_hash != prev_hash:
            other = position.get(row.prev_hash)
            if other is not None:
                problem = (
                    f"row {row.seq} chains to row {other} instead of row {row.seq - 1}: "
                    "rows were moved"
                )
            else:
                problem = (
                    f"row {row.seq} does not chain to row {row.seq - 1}: a row before it "
                    "was changed, replaced or removed"
                )
        elif _row_hash(
            row.seq, row.at, row.actor, row.action, row.subject, row.details, row.prev_hash
        ) != (row.row_hash):
            problem = f"row {row.seq} was changed after it was written: its hash does not match"
        if problem is not None:
            return AuditVerification(
                ok=False, checked=expected_seq - 1, first_bad_seq=bad_seq, problem=problem
            )
        expected_seq, prev_hash = expected_seq + 1, row.row_hash
    checked = expected_seq - 1
    if expected_head is not None:
        if checked < expected_head.seq:
            return AuditVerification(
                ok=False,
                checked=checked,
                first_bad_seq=checked + 1,
                problem=(
                    f"the log ends at row {checked}, but row {expected_head.seq} was the "
                    "head before: rows were removed from the end"
                ),
            )
        if rows[expected_head.seq - 1].row_hash != expected_head.row_hash:
            return AuditVerification(
                ok=False,
                checked=checked,
                first_bad_seq=expected_head.seq,
                problem=(
                    f"row {expected_head.seq} is not the row saved as the head: the log "
                    "was rewritten up to there"
                ),
            )
    return AuditVerification(ok=True, checked=checked, first_bad_seq=None, problem=None)
