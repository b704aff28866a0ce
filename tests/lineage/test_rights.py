"""Parents' rights: memberships, erasures and purges, with pupils known only by keyed hash."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from lineage.audit import AuditLog, lineage_engine
from lineage.rights import (
    DeliveryMemberRecord,
    Erasure,
    PupilDelivery,
    deliveries_for_pupil,
    erase,
    erased_hashes,
    get_erasure,
    pupil_hash,
    purge_before,
    record_members,
    revoke,
)
from lineage.store import Base, LineageStore

T0 = datetime(2025, 9, 1, 2, 0, tzinfo=UTC)
SECRET = b"0123456789abcdef-test-secret"
AUDIT_KEY = b"audit-key-of-the-rights-tests"
# A fixed run id: then every value in the database is fixed, and the raw-key search below
# cannot be fooled by a random hex string that happens to contain the key.
RUN_ID = str(uuid.UUID(int=1))
AGREEMENT_SHA = hashlib.sha256(b"contracts/suppliers/leermiddel.yaml").hexdigest()
FILE_SHA = hashlib.sha256(b"leerlingen.csv").hexdigest()
REASON = "Wij verhuizen naar het buitenland; graag niets meer doorgeven aan leveranciers."


@pytest.fixture
def engine(store: LineageStore, lineage_url: str) -> Iterator[Engine]:
    """An engine on the store's database, whose schema (with the rights tables) exists."""
    raw = lineage_engine(lineage_url)
    try:
        yield raw
    finally:
        raw.dispose()


@pytest.fixture
def run(store: LineageStore) -> str:
    store.start_run(
        RUN_ID,
        started_at=T0,
        trigger="cli",
        dry_run=False,
        parameters={},
        sluis_version="0.1.0",
    )
    return RUN_ID


def _deliver(
    store: LineageStore,
    run_id: str,
    delivery_id: str,
    *,
    supplier: str = "leermiddel",
    created_at: datetime = T0,
    fields: tuple[str, ...] = ("leerlingkey", "roepnaam", "jaargroep"),
    status: str = "delivered",
) -> str:
    store.record_delivery(
        run_id,
        delivery_id=delivery_id,
        supplier=supplier,
        school="12AB",
        agreement_sha256=AGREEMENT_SHA,
        agreement_reference=f"VO-2025-{supplier}",
        fields=list(fields),
        mode="full",
        counts={"input": 3, "delivered": 3, "withheld": {}, "quarantined": 0},
        files=[{"name": "leerlingen.csv", "sha256": FILE_SHA, "rows": 3}],
        manifest_sha256=None,
        location=None,
        status=status,
        created_at=created_at,
    )
    return delivery_id


def _hashes(*keys: str) -> list[str]:
    return [pupil_hash(key, SECRET) for key in keys]


def _member_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(DeliveryMemberRecord)
        ).scalar_one()


# -- the pupil hash ----------------------------------------------------------------------


def test_pupil_hash_is_an_hmac_of_the_key() -> None:
    expected = hmac.new(SECRET, b"123456", hashlib.sha256).hexdigest()

    assert pupil_hash("123456", SECRET) == expected
    assert pupil_hash("123456", SECRET) != pupil_hash("123456", SECRET + b"x")
    assert pupil_hash("123456", SECRET) != pupil_hash("123457", SECRET)
    assert len(expected) == 64


