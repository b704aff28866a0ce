"""Who did what: an append-only, MAC-chained log of administrator actions (IBP SM.04).

Every entry names an actor (an OS user or the name given), an action, a subject (a
supplier id, a delivery id, a key name, or for an erasure the keyed hash of the pupil's
key, never the key itself) and details made of names, counts, hashes and short codes.

Each row carries the MAC of the row before it, so the rows form a chain that
`AuditLog.verify` walks to find a row that was edited, removed or moved. The MAC of a
row is the lower-case hex HMAC-SHA256, under the audit key, of the ASCII bytes of this
canonical JSON object::

    json.dumps(
        {"seq": 7, "at": "2025-09-01T02:00:00.000000+00:00", "actor": "...",
         "action": "...", "subject": "...", "details": {...}, "prev_hash": "<hex>"},
        sort_keys=True, separators=(",", ":"), ensure_ascii=True,
    )

with ``at`` in UTC with microseconds, and ``prev_hash`` of the first row 64 zeros. The
audit key is kept outside the database (a setting, or a file in the state folder, like
the other keys), so whoever can write to the database cannot recompute a MAC: an edited
row, and a log rewritten from some row on, no longer verifies. Anyone holding the key can
recompute the chain from a table dump with any HMAC tool, without Sluis.

Rows written before the log was keyed (lineage revision 0003) carry the plain SHA-256 of
the same bytes. They stay verifiable as such, and they must come first: a plain row after
a keyed one is a rewrite. Such legacy rows are protected by the first keyed row, whose
MAC covers the hash of the last legacy row: editing one and recomputing the plain chain
breaks that link.

A chain alone cannot show that rows were cut off at its end, nor a whole log rewritten
with plain hashes. So its head (sequence number and MAC) is anchored outside the table:
in the one-row ``audit_head`` table, written in the same transaction as every append; in
each run's record (`lineage.audit_anchors`), its OpenLineage COMPLETE event and its
Prefect artifact; and wherever a privacy officer keeps a printout of
``sluis audit verify``. `verify` checks the log against every anchor it is given: the
log must still hold that row with that MAC. On both databases, triggers created with the
table refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL); whoever can drop a trigger
can still tamper, and the chain and its anchors are there to show it.

Appends are serialised, so two writers can never chain to the same row: the transaction
starts with ``BEGIN IMMEDIATE`` on SQLite and ``LOCK TABLE ... IN SHARE ROW EXCLUSIVE
MODE`` on PostgreSQL, and a unique constraint on ``prev_hash`` refuses a fork on any
other database. Sequence numbers are assigned inside that lock rather than by a database
sequence, because a PostgreSQL sequence skips a number on every rolled-back insert, and
a gap is exactly what a removed row looks like.

The tables are in `lineage.audit_tables` (on `lineage.tables.Base`) and the MAC and the
walk that checks it in `lineage.audit_chain`; this module reads and writes the log, and
names their public parts again. Importing it is what makes `LineageStore.create_schema`
create the tables.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, cast

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from connectors.errors import ConfigurationError
from connectors.i18n import _
from lineage.audit_chain import GENESIS_HASH, AuditHead, AuditVerification
from lineage.audit_chain import is_plain as _is_plain
from lineage.audit_chain import row_hash as _row_hash
from lineage.audit_chain import verify_chain as _verify
from lineage.audit_tables import (
    AUDIT_ACTIONS,
    AgreementVersionRecord,
    AuditAction,
    AuditHeadRecord,
    AuditRecord,
)
from lineage.engine import Disposing, build_engine, in_batch
from lineage.engine import transaction as _transaction
from lineage.snapshots import from_row

# The checks keep the short private names the code below was written with.
from lineage.values import Actor, AuditKey, Details, Name, Sha256, Token, UtcTime, boundary, check

__all__ = [
    "AUDIT_ACTIONS",
    "GENESIS_HASH",
    "AgreementVersionRecord",
    "AuditAction",
    "AuditEntry",
    "AuditHead",
    "AuditHeadRecord",
    "AuditLog",
    "AuditRecord",
    "AuditVerification",
    "append_entry",
    "chain_is_keyed",
    "default_actor",
    "lineage_engine",
    "locked_transaction",
    "record_agreement_versions",
]

# Actions whose subject is a pupil: it must be the keyed hash, so a raw key cannot land here.
_PUPIL_ACTIONS: Final = frozenset({"erasure", "erasure_revoked"})


_APPEND_ATTEMPTS: Final = 3


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
            _(
                "onduidelijk welke gebruiker handelt (geen OS-gebruikersnaam); noem wie het "
                "doet (actor, --door)"
            )
        ) from None
    actor: str = check(Actor, name, "actor")
    return actor


class AuditLog(Disposing):
    """Appends administrator actions to the chained audit log, reads and verifies it.

    Args:
        engine_or_url: an engine on the lineage database, or its URL (then the log makes
            and owns an engine like `LineageStore` does, and `dispose` closes it).
        key: the audit key (at least 16 bytes) that appending and verifying need;
            reading the entries and the head does not.

    Raises:
        ConfigurationError: a URL cannot be parsed or names a missing driver.
        ValueError: the key is shorter than 16 bytes.
    """

    @boundary
    def __init__(self, engine_or_url: Engine | str, key: AuditKey | None = None) -> None:
        self._key = key
        if isinstance(engine_or_url, Engine):
            self._engine = engine_or_url
            self._owned = False
        else:
            self._engine = lineage_engine(engine_or_url)
            self._owned = True

    @property
    def engine(self) -> Engine:
        """The engine the log writes through."""
        return self._engine

    @property
    def key(self) -> bytes:
        """The audit key (a secret: never log it).

        Raises:
            ConfigurationError: the log was made without one.
        """
        if self._key is None:
            raise ConfigurationError(
                _(
                    "het auditlog heeft zijn sleutel nodig om regels toe te voegen of te "
                    "controleren (SLUIS_AUDIT_KEY of <state>/keys/lineage-audit.key)"
                )
            )
        return self._key

    def dispose(self) -> None:
        """Close the pooled connections of an engine the log made itself; else nothing."""
        if self._owned:
            self._engine.dispose()

    @boundary
    def append(
        self,
        actor: Actor,
        action: str,
        subject: str,
        details: Details,
        *,
        at: UtcTime | None = None,
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
        key = self.key
        entry = (actor, *_action_and_subject(action, subject), dict(details), _now(at))
        for attempt in range(_APPEND_ATTEMPTS):
            try:
                with locked_transaction(self._engine) as connection:
                    return append_entry(connection, key, *entry)
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

    def verify(
        self,
        *,
        expected_head: AuditHead | None = None,
        anchors: Sequence[tuple[str, AuditHead]] = (),
    ) -> AuditVerification:
        """Walk the chain from the first row and report the first row that is wrong.

        Finds a row whose content changed (its MAC no longer matches), a removed row
        (a gap in the sequence, or a link to a row that is not there), rows moved to
        another place (a row chaining to one that is not just before it), a plain-hash
        row after a keyed one, and, against the head in ``audit_head`` and every anchor
        given, rows cut off at the end or a log rewritten up to an anchor.

        Args:
            expected_head: a head saved earlier; then the log must still hold that row
                with that MAC, which also shows rows cut off at the end.
            anchors: more heads kept elsewhere, each with a few words saying where
                (e.g. "the head recorded by run ..."), checked the same way.

        Returns:
            The outcome; ``ok`` is False at the first problem found.

        Raises:
            ConfigurationError: the database cannot be reached, or the log has no key.
        """
        key = self.key
        with _transaction(self._engine) as connection:
            rows = list(connection.execute(_ROWS))
            stored = connection.execute(_STORED_HEAD).first()
        given = [*anchors]
        if stored is not None:
            given.append((_("de kop bij de laatste regel"), AuditHead(stored.seq, stored.row_hash)))
        if expected_head is not None:
            given.append((_("de eerder bewaarde kop"), expected_head))
        result = _verify(rows, key, given)
        if result.ok and stored is None and result.keyed:
            return AuditVerification(
                ok=False,
                checked=result.checked,
                first_bad_seq=None,
                problem=_(
                    "de kop die bij elke regel wordt vastgelegd ontbreekt: die is verwijderd"
                ),
                head=result.head,
            )
        return result.outcome


@boundary
def record_agreement_versions(
    log: AuditLog,
    agreements: Mapping[str, str | None],
    actor: Actor,
    *,
    at: UtcTime | None = None,
) -> list[AuditEntry]:
    """Record which agreement files changed since the last run, as audit entries.

    Compares each supplier's agreement file hash with the version recorded last and
    appends ``agreement_added``, ``agreement_changed`` or ``agreement_removed`` for each
    difference, in supplier order; an agreement file edited by hand is therefore recorded
    at the next run. An unchanged set appends nothing.

    Args:
        log: the audit log to append to.
        agreements: every agreement file now, supplier id -> hex SHA-256 of the file, or
            None for a file that cannot be read (its recorded version is left as it is).
            Pass all agreement files, also those that fail to load and those of suppliers
            the run did not select: a supplier missing here is recorded as removed.
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
        check(Name, supplier, "supplier"): check(Sha256, digest, f"sha256 of {supplier}")
        for supplier, digest in agreements.items()
        if digest is not None
    }
    unreadable = {supplier for supplier, digest in agreements.items() if digest is None}
    who = actor
    when = _now(at)
    log.key  # noqa: B018 - refuse a log without its key before anything is read
    versions = AgreementVersionRecord
    with locked_transaction(log.engine) as connection:
        recorded: dict[str, str] = {
            row.supplier: row.sha256
            for row in connection.execute(select(versions.supplier, versions.sha256))
        }
        appended: list[AuditEntry] = []
        for supplier in sorted((current.keys() | recorded.keys()) - unreadable):
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
            appended.append(append_entry(connection, log.key, who, action, supplier, details, when))
        return appended


