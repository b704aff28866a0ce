"""The run's staging area: validated schools on disk, references between tasks (issue 12.1).

What travels between the flow and its tasks is a StagedSchool: paths, hashes, counts and
the school header. The frames wait in 0600 Arrow IPC files under <state>/staging/<run>/,
come back exactly as they went in, and a file changed or lost since is refused.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import stat
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from connectors.errors import StagingError
from connectors.staging import run_folder, sweep
from connectors.synthetic import write_samples
from contracts.agreements import BUNDLED_AGREEMENTS, load_agreement_set
from contracts.staged import StagedSchool
from pipelines.plan import discover_schools
from pipelines.reconcile import sweep_own_staging
from pipelines.settings import Settings
from pipelines.work import gaps_frame, prepare_schools, stage_schools
from policy.format_needs import format_gaps

REPO = Path(__file__).resolve().parents[2]
TODAY = date(2026, 12, 3)
RUN = "0f7e8a2c-5b1d-4c3e-9a8f-7d6e5c4b3a21"


def _frames(school: object) -> dict[str, pd.DataFrame]:
    return {
        "pupils": school.pupils,  # type: ignore[attr-defined]
        "groups": school.groups,  # type: ignore[attr-defined]
        "consents": school.consents,  # type: ignore[attr-defined]
        "problems": school.problems,  # type: ignore[attr-defined]
        "unreadable_consents": school.unreadable_consents,  # type: ignore[attr-defined]
        "teachers": school.export.teachers,  # type: ignore[attr-defined]
    }


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled samples beside three synthetic schools (combination groups, leavers...)."""
    root = tmp_path_factory.mktemp("source")
    for school in (REPO / "data" / "samples").iterdir():
        if school.is_dir():
            (root / school.name).mkdir()
            for path in school.iterdir():
                (root / school.name / path.name).write_bytes(path.read_bytes())
    write_samples(root, schools=3, pupils_per_school=60, seed=11)
    return root


@pytest.fixture(scope="module")
def agreements() -> list:
    return [loaded.agreement for loaded in load_agreement_set(BUNDLED_AGREEMENTS).agreements]


def _stage(source: Path, state: Path, agreements: list) -> list[StagedSchool]:
    state.mkdir(exist_ok=True)
    inputs = discover_schools(source, None, "toestemmingen.csv")
    return stage_schools(
        inputs,
        today=TODAY,
        folder=run_folder(state, RUN) / "batch-00000",
        root=state,
        agreements=agreements,
    )


def test_a_staged_school_comes_back_exactly_as_it_was_validated(
    source: Path, tmp_path: Path, agreements: list
) -> None:
    inputs = discover_schools(source, None, "toestemmingen.csv")
    in_memory = prepare_schools(inputs, today=TODAY)
    staged = _stage(source, tmp_path / "state", agreements)
    assert [s.brincode for s in staged] == [s.brincode for s in in_memory]
    assert len(staged) == 5
    for before, ref in zip(in_memory, staged, strict=True):
        after = ref.load()
        for name, frame in _frames(before).items():
            back = _frames(after)[name]
            pd.testing.assert_frame_equal(back, frame, check_exact=True)
            assert list(back.dtypes) == list(frame.dtypes), name
            assert type(back.index) is type(frame.index), name
        assert after.school == before.school
        assert (after.input_pupils, after.quarantined_pupils) == (
            before.input_pupils,
            before.quarantined_pupils,
        )
        assert after.reference_date == before.reference_date
        assert (after.export.path, after.export.sha256, after.export.notes) == (
            before.export.path,
            before.export.sha256,
            before.export.notes,
        )


def test_the_format_gaps_are_staged_per_agreement_as_policy_finds_them(
    source: Path, tmp_path: Path, agreements: list
) -> None:
    inputs = discover_schools(source, None, "toestemmingen.csv")
    in_memory = prepare_schools(inputs, today=TODAY)
    staged = _stage(source, tmp_path / "state", agreements)
    found = 0
    for index, agreement in enumerate(agreements):
        for before, ref in zip(in_memory, staged, strict=True):
            expected = format_gaps([before], [agreement], TODAY)
            assert ref.has(gaps_frame(index)) == (not expected.empty)
            if not expected.empty:
                found += 1
                pd.testing.assert_frame_equal(ref.frame(gaps_frame(index)), expected)
    assert found, "the samples hold pupils a format cannot carry (rekenapp: no ECK iD)"


def test_what_travels_to_a_task_holds_no_pupil_value(
    source: Path, tmp_path: Path, agreements: list
) -> None:
    staged = _stage(source, tmp_path / "state", agreements)
    in_memory = prepare_schools(discover_schools(source, None, "toestemmingen.csv"), today=TODAY)
    names = {
        value
        for school in in_memory
        for column in ("achternaam", "roepnaam", "geboortedatum")
        for value in school.pupils[column].dropna().astype(str)
        if len(value) > 3
    }
    assert names
    travelling = pickle.dumps(staged)
    assert [n for n in names if n.encode() in travelling] == []
    # ... while the staged files hold them: the frames wait there, and only there.
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "state").rglob("*.arrow"))
    assert all(n.encode() in on_disk for n in names)


