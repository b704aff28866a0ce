"""Keys are never replaced behind Sluis' back: lineage records each key's fingerprint.

A lost or replaced membership, audit or pseudonym key stops a command before it touches
anything, with one line naming the key, where it was expected and how to restore it; a
key is generated only where lineage holds nothing made with it, and `sluis keys rotate`
is the only way to change one.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sluis_cli import sluis_in_process as sluis

from connectors.errors import ConfigurationError
from lineage.key_records import (
    AUDIT_KEY,
    MEMBERSHIP_KEY,
    STATE_KEY,
    fingerprint,
    pseudonym_key,
    recorded_fingerprint,
)
from lineage.rights import erased_hashes, pupil_hash, record_members
from lineage.state import state_key
from lineage.store import LineageStore
from pipelines.keys import (
    audit_source,
    check_run_keys,
    checked_key,
    membership_source,
    pseudonym_source,
    read_key,
    rotate_key,
)
from pipelines.settings import Settings

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("sluis: ") and "Traceback" not in err
    return lines[0]


def _delivery(store: LineageStore, supplier: str, fields: list[str], members: list[str]) -> None:
    run_id = str(uuid.uuid4())
    store.start_run(
        run_id, started_at=NOW, trigger="cli", dry_run=False, parameters={}, sluis_version="t"
    )
    store.record_source(
        run_id,
        school="07XY",
        path="EDEX.XML",
        sha256="0" * 64,
        format="edexml",
        encoding="utf-8",
        pupils_read=len(members),
        schooljaar="2026-2027",
    )
    delivery_id = f"{supplier}:{run_id[:8]}"
    store.record_delivery(
        run_id,
        delivery_id=delivery_id,
        supplier=supplier,
        school="07XY",
        agreement_sha256="1" * 64,
        agreement_reference="VO-1",
        fields=fields,
        mode="full",
        counts={"input": 2, "delivered": 2, "withheld": {}, "quarantined": 0},
        files=[{"name": "b.csv", "sha256": "2" * 64, "rows": 2}],
        manifest_sha256="3" * 64,
        location=f"drop/{supplier}/d1",
        status="delivered",
        created_at=NOW,
    )
    if members:
        record_members(store.engine, delivery_id, members, ["a" * 64] * len(members))
    store.finish_run(run_id, status="completed", finished_at=NOW)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A lineage that delivered pupils 1 and 2 of 07XY and erased pupil 1 (`sluis vergeet`)."""
    folder = tmp_path / "state"
    settings = Settings(state_dir=folder)
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    keys = check_run_keys(settings, store.engine, ())
    members = [pupil_hash(f"07XY:{k}", keys.membership) for k in ("1", "2")]
    _delivery(store, "basispoort", ["eckid", "roepnaam"], members)
    store.dispose()
    code, _, err = sluis(
        "vergeet", "1", "--reden", "verzoek", "--door", "p", "--state", str(folder)
    )
    assert code == 0, err
    return folder


def _store(state: Path) -> LineageStore:
    store = LineageStore(Settings(state_dir=state).lineage_url())
    store.create_schema()
    return store


# -- a lost key ------------------------------------------------------------------------


def test_a_lost_membership_key_stops_every_command_that_needs_it(state: Path) -> None:
    key_file = state / "keys" / "lineage-membership.key"
    key_file.unlink()

    for command in (
        ("inzage", "2", "--state", str(state), "--out", str(state.parent / "o")),
        ("vergeet", "2", "--reden", "verzoek", "--state", str(state)),
    ):
        code, _, err = sluis(*command)
        assert code == 1
        line = one_line(err)
        assert f"de lidmaatschapssleutel ontbreekt: die hoort in {key_file}" in line
        assert "SLUIS_MEMBERSHIP_KEY" in line
        assert "vergeet-opdrachten" in line and "leerlinghashes van leveringen" in line
        assert "zet de sleutel terug uit de back-up" in line
        assert "sluis keys rotate lineage-membership" in line
        # Never generated behind the user's back.
        assert not key_file.exists()
    assert not (state.parent / "o").exists()


def test_a_replaced_membership_key_is_refused(state: Path) -> None:
    key_file = state / "keys" / "lineage-membership.key"
    key_file.write_text("ab" * 32 + "\n", encoding="ascii")

    code, _, err = sluis("inzage", "2", "--state", str(state), "--out", str(state.parent / "o"))

    assert code == 1
    line = one_line(err)
    assert (
        f"de lidmaatschapssleutel in {key_file} is niet de sleutel die de lineage vastlegde" in line
    )
    assert "sluis keys rotate lineage-membership" in line


