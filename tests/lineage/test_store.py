"""The lineage store records what went where, on SQLite and PostgreSQL, and refuses values."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, create_engine, inspect, select

from connectors.errors import ConfigurationError
from lineage.migrate import VERSION_TABLE
from lineage.store import (
    DeliveredFile,
    DeliveryCounts,
    DeliveryRecord,
    LineageStore,
    QuarantineSnapshot,
    RunRecord,
    SourceSnapshot,
)

T0 = datetime(2025, 9, 1, 2, 0, tzinfo=UTC)
AGREEMENT_SHA = hashlib.sha256(b"contracts/suppliers/leermiddel.yaml").hexdigest()
MANIFEST_SHA = hashlib.sha256(b"manifest.json").hexdigest()
FILE_SHA = hashlib.sha256(b"leerlingen.csv").hexdigest()
SOURCE_SHA = hashlib.sha256(b"export.xml").hexdigest()
# Assembled at run time: a traceback shows source lines, and a literal there would be
# found in the rendered traceback whether or not the store leaked it.
PASSWORD = "-".join(("Geheim", "Wachtwoord", "42"))
PARAMETERS: dict[str, Any] = {
    "suppliers": ["leermiddel", "rekenapp"],
    "source": "data/samples/edexml",
    "drop": "drop",
    "batch_size": 50,
}


def _start(store: LineageStore, *, at: datetime = T0, dry_run: bool = False) -> str:
    run_id = str(uuid.uuid4())
    store.start_run(
        run_id,
        started_at=at,
        trigger="cli",
        dry_run=dry_run,
        parameters=PARAMETERS,
        sluis_version="0.1.0",
    )
    return run_id


def _delivery(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "delivery_id": f"leermiddel-12AB-{uuid.uuid4().hex[:8]}",
        "supplier": "leermiddel",
        "school": "12AB",
        "agreement_sha256": AGREEMENT_SHA,
        "agreement_reference": "VO-2025-017",
        "fields": ["leerlingkey", "roepnaam", "jaargroep", "groepsnaam"],
        "mode": "full",
        "counts": {
            "input": 10,
            "delivered": 6,
            "withheld": {"no_consent": 2, "left_school": 1},
            "quarantined": 1,
        },
        "files": [{"name": "leerlingen.csv", "sha256": FILE_SHA, "rows": 6}],
        "manifest_sha256": MANIFEST_SHA,
        "location": "drop/leermiddel/2025-09-01T020000Z-12AB",
        "status": "delivered",
        "created_at": T0 + timedelta(minutes=1),
    }
    values.update(overrides)
    return values


@pytest.fixture
def engine(store: LineageStore, lineage_url: str) -> Iterator[Engine]:
    """A plain engine on the store's database, to look past the store's own API."""
    raw = create_engine(lineage_url)
    try:
        yield raw
    finally:
        raw.dispose()


# -- a run, start to finish -------------------------------------------------------------


def test_a_full_run_round_trips_through_the_store(store: LineageStore) -> None:
    run_id = _start(store)
    store.record_source(
        run_id,
        school="12AB",
        path="data/samples/edexml/12AB/export.xml",
        sha256=SOURCE_SHA,
        format="edexml",
        encoding="utf-8",
        pupils_read=10,
        schooljaar="2025-2026",
    )
    store.record_quarantine(
        run_id,
        school="12AB",
        counts=[("geboortedatum", "not_nullable", "error", 1), (None, "unique", "warning", 2)],
    )
    delivery = _delivery()
    store.record_delivery(run_id, **delivery)
    running = store.get_run(run_id)
    assert running is not None
    assert running.status == "running"
    store.finish_run(run_id, status="completed", finished_at=T0 + timedelta(minutes=2))

    run = store.get_run(run_id)
    assert run is not None
    assert run.run_id == run_id
    assert (run.started_at, run.finished_at) == (T0, T0 + timedelta(minutes=2))
    assert (run.status, run.trigger, run.dry_run) == ("completed", "cli", False)
    assert (run.sluis_version, run.message) == ("0.1.0", None)
    assert run.parameters == PARAMETERS

    assert store.sources_for_run(run_id) == [
        SourceSnapshot(
            run_id=run_id,
            school="12AB",
            path="data/samples/edexml/12AB/export.xml",
            sha256=SOURCE_SHA,
            format="edexml",
            encoding="utf-8",
            pupils_read=10,
            schooljaar="2025-2026",
        )
    ]
    assert store.quarantine_for_run(run_id) == [
        QuarantineSnapshot(run_id, "12AB", "geboortedatum", "not_nullable", "error", 1),
        QuarantineSnapshot(run_id, "12AB", None, "unique", "warning", 2),
    ]
    [stored] = store.deliveries_for_run(run_id)
    assert stored.delivery_id == delivery["delivery_id"]
    assert (stored.run_id, stored.supplier, stored.school) == (run_id, "leermiddel", "12AB")
    assert (stored.agreement_sha256, stored.agreement_reference) == (AGREEMENT_SHA, "VO-2025-017")
    assert stored.fields == ("leerlingkey", "roepnaam", "jaargroep", "groepsnaam")
    assert stored.mode == "full"
    assert stored.counts == DeliveryCounts(
        input=10, delivered=6, withheld={"no_consent": 2, "left_school": 1}, quarantined=1
    )
    assert stored.files == (DeliveredFile("leerlingen.csv", FILE_SHA, 6),)
    assert (stored.manifest_sha256, stored.location) == (MANIFEST_SHA, delivery["location"])
    assert (stored.status, stored.created_at) == ("delivered", T0 + timedelta(minutes=1))


def test_a_run_without_a_finish_record_is_still_running(store: LineageStore) -> None:
    run_id = _start(store, dry_run=True)

    run = store.get_run(run_id)
    assert run is not None
    assert (run.status, run.finished_at, run.dry_run) == ("running", None, True)


def test_a_failed_run_keeps_a_one_line_message(store: LineageStore) -> None:
    run_id = _start(store)

    store.finish_run(
        run_id,
        status="failed",
        finished_at=T0 + timedelta(seconds=5),
        message="drop folder not writable:\n  drop/leermiddel\tpermission denied",
    )

    run = store.get_run(run_id)
    assert run is not None
    assert run.status == "failed"
    assert run.message == "drop folder not writable: drop/leermiddel permission denied"


def test_timestamps_come_back_aware_in_utc_whatever_zone_they_were_written_in(
    store: LineageStore,
) -> None:
    amsterdam = datetime(2025, 9, 1, 4, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    run_id = _start(store, at=amsterdam)
    store.record_delivery(run_id, **_delivery(created_at=amsterdam + timedelta(minutes=1)))
    store.finish_run(run_id, status="completed", finished_at=amsterdam + timedelta(minutes=2))

    run = store.get_run(run_id)
    [delivery] = store.deliveries_for_run(run_id)
    assert run is not None
    assert run.started_at == T0
    assert run.finished_at is not None
    for moment in (run.started_at, run.finished_at, delivery.created_at):
        assert moment.utcoffset() == timedelta(0)
    assert delivery.created_at == T0 + timedelta(minutes=1)


def test_run_ids_are_stored_in_canonical_form(store: LineageStore) -> None:
    run_id = str(uuid.uuid4())
    store.start_run(
        run_id.upper(),
        started_at=T0,
        trigger="schedule",
        dry_run=False,
        parameters={},
        sluis_version="0.1.0",
    )

    run = store.get_run(run_id)
    assert run is not None
    assert run.run_id == run_id


def test_an_unknown_run_reads_as_nothing(store: LineageStore) -> None:
    unknown = str(uuid.uuid4())

    assert store.get_run(unknown) is None
    assert store.deliveries_for_run(unknown) == []
    assert store.quarantine_for_run(unknown) == []
    assert store.sources_for_run(unknown) == []


# -- last_delivery ---------------------------------------------------------------------


def test_last_delivery_picks_the_newest_delivered_one(store: LineageStore) -> None:
    first = _start(store, at=T0)
    second = _start(store, at=T0 + timedelta(days=1))
    at = T0 + timedelta(days=1, hours=1)
    # Recorded out of time order, so the answer cannot come from insertion order.
    store.record_delivery(second, **_delivery(delivery_id="newest", created_at=at))
    store.record_delivery(first, **_delivery(delivery_id="oldest", created_at=T0))
    store.record_delivery(
        first, **_delivery(delivery_id="middle", created_at=at - timedelta(hours=12))
    )
    # Newer, but not a delivery the supplier holds, or not for this supplier and school.
    for delivery_id, status in (("later-failed", "failed"), ("later-dry", "dry_run")):
        store.record_delivery(
            second,
            **_delivery(delivery_id=delivery_id, status=status, created_at=at + timedelta(1)),
        )
    store.record_delivery(
        second,
        **_delivery(
            delivery_id="later-empty",
            status="nothing_to_deliver",
            counts={"input": 0, "delivered": 0, "withheld": {}, "quarantined": 0},
            files=[],
            created_at=at + timedelta(hours=2),
        ),
    )
    store.record_delivery(
        second, **_delivery(delivery_id="other-school", school="34CD", created_at=at + timedelta(2))
    )
    store.record_delivery(
        second,
        **_delivery(
            delivery_id="other-supplier", supplier="rekenapp", created_at=at + timedelta(3)
        ),
    )

    last = store.last_delivery("leermiddel", "12AB")

    assert last is not None
    assert (last.delivery_id, last.run_id, last.created_at) == ("newest", second, at)


def test_last_delivery_is_none_before_anything_was_delivered(store: LineageStore) -> None:
    run_id = _start(store)
    store.record_delivery(run_id, **_delivery(status="dry_run"))

    assert store.last_delivery("leermiddel", "12AB") is None


# -- the guard: names, counts and hashes only --------------------------------------------

REFUSED_DELIVERIES = {
    "capitalised field": {"fields": ["Achternaam"]},
    "value as field": {"fields": ["jan de vries"]},
    "field with punctuation": {"fields": ["roepnaam;geboortedatum"]},
    "non-string field": {"fields": [20150314]},
    "repeated field": {"fields": ["roepnaam", "roepnaam"]},
    "fields as one string": {"fields": "roepnaam"},
    "string count": {"counts": {"input": "10", "delivered": 10, "withheld": {}, "quarantined": 0}},
    "float count": {"counts": {"input": 10.0, "delivered": 10, "withheld": {}, "quarantined": 0}},
    "bool count": {"counts": {"input": True, "delivered": 1, "withheld": {}, "quarantined": 0}},
    "negative count": {
        "counts": {"input": 0, "delivered": 1, "withheld": {"x": -1}, "quarantined": 0}
    },
    "reason that is a value": {
        "counts": {"input": 1, "delivered": 0, "withheld": {"Jan de Vries": 1}, "quarantined": 0}
    },
    "extra count key": {
        "counts": {"input": 1, "delivered": 1, "withheld": {}, "quarantined": 0, "namen": 0}
    },
    "missing count key": {"counts": {"input": 1, "delivered": 1, "withheld": {}}},
    "unbalanced counts": {"counts": {"input": 9, "delivered": 6, "withheld": {}, "quarantined": 1}},
    "short agreement hash": {"agreement_sha256": AGREEMENT_SHA[:63]},
    "agreement hash not hex": {"agreement_sha256": "z" * 64},
    "manifest hash that is a name": {"manifest_sha256": "Jan de Vries"},
    "file hash not hex": {"files": [{"name": "a.csv", "sha256": "g" * 64, "rows": 1}]},
    "file rows as string": {"files": [{"name": "a.csv", "sha256": FILE_SHA, "rows": "6"}]},
    "file name with a path": {"files": [{"name": "../a.csv", "sha256": FILE_SHA, "rows": 6}]},
    "file with extra key": {
        "files": [{"name": "a.csv", "sha256": FILE_SHA, "rows": 6, "first_row": "Jan"}]
    },
    "supplier with spaces": {"supplier": "Jan de Vries"},
    "school with spaces": {"school": "de Regenboog"},
    "delivery id with spaces": {"delivery_id": "Jan de Vries"},
    "unknown status": {"status": "sent"},
    "unknown mode": {"mode": "incremental"},
    "location with a password": {"location": "sftp://sluis:geheim@sftp.example.nl/in"},
    "location over two lines": {"location": "drop/a\nJan de Vries"},
    "naive timestamp": {"created_at": datetime(2025, 9, 1, 2, 0)},
}


@pytest.mark.parametrize("overrides", REFUSED_DELIVERIES.values(), ids=REFUSED_DELIVERIES.keys())
def test_record_delivery_refuses_anything_but_names_counts_and_hashes(
    store: LineageStore, overrides: dict[str, Any]
) -> None:
    run_id = _start(store)

    with pytest.raises(ValueError, match=r"must|repeat"):
        store.record_delivery(run_id, **_delivery(**overrides))

    assert store.deliveries_for_run(run_id) == []


def test_a_failed_delivery_may_have_counts_that_do_not_add_up(store: LineageStore) -> None:
    run_id = _start(store)
    counts = {"input": 10, "delivered": 0, "withheld": {}, "quarantined": 0}

    store.record_delivery(
        run_id, **_delivery(status="failed", counts=counts, files=[], manifest_sha256=None)
    )

    [stored] = store.deliveries_for_run(run_id)
    assert (stored.status, stored.counts.input, stored.manifest_sha256) == ("failed", 10, None)


def test_upper_case_hashes_are_stored_lower_case(store: LineageStore) -> None:
    run_id = _start(store)

    store.record_delivery(run_id, **_delivery(agreement_sha256=AGREEMENT_SHA.upper()))

    [stored] = store.deliveries_for_run(run_id)
    assert stored.agreement_sha256 == AGREEMENT_SHA


REFUSED_QUARANTINE = {
    "value as column": ("Jan de Vries", "not_nullable", "error", 1),
    "capitalised column": ("Roepnaam", "not_nullable", "error", 1),
    "string count": ("roepnaam", "not_nullable", "error", "1"),
    "float count": ("roepnaam", "not_nullable", "error", 1.0),
    "negative count": ("roepnaam", "not_nullable", "error", -1),
    "unknown severity": ("roepnaam", "not_nullable", "fatal", 1),
    "failure message over lines": ("roepnaam", "str_length\nfailure cases: Jan", "error", 1),
    "empty rule": ("roepnaam", "", "error", 1),
    "too short": ("roepnaam", "not_nullable", "error"),
}


@pytest.mark.parametrize("entry", REFUSED_QUARANTINE.values(), ids=REFUSED_QUARANTINE.keys())
def test_record_quarantine_refuses_anything_but_names_and_counts(
    store: LineageStore, entry: Any
) -> None:
    run_id = _start(store)
    good = ("geboortedatum", "not_nullable", "error", 3)

    with pytest.raises(ValueError, match="must"):
        store.record_quarantine(run_id, school="12AB", counts=[good, entry])

    assert store.quarantine_for_run(run_id) == [], "a refused batch records nothing"


def test_record_source_refuses_a_bad_hash_or_count(store: LineageStore) -> None:
    run_id = _start(store)
    source: dict[str, Any] = {
        "school": "12AB",
        "path": "export.xml",
        "sha256": SOURCE_SHA,
        "format": "edexml",
        "encoding": "utf-8",
        "pupils_read": 10,
        "schooljaar": "2025-2026",
    }

    for bad in ({"sha256": "0" * 40}, {"pupils_read": "10"}, {"schooljaar": "25/26"}):
        with pytest.raises(ValueError, match="must"):
            store.record_source(run_id, **(source | bad))

    assert store.sources_for_run(run_id) == []


@pytest.mark.parametrize(
    "parameters",
    [
        {"db": "postgresql://sluis:geheim@db.example.nl/lineage"},
        {"nested": {"drops": ["sftp://sluis:geheim@sftp.example.nl/in"]}},
        {"key": object()},
        {"ratio": float("nan")},
        {1: "non-string key"},
    ],
    ids=["password url", "nested password url", "object", "nan", "int key"],
)
def test_start_run_refuses_parameters_that_are_not_plain_and_secret_free(
    store: LineageStore, parameters: dict[Any, Any]
) -> None:
    run_id = str(uuid.uuid4())

    with pytest.raises(ValueError, match="parameters must"):
        store.start_run(
            run_id,
            started_at=T0,
            trigger="cli",
            dry_run=False,
            parameters=parameters,
            sluis_version="0.1.0",
        )

    assert store.get_run(run_id) is None


# -- the run's life cycle is enforced --------------------------------------------------


def test_nothing_is_recorded_for_a_run_after_its_finish(store: LineageStore) -> None:
    run_id = _start(store)
    store.finish_run(run_id, status="completed", finished_at=T0 + timedelta(minutes=1))

    with pytest.raises(ValueError, match="already finished"):
        store.record_delivery(run_id, **_delivery())
    with pytest.raises(ValueError, match="already finished"):
        store.record_quarantine(run_id, school="12AB", counts=[(None, "unique", "error", 1)])
    with pytest.raises(ValueError, match="already finished"):
        store.finish_run(run_id, status="failed", finished_at=T0 + timedelta(minutes=2))

    run = store.get_run(run_id)
    assert run is not None
    assert run.status == "completed"
    assert store.deliveries_for_run(run_id) == []


def test_nothing_is_recorded_for_a_run_that_was_never_started(store: LineageStore) -> None:
    unknown = str(uuid.uuid4())

    with pytest.raises(ValueError, match="was not started"):
        store.record_delivery(unknown, **_delivery())
    with pytest.raises(ValueError, match="was not started"):
        store.finish_run(unknown, status="completed", finished_at=T0)


def test_a_run_starts_once_and_a_delivery_is_recorded_once(store: LineageStore) -> None:
    run_id = _start(store)
    delivery = _delivery()
    store.record_delivery(run_id, **delivery)

    with pytest.raises(ValueError, match="already started"):
        store.start_run(
            run_id,
            started_at=T0,
            trigger="cli",
            dry_run=False,
            parameters={},
            sluis_version="0.1.0",
        )
    with pytest.raises(ValueError, match="already recorded"):
        store.record_delivery(run_id, **delivery)


@pytest.mark.parametrize(
    "change",
    [
        {"status": "running"},
        {"status": "done"},
        {"finished_at": datetime(2025, 9, 1, 3, 0)},
    ],
    ids=["running", "unknown status", "naive timestamp"],
)
def test_finish_run_takes_only_an_end_status_and_an_aware_time(
    store: LineageStore, change: dict[str, Any]
) -> None:
    run_id = _start(store)
    finish: dict[str, Any] = {"status": "completed", "finished_at": T0 + timedelta(hours=1)}

    with pytest.raises(ValueError, match="must"):
        store.finish_run(run_id, **(finish | change))


def test_a_run_id_must_be_a_uuid(store: LineageStore) -> None:
    with pytest.raises(ValueError, match="UUID"):
        store.start_run(
            "Jan de Vries",
            started_at=T0,
            trigger="cli",
            dry_run=False,
            parameters={},
            sluis_version="0.1.0",
        )


# -- what the tables can hold ------------------------------------------------------------

EXPECTED_COLUMNS = {
    "runs": {
        "run_id",
        "started_at",
        "finished_at",
        "status",
        "trigger",
        "dry_run",
        "sluis_version",
        "message",
        "parameters",
        # the audit log's head when the run ended (lineage.audit_anchors)
        "audit_seq",
        "audit_mac",
        "heartbeat_at",
    },
    "run_sources": {
        "id",
        "run_id",
        "school",
        "path",
        "sha256",
        "format",
        "encoding",
        "pupils_read",
        "schooljaar",
    },
    "deliveries": {
        "delivery_id",
        "run_id",
        "supplier",
        "school",
        "agreement_sha256",
        "agreement_reference",
        "fields",
        "mode",
        "counts",
        "files",
        "manifest_sha256",
        "location",
        "status",
        "created_at",
    },
    "quarantine_counts": {"id", "run_id", "school", "column", "rule", "severity", "count"},
    # lineage.audit
    "audit_log": {
        "seq",
        "at",
        "actor",
        "action",
        "subject",
        "details",
        "prev_hash",
        "row_hash",
    },
    "agreement_versions": {"supplier", "sha256", "recorded_at"},
    # the audit log's last row, moved with every append: an anchor outside audit_log
    "audit_head": {"id", "seq", "row_hash"},
    # lineage.key_records: a fingerprint (HMAC of a fixed label) of each key, never the key
    "key_fingerprints": {"name", "fingerprint", "recorded_at"},
    # lineage.rights: pupils only as keyed hashes
    "delivery_members": {"delivery_id", "pupil_hash", "row_hash"},
    "erasures": {"pupil_hash", "requested_at", "actor", "reason", "revoked_at", "revoked_by"},
    # lineage.state: what each supplier holds, as keyed hashes; `ref` is AES-GCM ciphertext;
    # `kind` says whether a row is a pupil or a teacher of the delivered groups
    "supplier_state": {
        "supplier",
        "school",
        "pupil_hash",
        "row_hash",
        "ref",
        "delivery_id",
        "kind",
    },
    "supplier_state_pending": {"delivery_id", "pupil_hash", "row_hash", "ref", "kind"},
    "drop_removals": {"delivery_id", "removed_at"},
    # lineage.locks: one sync per school at a time
    "run_locks": {"school", "run_id", "acquired_at", "expires_at", "heartbeat_at"},
}

# Canonical pupil columns and the sensitive source columns (ARCHITECTURE.md).
PUPIL_COLUMNS = {
    "leerlingkey",
    "eckid",
    "achternaam",
    "voorvoegsel",
    "voornamen",
    "voorletters",
    "roepnaam",
    "geboortedatum",
    "geboortejaar",
    "geslacht",
    "emailadres",
    "bsn",
    "onderwijsnummer",
    "etniciteit",
    "postcode",
    "pseudoniem",
    "toevoegingen",
}


def test_the_schema_has_the_documented_columns_and_none_for_pupil_values(
    engine: Engine,
) -> None:
    inspector = inspect(engine)

    columns = {
        table: {column["name"] for column in inspector.get_columns(table)}
        for table in inspector.get_table_names()
        if table != VERSION_TABLE
    }

    # A new column is a privacy question first: this test makes it an explicit change.
    assert columns == EXPECTED_COLUMNS
    every_column = set().union(*columns.values())
    assert not {name for name in every_column if any(word in name for word in PUPIL_COLUMNS)}


def test_indexes_and_constraints_carry_stable_names_for_migrations(engine: Engine) -> None:
    inspector = inspect(engine)

    for table in EXPECTED_COLUMNS:
        assert inspector.get_pk_constraint(table)["name"] == f"pk_{table}"
        for foreign_key in inspector.get_foreign_keys(table):
            referred = foreign_key["referred_table"]
            column = foreign_key["constrained_columns"][0]
            assert foreign_key["name"] == f"fk_{table}_{column}_{referred}"
    assert {index["name"] for index in inspector.get_indexes("deliveries")} == {
        "ix_deliveries_run_id",
        "ix_deliveries_supplier_school_created_at",
        "ix_deliveries_status_supplier_school",
    }
    checks = {check["name"] for check in inspector.get_check_constraints("deliveries")}
    assert checks == {"ck_deliveries_status", "ck_deliveries_mode"}


def test_json_columns_hold_exactly_what_was_passed(store: LineageStore, engine: Engine) -> None:
    run_id = _start(store)
    delivery = _delivery()
    store.record_delivery(run_id, **delivery)
    store.finish_run(run_id, status="completed", finished_at=T0 + timedelta(minutes=5))

    with engine.connect() as connection:
        parameters = connection.scalars(
            select(RunRecord.__table__.c.parameters).where(RunRecord.__table__.c.run_id == run_id)
        ).one()
        row = connection.execute(
            select(
                DeliveryRecord.__table__.c.fields,
                DeliveryRecord.__table__.c.counts,
                DeliveryRecord.__table__.c.files,
            )
        ).one()

    assert parameters == PARAMETERS
    assert row.fields == delivery["fields"]
    assert row.counts == delivery["counts"]
    assert row.files == delivery["files"]


# -- connecting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "where"),
    [
        (f"postgresql+psycopg://sluis:{PASSWORD}@127.0.0.1:1/sluisdb", "127.0.0.1:1"),
        (f"postgresql://sluis:{PASSWORD}@127.0.0.1:1/sluisdb", "127.0.0.1:1"),
    ],
    ids=["psycopg", "default driver"],
)
def test_an_unreachable_database_is_named_by_dialect_and_host_never_by_password(
    url: str, where: str
) -> None:
    store = LineageStore(url)
    try:
        with pytest.raises(ConfigurationError) as raised:
            store.create_schema()
    finally:
        store.dispose()

    message = str(raised.value)
    assert "postgresql" in message
    assert where in message
    assert "controleer" in message, "the message says how to fix it"
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
    # The whole traceback as a log handler would print it: frames, chain and message.
    rendered = "".join(traceback.format_exception(raised.value))
    for secret in (PASSWORD, "sluis:", "sluisdb"):
        assert secret not in rendered


def test_an_unparseable_url_is_a_configuration_error_that_does_not_echo_it() -> None:
    url = f"not a url, {PASSWORD}"

    with pytest.raises(ConfigurationError) as raised:
        LineageStore(url)

    assert PASSWORD not in "".join(traceback.format_exception(raised.value))


def test_an_unknown_driver_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="niet geïnstalleerd"):
        LineageStore(f"nosuchdb://sluis:{PASSWORD}@127.0.0.1/lineage")


def test_a_sqlite_store_creates_its_folder_and_works_as_a_context_manager(
    tmp_path: Path,
) -> None:
    database = tmp_path / "a" / "b" / "lineage.db"

    with LineageStore(f"sqlite:///{database}") as store:
        store.create_schema()
        run_id = _start(store)

    assert database.is_file()
    with LineageStore(f"sqlite:///{database}") as reopened:
        assert reopened.get_run(run_id) is not None


def test_the_sqlite_database_and_its_wal_files_are_for_the_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        store = LineageStore(f"sqlite:///{tmp_path / 'state' / 'lineage.db'}")
        store.create_schema()
        with store.engine.connect():  # WAL and shared-memory files exist while connected
            _start(store)
            files = sorted((tmp_path / "state").iterdir())
            modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in files}
        store.dispose()
    finally:
        os.umask(previous)
    assert modes == {"lineage.db": 0o600, "lineage.db-shm": 0o600, "lineage.db-wal": 0o600}
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700


def test_a_server_that_never_answers_is_given_up_on_in_one_line(tmp_path: Path) -> None:
    # The kernel completes the TCP handshake for a listening socket nobody accepts on,
    # and the client then waits for a greeting that never comes: without a connect
    # timeout that wait has no end. Run in a child, so that a hang fails the test.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        probe = (
            "import lineage.engine as engine\n"
            "import lineage.store as store\n"
            "engine.CONNECT_TIMEOUT_SECONDS = 2\n"
            "from connectors.errors import ConfigurationError\n"
            "try:\n"
            f"    store.LineageStore('postgresql+psycopg://sluis@127.0.0.1:{port}/x').create_schema()\n"
            "except ConfigurationError as exc:\n"
            "    print(exc)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    assert result.stdout.startswith(
        f"geen verbinding met de lineage-database (postgresql op 127.0.0.1:{port})"
    )
    assert "Traceback" not in result.stderr
