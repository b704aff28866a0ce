"""`sluis audit verify` finds an edited row, removed last rows and a rechained log.

Each attack is made as someone with direct database access would: the append-only
triggers are dropped first. The log is checked against the head recorded with every
entry, the heads runs recorded, and a head kept elsewhere (`--head`, a printout).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sluis_cli import sluis_in_process as sluis

from lineage.audit import GENESIS_HASH
from lineage.audit_anchors import anchor_run
from lineage.store import LineageStore
from pipelines.keys import audit_log
from pipelines.settings import Settings

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A run that recorded its head after two entries, then an erasure and an approval."""
    folder = tmp_path / "state"
    settings = Settings(state_dir=folder)
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    log = audit_log(settings, store.engine)
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
        pupils_read=1,
        schooljaar="2026-2027",
    )
    log.append("cli", "agreement_added", "basispoort", {"sha256": "1" * 64}, at=NOW)
    log.append("cli", "agreement_added", "rekenapp", {"sha256": "2" * 64}, at=NOW)
    anchor_run(store.engine, run_id, log.head())
    store.finish_run(run_id, status="completed", finished_at=NOW)
    store.dispose()
    # No delivery names pupil 1: the erasure is for a pupil expected in a later export.
    code, _, err = sluis(
        "vergeet", "1", "--verwacht", "--reden", "verzoek", "--door", "p", "--state", str(folder)
    )
    assert code == 0, err
    store = LineageStore(settings.lineage_url())
    audit_log(settings, store.engine).append("ict", "delivery_approved", "basispoort:d1", {})
    store.dispose()
    return folder


def _sql(state: Path, *statements: str | tuple[str, tuple[object, ...]]) -> None:
    with sqlite3.connect(state / "lineage.db") as db:
        for (name,) in db.execute("select name from sqlite_master where type='trigger'").fetchall():
            db.execute(f"drop trigger {name}")
        for statement in statements:
            sql, params = (statement, ()) if isinstance(statement, str) else statement
            db.execute(sql, params)


def _head(state: Path) -> str:
    code, out, err = sluis("audit", "verify", "--state", str(state))
    assert code == 0, err
    assert "Auditlog intact: 4 regels gecontroleerd." in out
    line = next(x for x in out.splitlines() if x.startswith("Kop van het auditlog: "))
    return line.removeprefix("Kop van het auditlog: ").split(" ")[0]


def _broken(state: Path, *args: str) -> str:
    code, out, err = sluis("audit", "verify", "--state", str(state), *args)
    assert code == 1, out
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("sluis: auditlog gebroken bij regel ")
    return lines[0]


def test_verify_prints_the_head_to_keep_and_accepts_it_back(state: Path) -> None:
    head = _head(state)
    seq, mac = head.split(":")
    assert seq == "4" and len(mac) == 64

    code, out, _ = sluis("audit", "verify", "--state", str(state), "--head", head)
    assert code == 0 and "Auditlog intact" in out
    code, _, err = sluis("audit", "verify", "--state", str(state), "--head", "4:nothex")
    assert code == 2 and "--head: een kop is SEQ:MAC" in err


def test_an_edited_actor_is_found(state: Path) -> None:
    _sql(state, "update audit_log set actor = 'iemand anders' where seq = 3")

    assert "auditlog gebroken bij regel 3: regel 3 is gewijzigd" in _broken(state)


def test_removing_the_erasure_and_the_approval_at_the_end_is_found(state: Path) -> None:
    # The case: deleting the last rows verified as "Auditlog intact".
    _sql(state, "delete from audit_log where seq >= 3")

    line = _broken(state)
    assert "het log eindigt bij regel 2, maar de kop bij de laatste regel is regel 4" in line


def test_removed_last_rows_with_every_anchor_in_the_database_moved_back_need_the_printout(
    state: Path,
) -> None:
    printed = _head(state)
    with sqlite3.connect(state / "lineage.db") as db:
        [(second,)] = db.execute("select row_hash from audit_log where seq = 2").fetchall()
    _sql(
        state,
        "delete from audit_log where seq >= 3",
        ("update audit_head set seq = 2, row_hash = ?", (second,)),
    )

    assert sluis("audit", "verify", "--state", str(state))[0] == 0
    line = _broken(state, "--head", printed)
    assert "maar de eerder bewaarde kop is regel 4: er zijn regels van het einde verwijderd" in line


def test_a_log_rechained_with_plain_sha256_is_found_against_the_runs_anchor(state: Path) -> None:
    with sqlite3.connect(state / "lineage.db") as db:
        rows = db.execute(
            "select seq, at, action, subject, details from audit_log order by seq"
        ).fetchall()
    statements: list[str | tuple[str, tuple[object, ...]]] = ["delete from audit_log"]
    prev = GENESIS_HASH
    for seq, at, action, subject, details in rows:
        # The documented canonical form, recomputed without the key, as main's chain was.
        payload = {
            "seq": seq,
            "at": datetime.fromisoformat(at).replace(tzinfo=UTC).isoformat(timespec="microseconds"),
            "actor": "iemand anders",
            "action": action,
            "subject": subject,
            "details": json.loads(details),
            "prev_hash": prev,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        row_hash = hashlib.sha256(text.encode("ascii")).hexdigest()
        statements.append(
            (
                "insert into audit_log (seq, at, actor, action, subject, details, prev_hash, "
                "row_hash) values (?, ?, 'iemand anders', ?, ?, ?, ?, ?)",
                (seq, at, action, subject, details, prev, row_hash),
            )
        )
        prev = row_hash
    statements.append(("update audit_head set seq = ?, row_hash = ?", (rows[-1][0], prev)))
    _sql(state, *statements)

    line = _broken(state)
    assert "is niet de regel die de kop die run" in line
    assert "het log is tot daar herschreven" in line
