"""Parents' rights from the command line: inzage, vergeet (and --herstel), audit verify."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sluis_cli import sluis_in_process as sluis

from lineage.rights import erased_hashes, pupil_hash, record_members
from lineage.store import LineageStore
from pipelines.keys import (
    checked_key,
    membership_secret,
    membership_source,
    pseudonym_source,
    read_key,
)
from pipelines.settings import Settings


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
    assert "geleverd op: 27 november 2026" in html
    sluis("inzage", "2", "--state", str(state), "--out", str(tmp_path / "o"))
    other = json.loads((tmp_path / "o" / "inzage-2.json").read_text(encoding="utf-8"))
    assert other["suppliers"][0]["changed_on"] == []


def _export(tmp_path: Path, *keys: str, brin: str = "07XY") -> Path:
    """A current EDEXML export of school `brin` holding the pupils `keys`."""
    pupils = "".join(
        f"<leerling key='{key}'><achternaam>Jansen</achternaam><roepnaam>Sem</roepnaam>"
        "<geboortedatum>2019-05-01</geboortedatum><jaargroep>3</jaargroep>"
        "<groep key='G3'/></leerling>\n"
        for key in keys
    )
    folder = tmp_path / "export"
    folder.mkdir(exist_ok=True)
    path = folder / "EDEX.XML"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<EDEX>\n<school><schooljaar>2026-2027'
        f"</schooljaar><brincode>{brin}</brincode></school>\n<groepen><groep key='G3'>"
        "<naam>Groep 3</naam><jaargroep>3</jaargroep></groep></groepen>\n<leerlingen>\n"
        f"{pupils}</leerlingen>\n</EDEX>\n",
        encoding="utf-8",
    )
    return path


def _one_line(err: str) -> None:
    assert err.startswith("sluis: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("key", "school"), [("1", "07xy"), (" 1", "07XY"), ("1 ", " 07xY "), ("1", None)]
)
def test_inzage_matches_the_key_and_the_school_as_people_type_them(
    state: Path, tmp_path: Path, key: str, school: str | None
) -> None:
    where = ["--school", school] if school is not None else []
    code, out, err = sluis("inzage", key, *where, "--state", str(state), "--out", str(tmp_path))
    assert code == 0, err
    report = json.loads((tmp_path / "inzage-1.json").read_text(encoding="utf-8"))
    assert (report["leerlingkey"], report["school"]) == ("1", "07XY")
    assert [s["supplier"] for s in report["suppliers"]] == ["basispoort"]
    assert "1 leverancier." in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["99"], "kent dit leerlingnummer niet op school 07XY"),
        (["1", "--school", "99XX"], "kent geen school '99XX'"),
        (["1", "--school", "../.."], "kent geen school"),
    ],
)
def test_inzage_for_a_pupil_or_school_sluis_never_saw_says_so(
    state: Path, tmp_path: Path, args: list[str], expected: str
) -> None:
    code, _, err = sluis("inzage", *args, "--state", str(state), "--out", str(tmp_path / "o"))
    assert code == 1
    _one_line(err)
    assert expected in err
    assert not (tmp_path / "o").exists()  # no report that says "nothing was shared"


def test_a_pupil_in_the_export_but_never_delivered_has_an_empty_report(
    state: Path, tmp_path: Path
) -> None:
    export = _export(tmp_path, "1", "2", "3")
    code, _, err = sluis(
        "inzage", "3", "--source", str(export), "--state", str(state), "--out", str(tmp_path)
    )
    assert code == 0, err
    report = json.loads((tmp_path / "inzage-3.json").read_text(encoding="utf-8"))
    assert all(section["dates"] == [] for section in report["suppliers"])
    html = (tmp_path / "inzage-3.html").read_text(encoding="utf-8")
    assert "Geleverd op: nog nooit" in html


def test_vergeet_with_a_lower_case_brin_erases_the_pupil_the_runs_know(
    state: Path, tmp_path: Path
) -> None:
    settings = Settings(state_dir=state)
    member = pupil_hash("07XY:1", membership_secret(settings))
    code, out, err = sluis(
        "vergeet", " 1 ", "--reden", "verzoek", "--school", "07xy", "--state", str(state)
    )
    assert code == 0, err
    assert "Leerling 1 (07XY)" in out
    store = LineageStore(settings.lineage_url())
    # The runs withhold by this hash (policy.apply.member_ids of the canonical BRIN).
    assert member in erased_hashes(store.engine)
    store.dispose()
    code, _, _ = sluis(
        "inzage", "1", "--school", "07xy", "--state", str(state), "--out", str(tmp_path)
    )
    assert code == 0
    report = json.loads((tmp_path / "inzage-1.json").read_text(encoding="utf-8"))
    assert report["erasure"]["aangevraagd_op"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["999999"], "kent dit leerlingnummer niet op school 07XY"),
        (["1", "--school", "99XX"], "kent geen school '99XX'"),
    ],
)
def test_vergeet_refuses_a_pupil_or_school_sluis_does_not_know(
    state: Path, args: list[str], expected: str
) -> None:
    code, out, err = sluis("vergeet", *args, "--reden", "verzoek", "--state", str(state))
    assert code == 1
    _one_line(err)
    assert expected in err
    assert "999999" not in err  # the key is not repeated into logs
    assert out == ""
    with sqlite3.connect(state / "lineage.db") as db:
        assert db.execute("select count(*) from erasures").fetchone() == (0,)
        assert db.execute("select count(*) from audit_log").fetchone() == (0,)


def test_vergeet_accepts_a_pupil_the_export_holds_or_one_that_is_expected(
    state: Path, tmp_path: Path
) -> None:
    settings = Settings(state_dir=state)
    secret = membership_secret(settings)
    export = _export(tmp_path, "1", "2", "3")
    base = ["--reden", "verzoek", "--state", str(state)]
    assert sluis("vergeet", "3", "--source", str(export), *base)[0] == 0
    assert sluis("vergeet", "4", "--source", str(export), *base)[0] == 1
    assert sluis("vergeet", "4", "--verwacht", *base)[0] == 0
    assert sluis("vergeet", "5", "--school", "11nu", "--verwacht", *base)[0] == 0
    assert sluis("vergeet", "5", "--school", "x/y", "--verwacht", *base)[0] == 1
    store = LineageStore(settings.lineage_url())
    erased = erased_hashes(store.engine)
    store.dispose()
    wanted = {pupil_hash(p, secret) for p in ("07XY:3", "07XY:4", "11NU:5")}
    assert erased == wanted
    # Twice is one line, not a traceback.
    code, _, err = sluis("vergeet", "3", *base)
    assert code == 1
    _one_line(err)
    assert "is al vergeten" in err


def test_vergeet_records_the_request_and_herstel_ends_it(state: Path) -> None:
    settings = Settings(state_dir=state)
    member = pupil_hash("07XY:1", membership_secret(settings))
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
    assert "auditlog gebroken bij regel 1" in err


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
    assert "geen gegenereerde sleutel om te roteren" in err
