"""Parents' rights from the command line: inzage, vergeet (and --herstel), audit verify."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lineage.rights import erased_hashes, pupil_hash, record_members
from lineage.store import LineageStore
from pipelines.cli import main
from pipelines.keys import checked_key, membership_source, pseudonym_source, read_key
from pipelines.settings import Settings


def sluis(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    argv, sys.argv = sys.argv, ["sluis", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A lineage database with one delivery to basispoort that held pupils 1 and 2."""
    folder = tmp_path / "state"
    settings = Settings(state_dir=folder)
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    secret = checked_key(store.engine, membership_source(settings))  # generated: a new lineage
    run_id = str(uuid.uuid4())
    now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    store.start_run(
        run_id, started_at=now, trigger="cli", dry_run=False, parameters={}, sluis_version="test"
    )
    store.record_source(
        run_id,
        school="07XY",
        path="EDEX.XML",
        sha256="0" * 64,
        format="edexml",
        encoding="utf-8",
        pupils_read=2,
        schooljaar="2026-2027",
    )
    store.record_delivery(
        run_id,
        delivery_id="basispoort:d1",
        supplier="basispoort",
        school="07XY",
        agreement_sha256="1" * 64,
        agreement_reference="Verwerkersovereenkomst Basispoort",
        fields=["eckid", "roepnaam"],
        mode="full",
        counts={"input": 2, "delivered": 2, "withheld": {}, "quarantined": 0},
        files=[{"name": "b.csv", "sha256": "2" * 64, "rows": 2}],
        manifest_sha256="3" * 64,
        location="drop/basispoort/d1",
        status="delivered",
        created_at=now,
    )
    one, two = pupil_hash("07XY:1", secret), pupil_hash("07XY:2", secret)
    record_members(store.engine, "basispoort:d1", [one, two], ["a" * 64, "b" * 64])
    # A week later pupil 1's row changed (a corrected name), pupil 2's did not.
    later = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    store.record_delivery(
        run_id,
        delivery_id="basispoort:d2",
        supplier="basispoort",
        school="07XY",
        agreement_sha256="1" * 64,
        agreement_reference="Verwerkersovereenkomst Basispoort",
        fields=["eckid", "roepnaam"],
        mode="full",
        counts={"input": 2, "delivered": 2, "withheld": {}, "quarantined": 0},
        files=[{"name": "b.csv", "sha256": "4" * 64, "rows": 2}],
        manifest_sha256="5" * 64,
        location="drop/basispoort/d2",
        status="delivered",
        created_at=later,
    )
    record_members(store.engine, "basispoort:d2", [one, two], ["c" * 64, "b" * 64])
    store.finish_run(run_id, status="completed", finished_at=later)
    store.dispose()
    return folder


def test_inzage_lists_what_was_shared_with_whom_in_dutch(state: Path, tmp_path: Path) -> None:
    code, _out, err = sluis("inzage", "1", "--state", str(state), "--out", str(tmp_path / "o"))
    assert code == 0, err
    report = json.loads((tmp_path / "o" / "inzage-1.json").read_text(encoding="utf-8"))
    assert report["school"] == "07XY"
    [section] = report["suppliers"]
    assert section["supplier"] == "basispoort"
    assert section["dates"] == ["2026-11-20", "2026-11-27"]
    assert section["changed_on"] == ["2026-11-27"]
    assert {"naam": "roepnaam", "omschrijving": "roepnaam (voornaam)"} in section["fields"]
    assert section["basis"] == "overeenkomst met de school"
    html = (tmp_path / "o" / "inzage-1.html").read_text(encoding="utf-8")
    assert "Welke gegevens over leerling 1 zijn gedeeld?" in html
    assert "geleverd op: 2026-11-27" in html
    sluis("inzage", "2", "--state", str(state), "--out", str(tmp_path / "o"))
    other = json.loads((tmp_path / "o" / "inzage-2.json").read_text(encoding="utf-8"))
    assert other["suppliers"][0]["changed_on"] == []


def test_a_pupil_never_delivered_has_an_empty_report(state: Path, tmp_path: Path) -> None:
    code, _, _ = sluis("inzage", "99", "--state", str(state), "--out", str(tmp_path / "o"))
    assert code == 0
    report = json.loads((tmp_path / "o" / "inzage-99.json").read_text(encoding="utf-8"))
    assert report["suppliers"] == []


def test_vergeet_records_the_request_and_herstel_ends_it(state: Path) -> None:
    settings = Settings(state_dir=state)
    member = pupil_hash("07XY:1", settings.membership_secret())
    store = LineageStore(settings.lineage_url())
    assert sluis("vergeet", "1", "--state", str(state))[0] == 2  # a reason is required
    code, out, err = sluis(
        "vergeet", "1", "--reden", "verzoek ouders", "--door", "privacy", "--state", str(state)
    )
    assert code == 0, err
    assert member in erased_hashes(store.engine)
    code, _, _ = sluis("vergeet", "1", "--herstel", "--door", "privacy", "--state", str(state))
    assert code == 0
    assert member not in erased_hashes(store.engine)
    code, out, _ = sluis("audit", "verify", "--state", str(state))
    assert code == 0
    assert "Auditlog intact: 2 regels gecontroleerd." in out
    store.dispose()
    # The reason is kept with the request, never in the audit log.
    with sqlite3.connect(state / "lineage.db") as db:
        details = " ".join(r[0] for r in db.execute("select details from audit_log"))
    assert "verzoek ouders" not in details


def test_audit_verify_detects_an_edited_entry(state: Path) -> None:
    sluis("vergeet", "2", "--reden", "verzoek", "--door", "privacy", "--state", str(state))
    with sqlite3.connect(state / "lineage.db") as db:
        for (name,) in db.execute("select name from sqlite_master where type='trigger'").fetchall():
            db.execute(f"drop trigger {name}")
        db.execute("update audit_log set actor = 'iemand anders' where seq = 1")
    code, _, err = sluis("audit", "verify", "--state", str(state))
    assert code == 1
    assert "audit log broken at entry 1" in err


def test_rotating_a_key_changes_it_and_is_audited(state: Path) -> None:
    settings = Settings(state_dir=state)
    store = LineageStore(settings.lineage_url())
    before = checked_key(store.engine, pseudonym_source(settings, "onderzoek"))
    store.dispose()
    code, _, err = sluis("keys", "rotate", "onderzoek", "--door", "ict", "--state", str(state))
    assert code == 0, err
    after = read_key(pseudonym_source(settings, "onderzoek"))
    assert after is not None and after != before
    assert oct((state / "keys" / "onderzoek.key").stat().st_mode & 0o777) == "0o600"
    with sqlite3.connect(state / "lineage.db") as db:
        actions = [r[0] for r in db.execute("select action from audit_log")]
    assert actions == ["key_rotated"]
    code, _, err = sluis("keys", "rotate", "nobody", "--state", str(state))
    assert code == 1
    assert "no generated key to rotate" in err
