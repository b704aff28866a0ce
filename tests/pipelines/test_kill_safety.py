"""A process killed at any step boundary of publishing leaves lineage equal to the drop.

Each case delivers in a forked child that SIGKILLs itself exactly at one boundary (the
drop's step callback, or the ledger's lineage steps): no `finally` runs, as after a power
cut. The parent then reconciles, as the next `sluis run` does at its start, and checks:
every manifest in the drop is one delivered record in lineage and vice versa, no intent
is left open, no staging folder is left, the killed run is aborted, and the next delivery
of the same export sends nothing the supplier already has.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sftp_server import SftpServer, sftp_server
from sqlalchemy import select
from test_delivery import AUDIT_KEY, MEMBERS, SECRET, agreement, school

from connectors.drops.base import DROP_STEPS, MANIFEST_NAME, Drop
from connectors.drops.folder import FolderDrop
from contracts.agreements import LoadedAgreement
from lineage.audit import AuditLog
from lineage.intents import beat, live_runs
from lineage.state import load_state
from lineage.store import DeliveryRecord, LineageStore
from pipelines import stopping
from pipelines.delivery import DeliveryTargets, deliver_schools
from pipelines.holds import record_outcome
from pipelines.publishing import RunLedger
from pipelines.reconcile import reconcile, sweep_own_staging
from pipelines.settings import Settings

__all__ = ["sftp_server"]  # the fixture, used by name

STEPS = [*DROP_STEPS, stopping.BEFORE_LINEAGE_COMMIT, stopping.AFTER_LINEAGE_COMMIT]
KEYS = ["1001", "1002", "1003"]
T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)

MakeDrop = Callable[[Callable[[str], None]], Drop]


def _settings(root: Path) -> Settings:
    return Settings(
        state_dir=root / "state",
        drop_dir=root / "drop",
        agreements_dir=root / "agreements",
        membership_key=SecretStr(MEMBERS.decode()),
        audit_key=SecretStr(AUDIT_KEY.decode()),
        lock_stale_seconds=60,
    )


def _deliver(
    root: Path, loaded: LoadedAgreement, make_drop: MakeDrop, run: int, kill_at: str | None
) -> str:
    """One run of one school; SIGKILLs this process at `kill_at`. Returns the outcome status."""

    def hook(step: str) -> None:
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    stopping.STEP_HOOK = hook
    try:
        return _one_run(root, loaded, make_drop(hook), run)
    finally:
        stopping.STEP_HOOK = None


def _one_run(root: Path, loaded: LoadedAgreement, drop: Drop, run: int) -> str:
    settings = _settings(root)
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    run_id = f"00000000-0000-4000-8000-{run:012d}"
    started = T0 + timedelta(days=run)
    store.start_run(
        run_id,
        started_at=started,
        trigger="test",
        dry_run=False,
        parameters={"drop": str(root / "drop")},
        sluis_version="test",
    )
    beat(store.engine, run_id, started)
    ledger = RunLedger(store, settings, run_id, started)
    validated = school(KEYS)
    [outcome] = deliver_schools(
        [validated],
        loaded,
        run_id=run_id,
        created_at=started,
        secret=SECRET,
        targets=DeliveryTargets(drop=drop, ledger=ledger),
        membership_secret=MEMBERS,
        states=load_state(store.engine, loaded.agreement.id, [validated.brincode]),
    )
    if RunLedger.key(outcome) not in ledger.recorded_of([outcome]):
        record_outcome(store, settings, run_id, outcome, started)
    store.finish_run(run_id, status="completed", finished_at=started)
    store.dispose()
    return outcome.status


def _killed_child(root: Path, loaded: LoadedAgreement, make_drop: MakeDrop, kill_at: str) -> None:
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_deliver, args=(root, loaded, make_drop, 1, kill_at))
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL, f"the child was not killed at {kill_at}"


def _manifests(supplier_dir: Path) -> dict[str, str]:
    """Visible deliveries in a drop: folder name to run id; hidden folders not counted."""
    if not supplier_dir.is_dir():
        return {}
    return {
        entry.name: json.loads((entry / MANIFEST_NAME).read_text())["run_id"]
        for entry in supplier_dir.iterdir()
        if not entry.name.startswith(".") and (entry / MANIFEST_NAME).is_file()
    }


def _hidden(supplier_dir: Path) -> list[str]:
    return sorted(e.name for e in supplier_dir.iterdir()) if supplier_dir.is_dir() else []


def _check(root: Path, supplier_dir: Path, loaded: LoadedAgreement, make_drop: MakeDrop) -> None:
    settings = _settings(root)
    store = LineageStore(settings.lineage_url())
    settled = reconcile(
        store,
        settings,
        [loaded],
        now=T0 + timedelta(days=1, minutes=5),  # the killed run has not beaten for 5 minutes
        actor="test",
        audit=AuditLog(store.engine, AUDIT_KEY),
        drop_root=root / "drop",
        make_drop=lambda _loaded, _root: make_drop(lambda step: None),
    )
    assert settled.unsettled == [] and settled.problems == []
    run_id = f"00000000-0000-4000-8000-{1:012d}"
    assert settled.aborted == [run_id]
    snapshot = store.get_run(run_id)
    assert snapshot is not None and snapshot.status == "aborted"

    def lineage_delivered() -> set[str]:
        with store.engine.connect() as connection:
            rows = connection.execute(
                select(DeliveryRecord.delivery_id, DeliveryRecord.status)
            ).all()
        assert all(status != "publishing" for _, status in rows)
        return {key.split(":", 1)[1] for key, status in rows if status == "delivered"}

    assert [n for n in _hidden(supplier_dir) if n.startswith(".")] == []
    assert set(_manifests(supplier_dir)) == lineage_delivered()

    # The next run of the same export: nothing the supplier has is sent again.
    status = _deliver(root, loaded, make_drop, 2, None)
    visible = _manifests(supplier_dir)
    assert len(visible) == 1, visible
    assert set(visible) == lineage_delivered()
    assert status == ("delivered" if settled.rolled_back else "nothing_to_deliver")
    store.dispose()


@pytest.mark.parametrize("kill_at", STEPS)
def test_a_folder_drop_killed_at_each_step_is_reconciled_without_duplicates(
    tmp_path: Path, kill_at: str
) -> None:
    loaded = agreement()

    def make_drop(steps: Callable[[str], None]) -> Drop:
        return FolderDrop(tmp_path / "drop", create_root=True, steps=steps)

    _killed_child(tmp_path, loaded, make_drop, kill_at)
    _check(tmp_path, tmp_path / "drop" / loaded.agreement.id, loaded, make_drop)


@pytest.mark.parametrize("kill_at", STEPS)
def test_an_sftp_drop_killed_at_each_step_is_reconciled_without_duplicates(
    tmp_path: Path, sftp_server: SftpServer, kill_at: str
) -> None:
    loaded = agreement()

    def make_drop(steps: Callable[[str], None]) -> Drop:
        return sftp_server.drop(steps=steps)

    _killed_child(tmp_path, loaded, make_drop, kill_at)
    _check(tmp_path, sftp_server.root / loaded.agreement.id, loaded, make_drop)


def test_a_retry_of_the_killed_run_finds_its_delivery_in_place_and_adds_none(
    tmp_path: Path,
) -> None:
    # The same-manifest rule: the same run publishing again after the rename is a no-op.
    loaded = agreement()

    def make_drop(steps: Callable[[str], None]) -> Drop:
        return FolderDrop(tmp_path / "drop", create_root=True, steps=steps)

    _killed_child(tmp_path, loaded, make_drop, "after_rename")
    supplier_dir = tmp_path / "drop" / loaded.agreement.id
    before = _manifests(supplier_dir)
    started = T0 + timedelta(days=1)
    [again] = deliver_schools(
        [school(KEYS)],
        loaded,
        run_id=f"00000000-0000-4000-8000-{1:012d}",
        created_at=started,
        secret=SECRET,
        targets=DeliveryTargets(drop=make_drop(lambda step: None)),
        membership_secret=MEMBERS,
    )
    assert again.status == "delivered"
    assert _manifests(supplier_dir) == before and len(before) == 1


def test_a_live_run_is_left_alone(tmp_path: Path) -> None:
    loaded = agreement()
    settings = _settings(tmp_path)
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    run_id = "00000000-0000-4000-8000-000000000009"
    store.start_run(
        run_id, started_at=T0, trigger="t", dry_run=False, parameters={}, sluis_version="t"
    )
    beat(store.engine, run_id, T0)
    settled = reconcile(
        store,
        settings,
        [loaded],
        now=T0 + timedelta(seconds=30),
        actor="test",
        audit=None,
        make_drop=lambda _loaded, _root: FolderDrop(tmp_path / "drop", create_root=True),
    )
    assert settled.aborted == []
    snapshot = store.get_run(run_id)
    assert snapshot is not None and snapshot.status == "running"
    store.dispose()


def test_staging_folders_of_no_live_run_are_removed_and_a_live_runs_are_kept(
    tmp_path: Path, sftp_server: SftpServer
) -> None:
    loaded = agreement()
    settings = _settings(tmp_path)
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    live = "00000000-0000-4000-8000-000000000007"
    store.start_run(
        live, started_at=T0, trigger="t", dry_run=False, parameters={}, sluis_version="t"
    )
    beat(store.engine, live, T0)
    store.record_delivery(
        live,
        delivery_id="leverancier:busy",
        supplier="leverancier",
        school="27ZX",
        agreement_sha256="a" * 64,
        agreement_reference="VO-1",
        fields=["roepnaam"],
        mode="full",
        counts={"input": 0, "delivered": 0, "withheld": {}, "quarantined": 0},
        files=[],
        manifest_sha256="b" * 64,
        location=None,
        status="publishing",
        created_at=T0,
    )
    supplier_dir = sftp_server.root / "leverancier"
    supplier_dir.mkdir()
    left = supplier_dir / f".incoming-old-{'1' * 16}"
    busy = supplier_dir / f".incoming-busy-{'2' * 16}"
    for folder in (left, busy):
        folder.mkdir()
        (folder / "leerlingen.csv").write_bytes(b"x\n")
    settled = reconcile(
        store,
        settings,
        [loaded],
        now=T0 + timedelta(seconds=10),
        actor="test",
        audit=None,
        make_drop=lambda _loaded, _root: sftp_server.drop(),
    )
    assert settled.staging_removed == 1
    assert sorted(p.name for p in supplier_dir.iterdir()) == [busy.name]
    assert settled.unsettled == [] and settled.rolled_back == []
    store.dispose()


def test_staging_left_in_the_archive_and_held_copies_is_removed_but_a_live_runs_kept(
    tmp_path: Path,
) -> None:
    # A kill while the archive or held copy was written (seen with SIGKILL at a rename of
    # the drop) left `.incoming-*` in Sluis' own state, where no intent points.
    settings = _settings(tmp_path)
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    live = "5eedface-0000-4000-8000-000000000001"
    store.start_run(
        live, started_at=T0, trigger="t", dry_run=False, parameters={}, sluis_version="t"
    )
    beat(store.engine, live, T0)
    left, kept = [], []
    for copy in ("archive", "held"):
        supplier_dir = settings.state_dir / copy / "leverancier"
        supplier_dir.mkdir(parents=True)
        dead = supplier_dir / f".incoming-20261101t020000z-27zx-deadbeef-{'1' * 16}"
        busy = supplier_dir / f".incoming-20261128t020000z-27zx-{live[:8]}-{'2' * 16}"
        for folder in (dead, busy):
            folder.mkdir()
            (folder / "leerlingen.csv").write_bytes(b"x\n")
        left.append(dead)
        kept.append(busy)
    settled = reconcile(
        store,
        settings,
        [agreement()],
        now=T0 + timedelta(seconds=10),
        actor="test",
        audit=None,
        make_drop=lambda _loaded, root: FolderDrop(root, create_root=True),
    )
    assert settled.staging_removed == 2
    assert [p.exists() for p in left] == [False, False]
    assert [p.exists() for p in kept] == [True, True]
    # Once that run stopped beating, its copies go too.
    later = T0 + timedelta(seconds=settings.lock_stale_seconds + 10)
    stale = timedelta(seconds=settings.lock_stale_seconds)
    assert sweep_own_staging(settings, live_runs(store.engine, now=later, stale=stale)) == 2
    assert not any(p.exists() for p in kept)
    store.dispose()
