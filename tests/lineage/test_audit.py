"""The audit log chains every administrator action and shows any edit, removal or move."""

from __future__ import annotations

import getpass
import hashlib
import hmac
import itertools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import JSON, Connection, Engine, bindparam, inspect, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError

import lineage.audit
from connectors.errors import ConfigurationError
from lineage.audit import (
    GENESIS_HASH,
    AgreementVersionRecord,
    AuditHead,
    AuditLog,
    default_actor,
    lineage_engine,
    record_agreement_versions,
)
from lineage.store import LineageStore

T0 = datetime(2025, 9, 1, 2, 0, tzinfo=UTC)
SHA_A = hashlib.sha256(b"contracts/suppliers/leermiddel.yaml v1").hexdigest()
SHA_A2 = hashlib.sha256(b"contracts/suppliers/leermiddel.yaml v2").hexdigest()
SHA_B = hashlib.sha256(b"contracts/suppliers/rekenapp.yaml").hexdigest()
SHA_C = hashlib.sha256(b"contracts/suppliers/toetsen.yaml").hexdigest()
PUPIL = hashlib.sha256(b"a pupil hash stand-in").hexdigest()
AUDIT_KEY = b"the audit key, kept outside the db"


@pytest.fixture
def engine(store: LineageStore, lineage_url: str) -> Iterator[Engine]:
    """An engine on the store's database, whose schema (with the audit tables) exists."""
    raw = lineage_engine(lineage_url)
    try:
        yield raw
    finally:
        raw.dispose()


@pytest.fixture
def log(engine: Engine) -> AuditLog:
    return AuditLog(engine, AUDIT_KEY)


def _fill(log: AuditLog, n: int = 5) -> None:
    actions = ["agreement_added", "delivery_approved", "redelivery", "key_rotated"]
    for i in range(n):
        log.append(
            "beheerder",
            actions[i % len(actions)],
            f"leermiddel-{i}",
            {"delivery_id": f"d-{i}", "count": i, "ok": True, "files": ["a.csv"]},
            at=T0 + timedelta(minutes=i),
        )


def _tamper(engine: Engine, statement: str, **params: Any) -> None:
    """Change the log as someone with direct database access could: past the triggers."""
    with engine.begin() as connection:
        _disable_triggers(connection)
        connection.execute(text(statement), params)


def _disable_triggers(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
        connection.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
    else:
        connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))


def _set_details(engine: Engine, seq: int, details: dict[str, Any], **extra: str) -> None:
    """Overwrite a row's details (and any other column given) with a plain UPDATE."""
    columns = ", ".join(["details = :details", *(f"{name} = :{name}" for name in extra)])
    statement = text(
        "UPDATE audit_log SET " + columns + " WHERE seq = :seq"  # noqa: S608 - fixed names
    ).bindparams(bindparam("details", type_=JSON().with_variant(JSONB(), "postgresql")))
    with engine.begin() as connection:
        _disable_triggers(connection)
        connection.execute(statement, {"details": details, "seq": seq, **extra})


# -- the chain ---------------------------------------------------------------------------


def test_an_empty_log_verifies(log: AuditLog) -> None:
    result = log.verify()

    assert (result.ok, result.checked, result.first_bad_seq, result.problem) == (
        True,
        0,
        None,
        None,
    )
    assert log.head() is None
    assert log.entries() == []


