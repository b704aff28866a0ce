"""`lineage.engine.batch`: the lineage writes of one thread in one transaction, on both backends.

Inside the scope every writer (the store, state, rights, intents, the audit log) joins
one transaction: one COMMIT at its end, nothing of it visible before, all of it gone when
an error leaves the scope, even one a caller caught. Another thread writes on its own.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, event, select

from lineage.audit import AuditLog
from lineage.engine import after_commit, batch, in_batch
from lineage.rights import record_members
from lineage.state import commit_state, load_state
from lineage.store import DeliveryRecord, LineageStore

RUN = "00000000-0000-4000-8000-000000000001"
AT = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
COUNTS = {"input": 1, "delivered": 1, "withheld": {}, "quarantined": 0}
AUDIT_KEY = b"audit-key-of-the-batch-scope-tests"
HASH = "ab" * 32


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


def _start(store: LineageStore) -> None:
    store.start_run(
        RUN, started_at=AT, trigger="test", dry_run=False, parameters={}, sluis_version="test"
    )


def _delivery(store: LineageStore, name: str, school: str = "07XY") -> str:
    key = f"leverancier:{name}"
    store.record_delivery(
        RUN,
        delivery_id=key,
        supplier="leverancier",
        school=school,
        agreement_sha256="0" * 64,
        agreement_reference="ref",
        fields=["leerlingkey"],
        mode="full",
        counts=COUNTS,
        files=[],
        manifest_sha256=None,
        location=None,
        status="delivered",
        created_at=AT,
    )
    return key


def _state(pupil: str) -> pd.DataFrame:
    return pd.DataFrame({"pupil_hash": [pupil], "row_hash": [HASH], "ref": [None]})


def _recorded(store: LineageStore) -> list[str]:
    with store.engine.connect() as connection:
        return sorted(connection.scalars(select(DeliveryRecord.delivery_id)))


def test_every_write_in_a_scope_is_one_commit_made_at_its_end(store: LineageStore) -> None:
    _start(store)
    with _commits(store.engine) as seen, batch(store.engine):
        assert in_batch(store.engine)
        for n in range(5):
            key = _delivery(store, f"d{n}", school=f"{n:02d}XY")
            record_members(store.engine, key, [f"{n:064x}"], [HASH])
            commit_state(store.engine, "leverancier", f"{n:02d}XY", key, _state(f"{n:064x}"))
        # The scope's own reads see its writes; nothing is committed yet.
        assert len(store.deliveries_of("leverancier")) == 5
        assert seen == []
    assert len(seen) == 1
    assert not in_batch(store.engine)
    assert len(_recorded(store)) == 5
    states = load_state(store.engine, "leverancier", [f"{n:02d}XY" for n in range(5)])
    assert [len(s.frame) for s in states.values()] == [1] * 5


def test_nothing_of_an_open_scope_is_visible_to_another_connection(store: LineageStore) -> None:
    _start(store)
    with batch(store.engine):
        _delivery(store, "d1")
        assert _recorded(store) == []
    assert _recorded(store) == ["leverancier:d1"]


def _twice(store: LineageStore) -> None:
    with batch(store.engine):
        _delivery(store, "d1")
        _delivery(store, "d1")


def test_an_error_leaving_the_scope_rolls_all_of_it_back(store: LineageStore) -> None:
    _start(store)
    with pytest.raises(ValueError, match="already recorded"):
        _twice(store)
    assert _recorded(store) == []


def _caught(store: LineageStore) -> None:
    with batch(store.engine):
        _delivery(store, "d1")
        with suppress(ValueError):
            _delivery(store, "d1")


def test_an_error_a_caller_caught_inside_the_scope_still_rolls_it_back(
    store: LineageStore,
) -> None:
    _start(store)
    with pytest.raises(RuntimeError, match="nothing was kept"):
        _caught(store)
    assert _recorded(store) == []


def test_a_nested_scope_joins_the_outer_one(store: LineageStore) -> None:
    _start(store)
    with _commits(store.engine) as seen, batch(store.engine) as outer:
        _delivery(store, "d1")
        with batch(store.engine) as inner:
            assert inner is outer
            _delivery(store, "d2")
        assert seen == []
    assert len(seen) == 1
    assert _recorded(store) == ["leverancier:d1", "leverancier:d2"]


def test_the_audit_log_appends_inside_a_scope(store: LineageStore) -> None:
    log = AuditLog(store.engine, AUDIT_KEY)
    with batch(store.engine):
        log.append("test", "delivery_approved", "leverancier:d1", {"run_id": RUN})
        log.append("test", "delivery_approved", "leverancier:d2", {"run_id": RUN})
    assert [e.subject for e in log.entries()] == ["leverancier:d1", "leverancier:d2"]
    assert log.verify().ok


def test_after_commit_runs_once_committed_and_never_after_a_rollback(
    store: LineageStore,
) -> None:
    _start(store)
    ran: list[str] = []
    with batch(store.engine):
        _delivery(store, "d1")
        after_commit(store.engine, lambda: ran.append(str(_recorded(store))))
        assert ran == []
    assert ran == ["['leverancier:d1']"]

    def rolled_back() -> None:
        with batch(store.engine):
            after_commit(store.engine, lambda: ran.append("rolled back"))
            _delivery(store, "d1")

    with pytest.raises(ValueError, match="already recorded"):
        rolled_back()
    assert ran == ["['leverancier:d1']"]
    after_commit(store.engine, lambda: ran.append("now"))  # outside a scope: at once
    assert ran[-1] == "now"


def test_another_thread_does_not_join_even_with_a_copy_of_the_context(
    store: LineageStore,
) -> None:
    # A task runner may run a task in a copy of the submitting thread's context.
    seen: dict[str, bool] = {}
    with batch(store.engine):
        context = contextvars.copy_context()
        plain = threading.Thread(target=lambda: seen.update(plain=in_batch(store.engine)))
        copied = threading.Thread(
            target=lambda: seen.update(copied=context.run(in_batch, store.engine))
        )
        for thread in (plain, copied):
            thread.start()
            thread.join()
        seen["here"] = in_batch(store.engine)
    assert seen == {"plain": False, "copied": False, "here": True}