@contextmanager
def locked_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the audit log's write lock from its first statement."""
    # A batch scope (lineage.engine.batch) on SQLite took the write lock when it began.
    joined = in_batch(engine)
    with _transaction(engine) as connection:
        backend = connection.dialect.name
        if backend == "sqlite" and not joined:
            # Takes the database's write lock now (waiting up to the busy timeout), so no
            # other writer can append between our read of the last row and our insert.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif backend == "postgresql":
            # Conflicts with itself and with every write, not with readers.
            table = connection.dialect.identifier_preparer.quote(AuditRecord.__tablename__)
            connection.exec_driver_sql(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        yield connection


def append_entry(
    connection: Connection,
    key: bytes,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    at: datetime,
) -> AuditEntry:
    """Append an already validated entry inside a `locked_transaction`, keyed by `key`."""
    last = connection.execute(_LAST).first()
    seq, prev_hash = (1, GENESIS_HASH) if last is None else (last.seq + 1, last.row_hash)
    row_hash = _row_hash(seq, at, actor, action, subject, details, prev_hash, key=key)
    # The head moves with the row, in the same transaction: it is never behind the log.
    moved = connection.execute(
        update(AuditHeadRecord).where(AuditHeadRecord.id == 1).values(seq=seq, row_hash=row_hash)
    ).rowcount
    if not moved:
        connection.execute(insert(AuditHeadRecord).values(id=1, seq=seq, row_hash=row_hash))
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


def _action_and_subject(action: object, subject: object) -> tuple[str, str]:
    """An entry's action and subject: a pupil hash for a pupil's action, else an id."""
    if not isinstance(action, str) or action not in AUDIT_ACTIONS:
        raise ValueError(f"action must be one of {', '.join(sorted(AUDIT_ACTIONS))}")
    if action in _PUPIL_ACTIONS:
        return action, check(Sha256, subject, f"the subject of {action} (a pupil hash)")
    return action, check(Token, subject, "subject")


def _now(at: datetime | None) -> datetime:
    return datetime.now(UTC) if at is None else at


def _frozen(details: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(json.loads(json.dumps(details)))


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
_STORED_HEAD: Final = select(AuditHeadRecord.seq, AuditHeadRecord.row_hash)


def chain_is_keyed(engine: Engine) -> bool:
    """Whether the log holds a row chained under an audit key (else none, or legacy only).

    Rows are keyed from the first keyed one on, so the last row says it.

    Raises:
        ConfigurationError: the database cannot be reached.
    """
    with _transaction(engine) as connection:
        row = connection.execute(_ROWS.order_by(None).order_by(AuditRecord.seq.desc())).first()
    return row is not None and not _is_plain(row)


def _entry(row: Any) -> AuditEntry:
    return from_row(AuditEntry, row, details=_frozen(row.details))