def test_a_changed_membership_setting_is_refused_naming_the_setting(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUIS_MEMBERSHIP_KEY", "another-key-of-enough-characters")

    code, _, err = sluis("inzage", "2", "--state", str(state), "--out", str(state.parent / "o"))

    assert code == 1
    assert (
        "de lidmaatschapssleutel in de instelling SLUIS_MEMBERSHIP_KEY is niet de sleutel"
        in one_line(err)
    )


def test_a_lost_audit_key_stops_audit_verify_and_vergeet(state: Path) -> None:
    key_file = state / "keys" / "lineage-audit.key"
    key_file.unlink()

    for command in (
        ("audit", "verify", "--state", str(state)),
        ("vergeet", "2", "--reden", "verzoek", "--state", str(state)),
    ):
        code, _, err = sluis(*command)
        assert code == 1
        line = one_line(err)
        assert f"de auditsleutel ontbreekt: die hoort in {key_file}" in line
        assert "regels van het auditlog" in line
    assert not key_file.exists()


def test_a_lost_pseudonym_key_stops_the_run_for_a_supplier_that_received_pseudonyms(
    tmp_path: Path,
) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    store = _store(tmp_path / "state")
    keys = check_run_keys(settings, store.engine, ["onderzoek"])
    _delivery(store, "onderzoek", ["pseudoniem", "geboortejaar"], [])
    pseudonym_source(settings, "onderzoek").path.unlink()

    with pytest.raises(ConfigurationError) as caught:
        check_run_keys(settings, store.engine, ["onderzoek"])

    message = str(caught.value)
    assert "de pseudoniemsleutel van onderzoek ontbreekt" in message
    assert "SLUIS_PSEUDONYM_KEYS[onderzoek]" in message
    assert "leveringen aan onderzoek met pseudoniemen" in message
    # Another supplier's key is not in the way, and the membership key is unchanged.
    again = check_run_keys(settings, store.engine, [])
    assert again.membership == keys.membership
    store.dispose()


# -- generated only where nothing was made with it; adopted from before fingerprints ----


def test_keys_are_generated_for_a_new_lineage_and_recorded_as_fingerprints(
    tmp_path: Path,
) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    store = _store(tmp_path / "state")

    keys = check_run_keys(settings, store.engine, ["onderzoek"])

    assert recorded_fingerprint(store.engine, MEMBERSHIP_KEY) == fingerprint(keys.membership)
    assert recorded_fingerprint(store.engine, STATE_KEY) == fingerprint(state_key(keys.membership))
    assert recorded_fingerprint(store.engine, AUDIT_KEY) == fingerprint(keys.audit)
    onderzoek = keys.pseudonyms["onderzoek"]
    assert recorded_fingerprint(store.engine, pseudonym_key("onderzoek")) == fingerprint(onderzoek)
    for name in ("lineage-membership", "lineage-audit", "onderzoek"):
        path = tmp_path / "state" / "keys" / f"{name}.key"
        assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "state" / "keys").stat().st_mode & 0o777) == "0o700"
    # A fingerprint reveals nothing of the key: no key bytes in the database file.
    data = (tmp_path / "state" / "lineage.db").read_bytes()
    for key in (keys.membership, keys.audit, onderzoek):
        assert key not in data and key.hex().encode() not in data
    # A key lost while nothing was made with it is simply made again.
    membership_source(settings).path.unlink()
    assert check_run_keys(settings, store.engine, []).membership != keys.membership
    store.dispose()