@pytest.mark.parametrize(
    ("key", "secret", "match"),
    [("", SECRET, "key"), ("123456", b"short", "16 bytes"), ("123456", "text", "16 bytes")],
)
def test_pupil_hash_refuses_an_empty_key_or_a_weak_secret(
    key: str, secret: Any, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        pupil_hash(key, secret)


# -- memberships -------------------------------------------------------------------------


def test_memberships_round_trip(store: LineageStore, engine: Engine, run: str) -> None:
    first = _deliver(store, run, "leermiddel-12AB-1", created_at=T0)
    second = _deliver(
        store,
        run,
        "rekenapp-12AB-1",
        supplier="rekenapp",
        created_at=T0 + timedelta(minutes=1),
        fields=("pseudoniem", "jaargroep"),
    )
    anna, bram, cas = _hashes("1001", "1002", "1003")

    # Recorded in the other order on purpose: the answer is ordered by time.
    assert record_members(engine, second, [anna, cas]) == 2
    assert record_members(engine, first, [anna, bram, bram]) == 2

    assert deliveries_for_pupil(engine, anna) == [
        PupilDelivery(
            delivery_id=first,
            supplier="leermiddel",
            school="12AB",
            created_at=T0,
            fields=("leerlingkey", "roepnaam", "jaargroep"),
            agreement_reference="VO-2025-leermiddel",
            status="delivered",
        ),
        PupilDelivery(
            delivery_id=second,
            supplier="rekenapp",
            school="12AB",
            created_at=T0 + timedelta(minutes=1),
            fields=("pseudoniem", "jaargroep"),
            agreement_reference="VO-2025-rekenapp",
            status="delivered",
        ),
    ]
    assert [d.delivery_id for d in deliveries_for_pupil(engine, bram)] == [first]
    assert [d.delivery_id for d in deliveries_for_pupil(engine, cas.upper())] == [second]
    assert deliveries_for_pupil(engine, pupil_hash("9999", SECRET)) == []


def test_memberships_refuse_a_raw_key(store: LineageStore, engine: Engine, run: str) -> None:
    delivery = _deliver(store, run, "leermiddel-12AB-1")

    with pytest.raises(ValueError, match="64 hex"):
        record_members(engine, delivery, [*_hashes("1001"), "123456"])
    with pytest.raises(ValueError, match="not one string"):
        record_members(engine, delivery, pupil_hash("1001", SECRET))
    with pytest.raises(ValueError, match="64 hex"):
        deliveries_for_pupil(engine, "123456")
    assert _member_count(engine) == 0


def test_memberships_need_a_recorded_delivery_and_are_recorded_once(
    store: LineageStore, engine: Engine, run: str
) -> None:
    delivery = _deliver(store, run, "leermiddel-12AB-1")

    with pytest.raises(ValueError, match="was not recorded"):
        record_members(engine, "leermiddel-12AB-9", _hashes("1001"))
    assert record_members(engine, delivery, _hashes("1001", "1002")) == 2
    with pytest.raises(ValueError, match="already recorded"):
        record_members(engine, delivery, _hashes("1003", "1002"))
    assert _member_count(engine) == 2
    assert record_members(engine, delivery, []) == 0


def test_many_members_are_recorded_in_batches(
    store: LineageStore, engine: Engine, run: str
) -> None:
    delivery = _deliver(store, run, "leermiddel-12AB-1")
    hashes = _hashes(*(str(n) for n in range(12_000)))

    assert record_members(engine, delivery, iter(hashes)) == 12_000
    assert _member_count(engine) == 12_000


# -- erasure -----------------------------------------------------------------------------


def test_erase_and_revoke(engine: Engine, store: LineageStore) -> None:
    anna, bram = _hashes("1001", "1002")
    log = AuditLog(engine, AUDIT_KEY)

    erased = erase(engine, anna, "privacy-officer", REASON, T0, audit_key=AUDIT_KEY)
    erase(
        engine,
        bram,
        "privacy-officer",
        "Bezwaar tegen verwerking",
        T0 + timedelta(hours=1),
        audit_key=AUDIT_KEY,
    )

    assert erased_hashes(engine) == frozenset({anna, bram})
    assert (erased.action, erased.subject, dict(erased.details)) == (
        "erasure",
        anna,
        {"reason_sha256": hashlib.sha256(REASON.encode()).hexdigest()},
    )
    assert get_erasure(engine, anna) == Erasure(
        pupil_hash=anna,
        requested_at=T0,
        actor="privacy-officer",
        reason=REASON,
        revoked_at=None,
        revoked_by=None,
    )
    with pytest.raises(ValueError, match="al vergeten"):
        erase(engine, anna, "privacy-officer", REASON, T0, audit_key=AUDIT_KEY)

    revoked = revoke(engine, anna, "directeur", T0 + timedelta(days=2), audit_key=AUDIT_KEY)

    assert erased_hashes(engine) == frozenset({bram})
    assert (revoked.action, revoked.subject, revoked.actor) == (
        "erasure_revoked",
        anna,
        "directeur",
    )
    stored = get_erasure(engine, anna)
    assert stored is not None
    assert (stored.revoked_at, stored.revoked_by) == (T0 + timedelta(days=2), "directeur")
    with pytest.raises(ValueError, match="geen actieve vergeet-opdracht"):
        revoke(engine, anna, "directeur", T0 + timedelta(days=3), audit_key=AUDIT_KEY)
    with pytest.raises(ValueError, match="geen actieve vergeet-opdracht"):
        revoke(engine, pupil_hash("9999", SECRET), "directeur", T0, audit_key=AUDIT_KEY)

    erase(
        engine,
        anna,
        "privacy-officer",
        "Opnieuw verzocht",
        T0 + timedelta(days=4),
        audit_key=AUDIT_KEY,
    )

    assert erased_hashes(engine) == frozenset({anna, bram})
    again = get_erasure(engine, anna)
    assert again is not None
    assert (again.reason, again.revoked_at, again.revoked_by) == ("Opnieuw verzocht", None, None)
    assert get_erasure(engine, pupil_hash("9999", SECRET)) is None
    assert [(e.action, e.subject) for e in log.entries()] == [
        ("erasure", anna),
        ("erasure", bram),
        ("erasure_revoked", anna),
        ("erasure", anna),
    ]
    assert log.verify().ok


def test_erasure_refuses_malformed_input(engine: Engine, store: LineageStore) -> None:
    anna = pupil_hash("1001", SECRET)

    with pytest.raises(ValueError, match="64 hex"):
        erase(engine, "123456", "privacy-officer", REASON, T0, audit_key=AUDIT_KEY)
    with pytest.raises(ValueError, match="de reden"):
        erase(engine, anna, "privacy-officer", "   ", T0, audit_key=AUDIT_KEY)
    with pytest.raises(ValueError, match="de reden"):
        erase(engine, anna, "privacy-officer", "x" * 2001, T0, audit_key=AUDIT_KEY)
    with pytest.raises(ValueError, match="actor"):
        erase(engine, anna, "", REASON, T0, audit_key=AUDIT_KEY)
    with pytest.raises(ValueError, match="timezone-aware"):
        erase(engine, anna, "privacy-officer", REASON, datetime(2025, 9, 1), audit_key=AUDIT_KEY)
    assert erased_hashes(engine) == frozenset()
    assert AuditLog(engine).entries() == []


def test_a_multi_line_reason_is_kept_as_given(engine: Engine, store: LineageStore) -> None:
    anna = pupil_hash("1001", SECRET)
    reason = "Verzoek per brief van 1 september.\nOuder: zie dossier."

    erase(engine, anna, "privacy-officer", reason, T0, audit_key=AUDIT_KEY)

    stored = get_erasure(engine, anna)
    assert stored is not None
    assert stored.reason == reason


# -- retention ---------------------------------------------------------------------------


def test_purge_removes_old_memberships_only(store: LineageStore, engine: Engine, run: str) -> None:
    old = _deliver(store, run, "leermiddel-12AB-1", created_at=T0)
    older = _deliver(store, run, "rekenapp-12AB-1", supplier="rekenapp", created_at=T0)
    empty = _deliver(store, run, "toetsen-12AB-1", supplier="toetsen", created_at=T0)
    new = _deliver(store, run, "leermiddel-12AB-2", created_at=T0 + timedelta(days=30))
    anna, bram, cas = _hashes("1001", "1002", "1003")
    record_members(engine, old, [anna, bram, cas])
    record_members(engine, older, [anna, bram])
    record_members(engine, new, [anna])
    erase(engine, bram, "privacy-officer", REASON, T0, audit_key=AUDIT_KEY)
    assert empty

    counts = purge_before(engine, T0 + timedelta(days=30))

    assert counts == {"deliveries": 2, "delivery_members": 5}
    assert [d.delivery_id for d in deliveries_for_pupil(engine, anna)] == [new]
    assert deliveries_for_pupil(engine, bram) == []
    assert len(store.deliveries_for_run(run)) == 4
    assert erased_hashes(engine) == frozenset({bram})
    assert purge_before(engine, T0 + timedelta(days=30)) == {
        "deliveries": 0,
        "delivery_members": 0,
    }
    with pytest.raises(ValueError, match="timezone-aware"):
        purge_before(engine, datetime(2025, 10, 1))


# -- what the database holds -------------------------------------------------------------


def _dump(engine: Engine) -> str:
    """Every value of every table, as text."""
    lines = []
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                lines.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(lines)


def test_the_database_never_holds_the_raw_key(
    store: LineageStore, engine: Engine, run: str, lineage_url: str
) -> None:
    key = "123456"
    member = pupil_hash(key, SECRET)
    delivery = _deliver(store, run, "leermiddel-12AB-1")
    record_members(engine, delivery, [member, *_hashes("1001", "1002")])
    erase(engine, member, "privacy-officer", REASON, T0, audit_key=AUDIT_KEY)
    revoke(engine, member, "privacy-officer", T0 + timedelta(days=1), audit_key=AUDIT_KEY)
    erase(engine, member, "privacy-officer", REASON, T0 + timedelta(days=2), audit_key=AUDIT_KEY)
    store.finish_run(run, status="completed", finished_at=T0 + timedelta(hours=1))

    dump = _dump(engine)

    assert member in dump
    assert key not in dump
    # The parent's reason is kept with the request, and only its hash in the audit log.
    audit_rows = [line for line in dump.splitlines() if line.startswith("audit_log:")]
    assert len(audit_rows) == 3
    assert not any("buitenland" in line for line in audit_rows)
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        database = Path(str(make_url(lineage_url).database))
        raw = b"".join(path.read_bytes() for path in database.parent.iterdir() if path.is_file())
        assert member.encode() in raw
        assert key.encode() not in raw


def test_the_rights_tables_carry_stable_names_and_no_pupil_columns(engine: Engine) -> None:
    inspector = inspect(engine)

    assert {c["name"] for c in inspector.get_columns("delivery_members")} == {
        "delivery_id",
        "pupil_hash",
        "row_hash",
    }
    assert {c["name"] for c in inspector.get_columns("erasures")} == {
        "pupil_hash",
        "requested_at",
        "actor",
        "reason",
        "revoked_at",
        "revoked_by",
    }
    assert inspector.get_pk_constraint("delivery_members")["name"] == "pk_delivery_members"
    assert inspector.get_pk_constraint("erasures")["name"] == "pk_erasures"
    assert [fk["name"] for fk in inspector.get_foreign_keys("delivery_members")] == [
        "fk_delivery_members_delivery_id_deliveries"
    ]
    assert {i["name"] for i in inspector.get_indexes("delivery_members")} >= {
        "ix_delivery_members_pupil_hash"
    }
    assert {c["name"] for c in inspector.get_check_constraints("erasures")} == {
        "ck_erasures_revoked"
    }
