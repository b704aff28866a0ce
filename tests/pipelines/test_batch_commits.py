"""Lineage of a batch costs a constant number of commits, however many schools it holds.

Delivering one batch of K schools to one supplier through the run's ledger writes every
intent (with its pending state) in one transaction and every confirmation (status,
members, state, superseded holds) in another; the outcomes the ledger does not record
(held, nothing to deliver, dry runs) go into lineage in one more per batch
(`record_outcomes`). On main each delivery took four commits of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from builders import make_consents, make_export, pupil
from pydantic import SecretStr
from sqlalchemy import Engine, event, select, text
from test_delivery import AUDIT_KEY, GROUPS, MEMBERS, SECRET, TODAY, agreement

from connectors.drops.memory import MemoryDrop
from contracts.validation import ValidatedSchool, validate_school
from lineage.rights import DeliveryMemberRecord
from lineage.state import SupplierStateRecord, load_state
from lineage.store import DeliveryRecord, LineageStore
from pipelines.delivery import DeliveryOutcome, DeliveryTargets, deliver_schools
from pipelines.drops import archive_drop, held_drop
from pipelines.holds import record_outcome
from pipelines.publishing import RunLedger
from pipelines.settings import Settings

T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def _settings(root: Path) -> Settings:
    return Settings(
        state_dir=root / "state",
        drop_dir=root / "drop",
        agreements_dir=root / "agreements",
        membership_key=SecretStr(MEMBERS.decode()),
        audit_key=SecretStr(AUDIT_KEY.decode()),
    )


def _schools(count: int, *, pupils: int = 3) -> list[ValidatedSchool]:
    return [
        validate_school(
            make_export(
                [pupil(f"{n}{k:03d}", roepnaam=f"Kind{k}") for k in range(pupils)],
                groups=GROUPS,
                school={"brincode": f"{n:02d}AB"},
            ),
            make_consents([]),
            today=TODAY,
        )
        for n in range(count)
    ]


@contextmanager
def _commits(engine: Engine) -> Iterator[list[int]]:
    seen: list[int] = []

    def count(connection: Any) -> None:
        seen.append(1)

    event.listen(engine, "commit", count)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", count)


def _start(store: LineageStore, run: int) -> tuple[str, datetime]:
    run_id = f"{run:08d}-0000-4000-8000-{run:012d}"
    started = T0 + timedelta(days=run)
    store.start_run(
        run_id,
        started_at=started,
        trigger="test",
        dry_run=False,
        parameters={},
        sluis_version="test",
    )
    return run_id, started


def _deliver_batch(root: Path, count: int) -> tuple[int, LineageStore, list[DeliveryOutcome]]:
    """Deliver one batch of `count` schools through the ledger; commits while delivering."""
    settings = _settings(root)
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    run_id, started = _start(store, 1)
    loaded = agreement()
    schools = _schools(count)
    states = load_state(store.engine, loaded.agreement.id, [s.brincode for s in schools])
    ledger = RunLedger(store, settings, run_id, started)
    targets = DeliveryTargets(
        drop=MemoryDrop(),
        held=held_drop(settings),
        archive=archive_drop(settings),
        ledger=ledger,
    )
    with _commits(store.engine) as seen:
        outcomes = deliver_schools(
            schools,
            loaded,
            run_id=run_id,
            created_at=started,
            secret=SECRET,
            targets=targets,
            membership_secret=MEMBERS,
            states=states,
        )
    assert ledger.recorded_of(outcomes) == {RunLedger.key(o) for o in outcomes}
    return len(seen), store, outcomes


def test_delivering_a_batch_commits_twice_however_many_schools_it_holds(tmp_path: Path) -> None:
    one, store_one, _ = _deliver_batch(tmp_path / "one", 1)
    six, store, outcomes = _deliver_batch(tmp_path / "six", 6)
    # All intents in one commit, all confirmations in another (main: 4 per delivery).
    assert (one, six) == (2, 2)
    assert [o.status for o in outcomes] == ["delivered"] * 6
    with store.engine.connect() as connection:
        statuses = connection.execute(select(DeliveryRecord.status)).scalars().all()
        members = connection.execute(
            select(DeliveryMemberRecord.delivery_id, DeliveryMemberRecord.pupil_hash)
        ).all()
        state = connection.execute(
            select(SupplierStateRecord.school, SupplierStateRecord.pupil_hash)
        ).all()
        pending = connection.execute(text("SELECT count(*) FROM supplier_state_pending")).scalar()
    assert statuses == ["delivered"] * 6
    assert len(members) == len(state) == 6 * 3
    assert pending == 0
    store_one.dispose()
    store.dispose()


def _outcome(school: str, status: str, **extra: Any) -> DeliveryOutcome:
    return DeliveryOutcome(
        supplier="leverancier",
        school=school,
        status=status,
        delivery_id=extra.pop("delivery_id", None),
        mode="full",
        fields=("leerlingkey",),
        counts=extra.pop("counts", {"input": 1, "delivered": 1, "withheld": {}, "quarantined": 0}),
        agreement_sha256="a" * 64,
        agreement_reference="VO-1",
        created_at=T0.isoformat(),
        **extra,
    )


def _mixed(run: int) -> list[DeliveryOutcome]:
    """Outcomes of every kind record_outcome is given, some superseding older holds."""
    h = [f"{n:064x}" for n in range(1, 7)]
    return [
        _outcome("00AB", "nothing_to_deliver"),
        _outcome(
            "01AB",
            "held",
            delivery_id=f"held-01ab-{run}",
            member_ids=(h[0], h[1]),
            member_row_hashes=(h[2], h[3]),
            manifest_sha256=h[4],
            files=({"name": "a.csv", "sha256": h[5], "rows": 2},),
        ),
        _outcome(
            "02AB",
            "delivered",
            delivery_id=f"delivered-02ab-{run}",
            member_ids=(h[0],),
            member_row_hashes=(h[2],),
            manifest_sha256=h[4],
            files=({"name": "a.csv", "sha256": h[5], "rows": 1},),
        ),
        _outcome("03AB", "dry_run", delivery_id=f"dry-03ab-{run}"),
        _outcome("04AB", "failed", counts={}),
        _outcome("05AB", "agreement_expired", counts={}),
    ]


def _tables(store: LineageStore) -> dict[str, list[tuple[Any, ...]]]:
    with store.engine.connect() as connection:
        return {
            table: sorted(
                tuple(row)
                for row in connection.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
            )
            for table in (
                "deliveries",
                "delivery_members",
                "supplier_state",
                "supplier_state_pending",
            )
        }


def _recorded(root: Path, batched: bool) -> tuple[dict[str, list[tuple[Any, ...]]], list[int]]:
    """Two runs of mixed outcomes; the second supersedes the first run's hold."""
    from pipelines.holds import record_outcomes

    settings = _settings(root)
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    commits = []
    for run in (1, 2):
        run_id, started = _start(store, run)
        outcomes = _mixed(run)
        if run == 2:
            outcomes[0] = replace(outcomes[0], school="01AB")  # ends run 1's hold of 01AB
        with _commits(store.engine) as seen:
            if batched:
                record_outcomes(store, settings, run_id, outcomes, started)
            else:
                for o in outcomes:
                    record_outcome(store, settings, run_id, o, started)
        commits.append(len(seen))
    tables = _tables(store)
    with store.engine.connect() as connection:
        tables["status"] = sorted(
            tuple(row)
            for row in connection.execute(select(DeliveryRecord.delivery_id, DeliveryRecord.status))
        )
    store.dispose()
    return tables, commits


def test_record_outcomes_records_a_batch_in_one_commit_as_record_outcome_would(
    tmp_path: Path,
) -> None:
    one_by_one, loop_commits = _recorded(tmp_path / "loop", batched=False)
    batched, commits = _recorded(tmp_path / "batch", batched=True)
    assert batched == one_by_one
    assert commits == [1, 1]
    assert loop_commits == [len(_mixed(1))] * 2  # one by one: a commit per outcome
    statuses = dict(batched["status"])
    assert statuses["leverancier:held-01ab-1"] == "superseded"
    assert statuses["leverancier:held-01ab-2"] == "held"
