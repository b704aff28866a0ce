"""Key fingerprints and what lineage holds made with each key, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from lineage.audit import AuditLog
from lineage.key_records import (
    AUDIT_KEY,
    MEMBERSHIP_KEY,
    STATE_KEY,
    fingerprint,
    made_with,
    pseudonym_key,
    record_fingerprint,
    recorded_fingerprint,
)
from lineage.rights import erase, pupil_hash
from lineage.store import LineageStore

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
KEY = b"a key of sixteen bytes or more"


def _delivery(store: LineageStore, supplier: str, fields: list[str], status: str) -> None:
    run_id = str(uuid.uuid4())
    store.start_run(
        run_id, started_at=T0, trigger="cli", dry_run=False, parameters={}, sluis_version="t"
    )
    store.record_delivery(
        run_id,
        delivery_id=f"{supplier}:{run_id[:8]}",
        supplier=supplier,
        school="07XY",
        agreement_sha256="1" * 64,
        agreement_reference="VO-1",
        fields=fields,
        mode="full",
        counts={"input": 1, "delivered": 1, "withheld": {}, "quarantined": 0},
        files=[],
        manifest_sha256=None,
        location=None,
        status=status,
        created_at=T0,
    )


def test_a_fingerprint_is_a_keyed_digest_of_a_label_not_the_key() -> None:
    assert len(fingerprint(KEY)) == 64
    assert fingerprint(KEY) != fingerprint(KEY + b"!")
    assert KEY.hex() not in fingerprint(KEY)


def test_fingerprints_are_recorded_by_compare_and_set(store: LineageStore) -> None:
    engine = store.engine
    assert recorded_fingerprint(engine, MEMBERSHIP_KEY) is None

    assert record_fingerprint(engine, MEMBERSHIP_KEY, "a" * 64, T0, replacing=None) == "a" * 64
    # A second process that also saw nothing loses, and learns what is recorded.
    assert record_fingerprint(engine, MEMBERSHIP_KEY, "b" * 64, T0, replacing=None) == "a" * 64
    assert record_fingerprint(engine, MEMBERSHIP_KEY, "b" * 64, T0, replacing="c" * 64) == "a" * 64
    assert record_fingerprint(engine, MEMBERSHIP_KEY, "b" * 64, T0, replacing="a" * 64) == "b" * 64
    assert recorded_fingerprint(engine, MEMBERSHIP_KEY) == "b" * 64


def test_what_lineage_holds_made_with_each_key(store: LineageStore) -> None:
    engine = store.engine
    for name in (MEMBERSHIP_KEY, STATE_KEY, AUDIT_KEY, pseudonym_key("onderzoek")):
        assert made_with(engine, name) == []

    _delivery(store, "onderzoek", ["pseudoniem", "geboortejaar"], "dry_run")
    _delivery(store, "basispoort", ["eckid", "pseudoniem_x"], "delivered")
    assert made_with(engine, pseudonym_key("onderzoek")) == []  # a dry run sent nothing
    assert made_with(engine, pseudonym_key("basispoort")) == []  # no pseudoniem field
    assert made_with(engine, MEMBERSHIP_KEY) == ["leveringen"]

    _delivery(store, "onderzoek", ["geboortejaar", "pseudoniem"], "delivered")
    assert made_with(engine, pseudonym_key("onderzoek")) == [
        "leveringen aan onderzoek met pseudoniemen"
    ]

    erase(engine, pupil_hash("07XY:1", KEY), "privacy", "verzoek", T0, audit_key=KEY)
    assert made_with(engine, MEMBERSHIP_KEY) == ["vergeet-opdrachten", "leveringen"]
    assert made_with(engine, AUDIT_KEY) == ["regels van het auditlog"]
    assert AuditLog(engine, KEY).verify().ok