def test_a_key_from_before_fingerprints_is_adopted(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    store = _store(tmp_path / "state")
    keys = check_run_keys(settings, store.engine, [])
    _delivery(store, "basispoort", ["eckid"], [pupil_hash("07XY:1", keys.membership)])
    with store.engine.begin() as connection:  # what a database made before this change holds
        connection.exec_driver_sql("DELETE FROM key_fingerprints")

    again = check_run_keys(settings, store.engine, [])

    assert again.membership == keys.membership
    assert recorded_fingerprint(store.engine, MEMBERSHIP_KEY) == fingerprint(keys.membership)
    store.dispose()


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    store = _store(tmp_path / "state")
    check_run_keys(settings, store.engine, [])
    path = membership_source(settings).path
    path.chmod(0o644)

    with pytest.raises(ConfigurationError, match="is leesbaar voor anderen; voer chmod 600"):
        check_run_keys(settings, store.engine, [])
    store.dispose()


# -- sluis keys rotate --------------------------------------------------------------------


def test_the_membership_key_is_not_rotated_while_erasures_are_active(state: Path) -> None:
    before = (state / "keys" / "lineage-membership.key").read_bytes()

    code, _, err = sluis("keys", "rotate", "lineage-membership", "--state", str(state))

    assert code == 1
    line = one_line(err)
    assert "kan niet geroteerd worden zolang de lineage 1 actieve vergeet-opdracht bevat" in line
    assert "stil zou ophouden te kloppen" in line
    assert (state / "keys" / "lineage-membership.key").read_bytes() == before

    # Once the erasure is ended, it can; the new key is recorded, and the run accepts it.
    assert sluis("vergeet", "1", "--herstel", "--door", "p", "--state", str(state))[0] == 0
    code, out, err = sluis("keys", "rotate", "lineage-membership", "--state", str(state))
    assert code == 0, err
    assert "Nieuwe sleutel voor lineage-membership" in out
    settings = Settings(state_dir=state)
    store = _store(state)
    new = read_key(membership_source(settings))
    assert new is not None and new != bytes.fromhex(before.decode().strip())
    assert recorded_fingerprint(store.engine, MEMBERSHIP_KEY) == fingerprint(new)
    assert recorded_fingerprint(store.engine, STATE_KEY) == fingerprint(state_key(new))
    assert check_run_keys(settings, store.engine, []).membership == new
    store.dispose()
    with sqlite3.connect(state / "lineage.db") as db:
        [(subject, details)] = db.execute(
            "select subject, details from audit_log where action = 'key_rotated'"
        ).fetchall()
    assert subject == "lineage-membership" and fingerprint(new) in details


def test_the_audit_key_is_not_rotated_once_the_log_is_chained_under_it(state: Path) -> None:
    code, _, err = sluis("keys", "rotate", "lineage-audit", "--state", str(state))

    assert code == 1
    assert "de auditsleutel kan niet geroteerd worden" in one_line(err)


def test_a_lost_pseudonym_key_can_be_replaced_on_purpose(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    store = _store(tmp_path / "state")
    check_run_keys(settings, store.engine, ["onderzoek"])
    _delivery(store, "onderzoek", ["pseudoniem"], [])
    pseudonym_source(settings, "onderzoek").path.unlink()

    rotate_key(settings, store.engine, "onderzoek", "ict")

    assert check_run_keys(settings, store.engine, ["onderzoek"]).pseudonyms["onderzoek"]
    store.dispose()


def test_rotating_a_configured_membership_key_records_the_new_setting(tmp_path: Path) -> None:
    old = Settings(state_dir=tmp_path / "state", membership_key=SecretStr("membership-key-one-xx"))
    new = Settings(state_dir=tmp_path / "state", membership_key=SecretStr("membership-key-two-xx"))
    store = _store(tmp_path / "state")
    check_run_keys(old, store.engine, [])
    _delivery(store, "basispoort", ["eckid"], [pupil_hash("07XY:1", b"membership-key-one-xx")])

    with pytest.raises(ConfigurationError, match="de instelling SLUIS_MEMBERSHIP_KEY is niet"):
        check_run_keys(new, store.engine, [])
    with pytest.raises(ConfigurationError, match="bevat nog de sleutel die de lineage vastlegde"):
        rotate_key(old, store.engine, "lineage-membership", "ict")
    assert rotate_key(new, store.engine, "lineage-membership", "ict") == (
        "de instelling SLUIS_MEMBERSHIP_KEY"
    )

    assert check_run_keys(new, store.engine, []).membership == b"membership-key-two-xx"
    assert erased_hashes(store.engine) == frozenset()
    assert audit_source(new).path.exists()
    store.dispose()


def test_a_generated_key_and_the_folders_made_for_it_are_for_the_owner_only(
    tmp_path: Path,
) -> None:
    state = tmp_path / "srv" / "state"
    store = LineageStore(f"sqlite:///{tmp_path / 'db' / 'lineage.db'}")
    store.create_schema()
    source = pseudonym_source(Settings(state_dir=state), "onderzoek")
    previous = os.umask(0o022)
    try:
        key = checked_key(store.engine, source)
    finally:
        os.umask(previous)
        store.dispose()
    assert len(key) == 32
    assert stat.S_IMODE((state / "keys" / "onderzoek.key").stat().st_mode) == 0o600
    for folder in (tmp_path / "srv", state, state / "keys"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
