"""A batch of schools killed between its intents and its confirmation is settled school by school.

The ledger commits the intents of every delivery of a batch before the first is
published, and confirms them all after the last. A process SIGKILLed at a step of the
second school's publish has one delivery in the drop and none confirmed: the next run
confirms the first, rolls the second back, and then sends only the second.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from builders import make_consents, make_export, pupil
from sqlalchemy import select
from test_delivery import AUDIT_KEY, GROUPS, MEMBERS, SECRET, TODAY, agreement
from test_kill_safety import _manifests, _settings

from connectors.drops.base import AFTER_RENAME, DROP_STEPS
from connectors.drops.folder import FolderDrop
from connectors.errors import RunStopped
from contracts.validation import ValidatedSchool, validate_school
from lineage.audit import AuditLog
from lineage.intents import beat
from lineage.state import load_state
from lineage.store import DeliveryRecord, LineageStore
from pipelines import stopping
from pipelines.delivery import DeliveryTargets, deliver_schools
from pipelines.holds import record_outcomes
from pipelines.publishing import RunLedger
from pipelines.reconcile import reconcile

T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
SCHOOLS = ["07XY", "08AB"]


def _schools() -> list[ValidatedSchool]:
    return [
        validate_school(
            make_export(
                [pupil(f"{n}00{k}", roepnaam=f"Kind{k}") for k in range(3)],
                groups=GROUPS,
                school={"brincode": brin},
            ),
            make_consents([]),
            today=TODAY,
        )
        for n, brin in enumerate(SCHOOLS)
    ]


def _run(root: Path, run: int, kill_at: tuple[str, int] | None) -> list[str]:
    """One run of both schools; SIGKILLs itself at the n-th time `kill_at` step passes."""
    passed: dict[str, int] = {}

    def hook(step: str) -> None:
        passed[step] = passed.get(step, 0) + 1
        if kill_at is not None and (step, passed[step]) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    stopping.STEP_HOOK = hook
    settings = _settings(root)
    store = LineageStore(settings.lineage_url())
    try:
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
        loaded = agreement()
        outcomes = deliver_schools(
            _schools(),
            loaded,
            run_id=run_id,
            created_at=started,
            secret=SECRET,
            targets=DeliveryTargets(
                drop=FolderDrop(root / "drop", create_root=True, steps=hook), ledger=ledger
            ),
            membership_secret=MEMBERS,
            states=load_state(store.engine, loaded.agreement.id, SCHOOLS),
        )
        recorded = ledger.recorded_of(outcomes)
        record_outcomes(
            store,
            settings,
            run_id,
            [o for o in outcomes if RunLedger.key(o) not in recorded],
            started,
        )
        store.finish_run(run_id, status="completed", finished_at=started)
        return [o.status for o in outcomes]
    finally:
        stopping.STEP_HOOK = None
        store.dispose()


def _statuses(store: LineageStore) -> dict[str, str]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(DeliveryRecord.school, DeliveryRecord.status).where(
                DeliveryRecord.run_id == f"00000000-0000-4000-8000-{1:012d}"
            )
        ).all()
    return dict(rows)


@pytest.mark.parametrize("step", DROP_STEPS)
def test_a_batch_killed_while_publishing_its_second_school_is_settled_school_by_school(
    tmp_path: Path, step: str
) -> None:
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_run, args=(tmp_path, 1, (step, 2)))
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL
    settings = _settings(tmp_path)
    store = LineageStore(settings.lineage_url())
    # Both intents were committed before the first publish; neither was confirmed.
    assert _statuses(store) == {"07XY": "publishing", "08AB": "publishing"}
    settled = reconcile(
        store,
        settings,
        [agreement()],
        now=T0 + timedelta(days=1, minutes=5),
        actor="test",
        audit=AuditLog(store.engine, AUDIT_KEY),
        drop_root=tmp_path / "drop",
        make_drop=lambda _loaded, root: FolderDrop(root, create_root=True),
    )
    assert settled.unsettled == [] and settled.problems == []
    # Once renamed, the second delivery is visible: the supplier has it.
    visible = step == AFTER_RENAME
    second = "delivered" if visible else "rolled_back"
    assert _statuses(store) == {"07XY": "delivered", "08AB": second}
    supplier_dir = tmp_path / "drop" / "leverancier"
    assert len(_manifests(supplier_dir)) == (2 if visible else 1)

    again = _run(tmp_path, 2, None)
    assert again == ["nothing_to_deliver", "nothing_to_deliver" if visible else "delivered"]
    assert len(_manifests(supplier_dir)) == 2
    store.dispose()


def test_a_batch_killed_before_its_confirmation_is_confirmed_whole_by_the_next_run(
    tmp_path: Path,
) -> None:
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_run, args=(tmp_path, 1, (stopping.BEFORE_LINEAGE_COMMIT, 1)))
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL
    settings = _settings(tmp_path)
    store = LineageStore(settings.lineage_url())
    assert _statuses(store) == {"07XY": "publishing", "08AB": "publishing"}
    settled = reconcile(
        store,
        settings,
        [agreement()],
        now=T0 + timedelta(days=1, minutes=5),
        actor="test",
        audit=AuditLog(store.engine, AUDIT_KEY),
        drop_root=tmp_path / "drop",
        make_drop=lambda _loaded, root: FolderDrop(root, create_root=True),
    )
    assert settled.unsettled == [] and settled.problems == []
    assert _statuses(store) == {"07XY": "delivered", "08AB": "delivered"}
    assert _run(tmp_path, 2, None) == ["nothing_to_deliver", "nothing_to_deliver"]
    assert len(_manifests(tmp_path / "drop" / "leverancier")) == 2
    store.dispose()


def test_a_stop_asked_while_publishing_starts_no_further_delivery_and_rolls_its_intent_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A signal asks the run to stop once the first school's delivery is in the drop.
    supplier_dir = tmp_path / "drop" / "leverancier"
    stop = RunStopped(signal.SIGTERM, "run stopped by SIGTERM")
    monkeypatch.setattr(stopping, "requested", lambda: stop if _manifests(supplier_dir) else None)
    assert _run(tmp_path, 1, None) == ["delivered", "failed"]
    store = LineageStore(_settings(tmp_path).lineage_url())
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(DeliveryRecord.school, DeliveryRecord.status).order_by(DeliveryRecord.school)
        ).all()
    # The second intent was rolled back, and its outcome recorded as failed.
    assert sorted(rows) == [("07XY", "delivered"), ("08AB", "failed"), ("08AB", "rolled_back")]
    assert len(_manifests(supplier_dir)) == 1
    store.dispose()