def test_appended_entries_form_a_chain_that_verifies(log: AuditLog) -> None:
    _fill(log, 5)

    entries = log.entries()
    assert [entry.seq for entry in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.row_hash
    assert entries[2].at == T0 + timedelta(minutes=2)
    assert entries[2].at.tzinfo is not None
    assert dict(entries[2].details) == {
        "delivery_id": "d-2",
        "count": 2,
        "ok": True,
        "files": ["a.csv"],
    }
    assert log.head() == AuditHead(seq=5, row_hash=entries[-1].row_hash)
    result = log.verify()
    assert (result.ok, result.checked, result.first_bad_seq) == (True, 5, None)


def test_append_returns_what_is_stored(log: AuditLog) -> None:
    entry = log.append("Jan de Beheerder", "key_rotated", "pseudonym-leermiddel", {}, at=T0)

    assert log.entries() == [entry]
    assert entry.actor == "Jan de Beheerder"


def test_a_row_mac_can_be_recomputed_with_the_key_without_sluis(log: AuditLog) -> None:
    # The module docstring documents the canonical form; an auditor's script uses it.
    entry = log.append("beheerder", "redelivery", "leermiddel", {"delivery_id": "d-1"}, at=T0)

    canonical = json.dumps(
        {
            "seq": 1,
            "at": "2025-09-01T02:00:00.000000+00:00",
            "actor": "beheerder",
            "action": "redelivery",
            "subject": "leermiddel",
            "details": {"delivery_id": "d-1"},
            "prev_hash": "0" * 64,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    mac = hmac.new(AUDIT_KEY, canonical.encode("ascii"), hashlib.sha256).hexdigest()
    assert entry.row_hash == mac


def test_the_database_refuses_updates_and_deletes_of_the_log(log: AuditLog, engine: Engine) -> None:
    _fill(log, 2)

    for statement in (
        "UPDATE audit_log SET actor = 'iemand anders' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    assert log.verify().ok


# -- tampering ---------------------------------------------------------------------------


def test_an_edited_details_column_is_found_with_its_seq(log: AuditLog, engine: Engine) -> None:
    _fill(log, 4)

    _set_details(engine, 2, {"delivery_id": "d-other", "count": 1, "ok": True, "files": ["a.csv"]})

    result = log.verify()
    assert (result.ok, result.checked, result.first_bad_seq) == (False, 1, 2)
    assert result.problem is not None
    assert "regel 2 is gewijzigd" in result.problem


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'iemand anders' WHERE seq = 3",
        "UPDATE audit_log SET action = 'erasure' WHERE seq = 3",
        "UPDATE audit_log SET subject = 'rekenapp' WHERE seq = 3",
    ],
    ids=["actor", "action", "subject"],
)
def test_any_edited_column_is_found(log: AuditLog, engine: Engine, statement: str) -> None:
    _fill(log, 4)

    _tamper(engine, statement)

    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)


def test_an_edited_timestamp_is_found(log: AuditLog, engine: Engine) -> None:
    _fill(log, 3)

    later = T0 + timedelta(days=1)
    value: object = "2025-09-02 02:00:00.000000" if engine.dialect.name == "sqlite" else later
    _tamper(engine, "UPDATE audit_log SET at = :value WHERE seq = 2", value=value)

    assert log.verify().first_bad_seq == 2


def test_a_deleted_middle_row_is_found(log: AuditLog, engine: Engine) -> None:
    _fill(log, 5)

    _tamper(engine, "DELETE FROM audit_log WHERE seq = 3")

    result = log.verify()
    assert (result.ok, result.checked, result.first_bad_seq) == (False, 2, 3)
    assert result.problem is not None
    assert "regel 3 ontbreekt" in result.problem


def test_a_deleted_first_row_is_found(log: AuditLog, engine: Engine) -> None:
    _fill(log, 3)

    _tamper(engine, "DELETE FROM audit_log WHERE seq = 1")

    result = log.verify()
    assert (result.ok, result.checked, result.first_bad_seq) == (False, 0, 1)


def test_a_deleted_row_with_the_gap_closed_is_found(log: AuditLog, engine: Engine) -> None:
    _fill(log, 4)

    _tamper(engine, "DELETE FROM audit_log WHERE seq = 2")
    _tamper(engine, "UPDATE audit_log SET seq = seq - 1 WHERE seq > 2")

    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 2)