def test_staging_is_for_the_owner_only_whatever_the_umask(
    source: Path, tmp_path: Path, agreements: list
) -> None:
    old = os.umask(0o022)
    try:
        _stage(source, tmp_path / "state", agreements)
    finally:
        os.umask(old)
    below = list((tmp_path / "state" / "staging").rglob("*"))
    assert any(p.is_file() for p in below)
    for path in [tmp_path / "state" / "staging", *below]:
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.lstat().st_mode) == expected, path


def test_a_staged_file_changed_since_validation_is_refused_by_name(
    source: Path, tmp_path: Path, agreements: list
) -> None:
    first = _stage(source, tmp_path / "state", agreements)[0]
    path = first.folder / "pupils.arrow"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StagingError) as raised:
        first.load()
    message = str(raised.value)
    assert str(path) in message and "veranderd" in message
    assert "Traceback" not in message


def test_a_staged_file_that_is_gone_is_refused_by_name(
    source: Path, tmp_path: Path, agreements: list
) -> None:
    first = _stage(source, tmp_path / "state", agreements)[0]
    (first.folder / "groups.arrow").unlink()
    with pytest.raises(StagingError, match=r"groups\.arrow"):
        first.load()


def test_a_killed_runs_staging_is_swept_and_a_live_runs_kept(tmp_path: Path) -> None:
    state = tmp_path / "state"
    dead, live = RUN, "1a2b3c4d-0000-4000-8000-000000000000"
    for run in (dead, live):
        folder = run_folder(state, run) / "batch-00000" / "school-000"
        folder.mkdir(parents=True)
        (folder / "pupils.arrow").write_bytes(b"frames of a run")
    settings = Settings(source=tmp_path, drop_dir=tmp_path / "drop", state_dir=state)

    assert sweep_own_staging(settings, [live]) == 1

    assert not run_folder(state, dead).exists()
    assert (run_folder(state, live) / "batch-00000" / "school-000" / "pupils.arrow").exists()
    assert sweep(state, []) == 1 and list((state / "staging").iterdir()) == []


def test_a_run_removes_its_staging_when_it_ends(tmp_path: Path) -> None:
    """In process, with the thread runner: what the deliver tasks read, then nothing."""
    from prefect.testing.utilities import prefect_test_harness

    from pipelines import steps, tasks
    from pipelines.flows import SyncRequest, sync

    seen: list[tuple[Path, int]] = []
    deliver = tasks.deliver_schools

    def watching(schools, loaded, **kwargs):  # type: ignore[no-untyped-def]
        for path in (tmp_path / "state" / "staging").rglob("*"):
            seen.append((path, stat.S_IMODE(path.lstat().st_mode)))
        return deliver(schools, loaded, **kwargs)

    kept: list[object] = []
    record = steps.record

    def keeping(run, staged, planned, delivered):  # type: ignore[no-untyped-def]
        kept.extend(delivered.outcomes)
        return record(run, staged, planned, delivered)

    returned: list[object] = []
    given_back = tasks._returned

    def returning(outcomes, ledger):  # type: ignore[no-untyped-def]
        returned.extend(found := given_back(outcomes, ledger))
        return found

    tasks.deliver_schools = watching
    tasks._returned = returning
    steps.record = keeping
    try:
        with prefect_test_harness(server_startup_timeout=180):
            state = sync(
                SyncRequest(
                    source=str(REPO / "data" / "samples"),
                    drop=str(tmp_path / "drop"),
                    state=str(tmp_path / "state"),
                    suppliers=["basispoort", "rekenapp"],
                    trigger="cli",
                ),
                return_state=True,
            )
    finally:
        tasks.deliver_schools = deliver
        tasks._returned = given_back
        steps.record = record
    assert state.is_completed(), state.message
    run_id = state.result()["run_id"]
    staging = run_folder(tmp_path / "state", run_id)
    files = [path for path, _mode in seen if path.is_relative_to(staging)]
    assert files, "the deliver tasks read the run's staging"
    assert {mode for path, mode in seen if path.suffix == ".arrow"} == {0o600}
    assert {mode for path, mode in seen if path.suffix != ".arrow"} == {0o700}
    assert not staging.exists()
    # What the flow keeps of a delivery is its counts: lineage has the members, the flow not.
    assert {o.status for o in kept} == {"delivered"}  # type: ignore[attr-defined]
    assert all(not o.member_ids and not o.member_row_hashes for o in kept)  # type: ignore[attr-defined]
    # ... nor does Prefect, which keeps what every task returned until the run ends.
    assert len(returned) == len(kept)
    assert all(not o.member_ids and not o.teacher_ids for o in returned)  # type: ignore[attr-defined]
    with sqlite3.connect(tmp_path / "state" / "lineage.db") as db:
        [(members,)] = db.execute("SELECT count(*) FROM delivery_members").fetchall()
    assert members == sum(o.counts["delivered"] for o in kept)  # type: ignore[attr-defined]