def test_swapped_rows_are_found(log: AuditLog, engine: Engine) -> None:
    _fill(log, 4)

    _tamper(engine, "UPDATE audit_log SET seq = 1000 WHERE seq = 2")
    _tamper(engine, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
    _tamper(engine, "UPDATE audit_log SET seq = 3 WHERE seq = 1000")

    result = log.verify()
    assert (result.ok, result.checked, result.first_bad_seq) == (False, 1, 2)
    assert result.problem is not None
    assert "verplaatst" in result.problem


def _forged(original: Any, details: dict[str, Any], key: bytes | None) -> str:
    return lineage.audit._row_hash(
        original.seq,
        original.at,
        original.actor,
        original.action,
        original.subject,
        details,
        original.prev_hash,
        key=key,
    )


def test_an_edit_with_a_mac_recomputed_with_the_key_breaks_the_next_link(
    log: AuditLog, engine: Engine
) -> None:
    _fill(log, 4)
    original = log.entries()[1]
    forged_details = {"delivery_id": "d-other"}

    _set_details(engine, 2, forged_details, row_hash=_forged(original, forged_details, AUDIT_KEY))

    result = log.verify()
    assert (result.ok, result.checked, result.first_bad_seq) == (False, 2, 3)
    assert result.problem is not None
    assert "is niet geketend aan regel 2" in result.problem


@pytest.mark.parametrize("key", [None, b"another key, not the audit key"], ids=["plain", "other"])
def test_an_edit_with_a_hash_recomputed_without_the_key_is_found_at_the_row(
    log: AuditLog, engine: Engine, key: bytes | None
) -> None:
    _fill(log, 4)
    original = log.entries()[1]
    forged_details = {"delivery_id": "d-other"}

    _set_details(engine, 2, forged_details, row_hash=_forged(original, forged_details, key))

    result = log.verify()
    assert (result.ok, result.checked, result.first_bad_seq) == (False, 1, 2)
    assert result.problem is not None
    assert "regel 2" in result.problem


def _set_head(engine: Engine, seq: int, row_hash: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_head SET seq = :seq, row_hash = :row_hash"),
            {"seq": seq, "row_hash": row_hash},
        )


def test_removed_last_rows_are_found_against_the_head_recorded_with_each_entry(
    log: AuditLog, engine: Engine
) -> None:
    # The case: the erasure and the approval, the last two rows, deleted.
    _fill(log, 5)

    _tamper(engine, "DELETE FROM audit_log WHERE seq >= 4")

    result = log.verify()
    assert (result.ok, result.checked, result.first_bad_seq) == (False, 3, 4)
    assert result.problem is not None
    assert "er zijn regels van het einde verwijderd" in result.problem
    assert "de kop bij de laatste regel is regel 5" in result.problem


def test_a_removed_head_record_is_found(log: AuditLog, engine: Engine) -> None:
    _fill(log, 2)

    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_head"))

    result = log.verify()
    assert not result.ok
    assert result.problem is not None
    assert "kop die bij elke regel wordt vastgelegd ontbreekt" in result.problem


def test_a_cut_off_end_with_its_head_record_moved_back_shows_against_a_saved_head(
    log: AuditLog, engine: Engine
) -> None:
    _fill(log, 4)
    head = log.head()
    assert head is not None

    _tamper(engine, "DELETE FROM audit_log WHERE seq = 4")
    _set_head(engine, 3, log.entries()[2].row_hash)

    # The table itself no longer knows what came after its last row...
    assert log.verify().ok
    # ...a head kept elsewhere does.
    result = log.verify(expected_head=head)
    assert (result.ok, result.checked, result.first_bad_seq) == (False, 3, 4)
    result = log.verify(anchors=[("the head recorded by run r1", head)])
    assert result.problem is not None
    assert "the head recorded by run r1 is regel 4" in result.problem


def test_a_replaced_end_shows_against_a_saved_head(log: AuditLog, engine: Engine) -> None:
    _fill(log, 3)
    head = log.head()
    assert head is not None
    _tamper(engine, "DELETE FROM audit_log WHERE seq = 3")
    _set_head(engine, 2, log.entries()[1].row_hash)

    log.append("beheerder", "redelivery", "leermiddel", {"note": "opnieuw"}, at=T0)

    assert log.verify().ok
    result = log.verify(expected_head=head)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert log.verify(expected_head=AuditHead(seq=2, row_hash=log.entries()[1].row_hash)).ok


def _rechain(engine: Engine, log: AuditLog, key: bytes | None, actor: str) -> None:
    """Rewrite every row's actor and recompute the whole chain (and its head record)."""
    rows = log.entries()
    prev = GENESIS_HASH
    with engine.begin() as connection:
        _disable_triggers(connection)
        connection.execute(text("DELETE FROM audit_log"))
        for row in rows:
            mac = lineage.audit._row_hash(
                row.seq, row.at, actor, row.action, row.subject, dict(row.details), prev, key=key
            )
            connection.execute(
                lineage.audit.AuditRecord.__table__.insert().values(
                    seq=row.seq,
                    at=row.at,
                    actor=actor,
                    action=row.action,
                    subject=row.subject,
                    details=dict(row.details),
                    prev_hash=prev,
                    row_hash=mac,
                )
            )
            prev = mac
        connection.execute(
            text("UPDATE audit_head SET seq = :seq, row_hash = :mac"),
            {"seq": rows[-1].seq, "mac": prev},
        )


def test_a_log_rechained_with_plain_hashes_is_found_against_an_anchor(
    log: AuditLog, engine: Engine
) -> None:
    _fill(log, 4)
    anchor = log.head()
    assert anchor is not None

    _rechain(engine, log, None, "iemand anders")

    result = log.verify(anchors=[("the head recorded by run r1", anchor)])
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert result.problem is not None
    assert "herschreven" in result.problem


def test_a_log_rechained_with_another_key_is_found_without_any_anchor(
    log: AuditLog, engine: Engine
) -> None:
    _fill(log, 4)

    _rechain(engine, log, b"a key the tamperer made up", "iemand anders")

    result = log.verify()
    assert (result.ok, result.checked, result.first_bad_seq) == (False, 0, 1)


# -- rows from before the log was keyed ---------------------------------------------------


def _legacy_rows(engine: Engine, n: int, actors: dict[int, str] | None = None) -> None:
    """Rows as Sluis wrote them before revision 0003: plain SHA-256, no head record."""
    prev = GENESIS_HASH
    with engine.begin() as connection:
        for seq in range(1, n + 1):
            at = T0 + timedelta(minutes=seq)
            actor = (actors or {}).get(seq, "beheerder")
            row_hash = lineage.audit._row_hash(seq, at, actor, "redelivery", f"oud-{seq}", {}, prev)
            connection.execute(
                lineage.audit.AuditRecord.__table__.insert().values(
                    seq=seq,
                    at=at,
                    actor=actor,
                    action="redelivery",
                    subject=f"oud-{seq}",
                    details={},
                    prev_hash=prev,
                    row_hash=row_hash,
                )
            )
            prev = row_hash


def test_legacy_rows_stay_verifiable_and_keyed_rows_follow_them(
    log: AuditLog, engine: Engine
) -> None:
    _legacy_rows(engine, 3)
    assert log.verify().ok
    assert not lineage.audit.chain_is_keyed(engine)

    _fill(log, 2)

    result = log.verify()
    assert (result.ok, result.checked) == (True, 5)
    assert lineage.audit.chain_is_keyed(engine)


def test_an_edited_legacy_row_is_found_even_with_its_plain_chain_recomputed(
    log: AuditLog, engine: Engine
) -> None:
    _legacy_rows(engine, 3)
    _fill(log, 1)
    _tamper(engine, "UPDATE audit_log SET actor = 'iemand anders' WHERE seq = 2")
    assert log.verify().first_bad_seq == 2  # its plain hash no longer matches

    # Rewritten with the plain chain recomputed: the first keyed row covers the last
    # plain hash, and no one without the key can recompute that row.
    _tamper(engine, "DELETE FROM audit_log WHERE seq <= 3")
    _legacy_rows(engine, 3, actors={2: "iemand anders"})

    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert result.problem is not None
    assert "is niet geketend aan regel 3" in result.problem


def test_a_plain_row_after_keyed_rows_is_a_rewrite(log: AuditLog, engine: Engine) -> None:
    _fill(log, 3)
    last = log.entries()[-1]

    _set_details(engine, 3, dict(last.details), row_hash=_forged(last, dict(last.details), None))

    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert result.problem is not None
    assert "gewone hash na regels met sleutel" in result.problem


def test_verifying_or_appending_needs_the_key(engine: Engine) -> None:
    keyless = AuditLog(engine)
    assert keyless.entries() == []
    with pytest.raises(ConfigurationError, match="heeft zijn sleutel nodig"):
        keyless.verify()
    with pytest.raises(ConfigurationError, match="heeft zijn sleutel nodig"):
        keyless.append("beheerder", "redelivery", "leermiddel", {})
    with pytest.raises(ValueError, match="16 bytes"):
        AuditLog(engine, b"short")


def test_a_head_reads_back_from_its_printout(log: AuditLog) -> None:
    _fill(log, 2)
    head = log.head()
    assert head is not None
    result = log.verify()
    assert result.head == head

    assert AuditHead.parse(f" {head} ") == head
    assert AuditHead.parse(f"{head.seq}:{head.row_hash.upper()}") == head
    for bad in ("", "2", "0:" + "a" * 64, "x:" + "a" * 64, "2:" + "a" * 63, "2:" + "g" * 64):
        with pytest.raises(ValueError, match="SEQ:MAC"):
            AuditHead.parse(bad)


# -- serialised appends -----------------------------------------------------------------


def test_concurrent_appends_never_fork_the_chain(log: AuditLog) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(name: str) -> None:
        try:
            start.wait()
            for i in range(8):
                log.append(name, "delivery_approved", f"d-{name}-{i}", {"n": i})
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    entries = log.entries()
    assert [entry.seq for entry in entries] == list(range(1, 33))
    assert log.verify().ok


# -- what an entry may hold --------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "action", "subject", "details", "match"),
    [
        ("beheerder", "deleted_everything", "x", {}, "action must be one of"),
        ("beheerder", "erasure", "123456", {}, "pupil hash"),
        ("beheerder", "erasure_revoked", "Jan de Vries", {}, "pupil hash"),
        ("beheerder", "redelivery", "Jan de Vries", {}, "subject"),
        ("beheer\nder", "redelivery", "leermiddel", {}, "actor"),
        (" beheerder", "redelivery", "leermiddel", {}, "actor"),
        ("", "redelivery", "leermiddel", {}, "actor"),
        ("beheerder", "redelivery", "leermiddel", {"ratio": 0.5}, "float"),
        ("beheerder", "redelivery", "leermiddel", {"Reason": "x"}, "snake_case"),
        ("beheerder", "redelivery", "leermiddel", {"note": "two\nlines"}, "one printable"),
        ("beheerder", "redelivery", "leermiddel", {"note": "x" * 501}, "500"),
        ("beheerder", "redelivery", "leermiddel", {"drop": "sftp://u:pw@host/x"}, "password"),
        ("beheerder", "redelivery", "leermiddel", {"blob": b"bytes"}, "must be a string"),
        ("beheerder", "redelivery", "leermiddel", ["not", "a", "mapping"], "mapping"),
    ],
)
def test_append_refuses_what_does_not_belong_in_the_log(
    log: AuditLog, actor: str, action: str, subject: str, details: Any, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        log.append(actor, action, subject, details)
    assert log.entries() == []


def test_append_refuses_a_naive_time(log: AuditLog) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        log.append("beheerder", "redelivery", "leermiddel", {}, at=datetime(2025, 9, 1))


def test_an_erasure_subject_is_stored_in_lower_case(log: AuditLog) -> None:
    entry = log.append("beheerder", "erasure", PUPIL.upper(), {"reason_sha256": SHA_A})

    assert entry.subject == PUPIL
    assert log.verify().ok


def test_returned_details_cannot_be_changed(log: AuditLog) -> None:
    entry = log.append("beheerder", "redelivery", "leermiddel", {"files": ["a.csv"]})

    with pytest.raises(TypeError):
        entry.details["files"] = []  # type: ignore[index]


# -- agreement versions ------------------------------------------------------------------


def test_agreement_versions_are_recorded_once_then_only_their_changes(
    log: AuditLog, engine: Engine
) -> None:
    first = record_agreement_versions(
        log, {"rekenapp": SHA_B, "leermiddel": SHA_A}, "beheerder", at=T0
    )

    assert [(e.action, e.subject, dict(e.details)) for e in first] == [
        ("agreement_added", "leermiddel", {"sha256": SHA_A}),
        ("agreement_added", "rekenapp", {"sha256": SHA_B}),
    ]
    assert record_agreement_versions(log, {"leermiddel": SHA_A, "rekenapp": SHA_B}, "x") == []

    later = T0 + timedelta(days=1)
    changes = record_agreement_versions(
        log, {"leermiddel": SHA_A2, "toetsen": SHA_C}, "beheerder", at=later
    )

    assert [(e.action, e.subject, dict(e.details)) for e in changes] == [
        ("agreement_changed", "leermiddel", {"previous_sha256": SHA_A, "sha256": SHA_A2}),
        ("agreement_removed", "rekenapp", {"previous_sha256": SHA_B}),
        ("agreement_added", "toetsen", {"sha256": SHA_C}),
    ]
    assert record_agreement_versions(log, {"leermiddel": SHA_A2, "toetsen": SHA_C}, "x") == []
    with engine.connect() as connection:
        versions = {
            row.supplier: (row.sha256, row.recorded_at)
            for row in connection.execute(
                select(
                    AgreementVersionRecord.supplier,
                    AgreementVersionRecord.sha256,
                    AgreementVersionRecord.recorded_at,
                )
            )
        }
    assert versions == {"leermiddel": (SHA_A2, later), "toetsen": (SHA_C, later)}
    assert [e.seq for e in log.entries()] == [1, 2, 3, 4, 5]
    assert log.verify().ok


def test_a_supplier_added_again_after_removal_is_added(log: AuditLog) -> None:
    record_agreement_versions(log, {"leermiddel": SHA_A}, "beheerder")
    record_agreement_versions(log, {}, "beheerder")

    again = record_agreement_versions(log, {"leermiddel": SHA_A}, "beheerder")

    assert [e.action for e in again] == ["agreement_added"]


def test_agreement_versions_refuse_malformed_input(log: AuditLog) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        record_agreement_versions(log, {"leermiddel": "not-a-hash"}, "beheerder")
    with pytest.raises(ValueError, match="supplier"):
        record_agreement_versions(log, {"Jan de Vries": SHA_A}, "beheerder")
    assert log.entries() == []


# -- schema, engines, actors -------------------------------------------------------------


def test_the_audit_tables_carry_stable_names(engine: Engine) -> None:
    inspector = inspect(engine)

    assert inspector.get_pk_constraint("audit_log")["name"] == "pk_audit_log"
    assert inspector.get_pk_constraint("agreement_versions")["name"] == "pk_agreement_versions"
    assert {c["name"] for c in inspector.get_unique_constraints("audit_log")} == {
        "uq_audit_log_prev_hash"
    }
    assert {c["name"] for c in inspector.get_check_constraints("audit_log")} == {
        "ck_audit_log_action",
        "ck_audit_log_seq",
    }
    assert {i["name"] for i in inspector.get_indexes("audit_log")} >= {"ix_audit_log_subject"}


def test_create_schema_twice_keeps_the_triggers(
    store: LineageStore, log: AuditLog, engine: Engine
) -> None:
    store.create_schema()
    _fill(log, 1)

    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log"))


def test_a_log_made_from_a_url_owns_its_engine(store: LineageStore, lineage_url: str) -> None:
    with AuditLog(lineage_url, AUDIT_KEY) as log:
        log.append("beheerder", "redelivery", "leermiddel", {})
        assert log.verify().checked == 1


def test_an_unreachable_database_is_a_configuration_error() -> None:
    password = "-".join(("Geheim", "42"))
    url = f"postgresql+psycopg://sluis:{password}@127.0.0.1:1/lineage?connect_timeout=2"

    with AuditLog(url) as log, pytest.raises(ConfigurationError) as caught:
        log.entries()

    assert password not in str(caught.value)
    assert "127.0.0.1:1" in str(caught.value)


def test_default_actor_is_the_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "beheerder")
    assert default_actor() == "beheerder"

    def no_user() -> str:
        raise OSError("no user")

    monkeypatch.setattr(getpass, "getuser", no_user)
    with pytest.raises(ConfigurationError, match="actor"):
        default_actor()
