"""One sync per school at a time: the lock rows in the lineage database (SQLite and PG)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from lineage.intents import beat
from lineage.locks import LockTimeout, acquire, release
from lineage.store import LineageStore

T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


class Clock:
    """A fake clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = T0
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def _run(store: LineageStore) -> str:
    run_id = str(uuid.uuid4())
    store.start_run(
        run_id, started_at=T0, trigger="test", dry_run=False, parameters={}, sluis_version="t"
    )
    return run_id


def test_a_second_run_of_the_same_school_waits_says_so_and_gives_up(store: LineageStore) -> None:
    first, second = _run(store), _run(store)
    clock = Clock()
    acquire(store.engine, ["27ZX"], first, wait_seconds=60, clock=clock, sleep=clock.sleep)
    told: list[tuple[str, str]] = []

    def first_lives(seconds: float) -> None:  # the first run's heartbeat goes on
        clock.sleep(seconds)
        beat(store.engine, first, clock.now)

    with pytest.raises(LockTimeout) as caught:
        acquire(
            store.engine,
            ["27ZX"],
            second,
            wait_seconds=60,
            poll_seconds=5,
            on_wait=lambda school, holder: told.append((school, holder)),
            clock=clock,
            sleep=first_lives,
        )
    assert told == [("27ZX", first)]  # said once, not every poll
    assert (caught.value.school, caught.value.holder) == ("27ZX", first)
    assert sum(clock.slept) == 60


def test_the_waiting_run_goes_on_when_the_first_finishes(store: LineageStore) -> None:
    first, second = _run(store), _run(store)
    clock = Clock()
    acquire(store.engine, ["27ZX"], first, wait_seconds=60, clock=clock, sleep=clock.sleep)

    def finish_first(seconds: float) -> None:
        clock.sleep(seconds)
        store.finish_run(first, status="completed", finished_at=clock.now)

    acquire(store.engine, ["27ZX"], second, wait_seconds=60, clock=clock, sleep=finish_first)
    assert clock.slept == [5.0]
    assert release(store.engine, second) == 1


def test_other_schools_do_not_wait(store: LineageStore) -> None:
    first, second = _run(store), _run(store)
    clock = Clock()
    acquire(store.engine, ["27ZX"], first, wait_seconds=0, clock=clock, sleep=clock.sleep)
    acquire(store.engine, ["53NC"], second, wait_seconds=0, clock=clock, sleep=clock.sleep)
    assert clock.slept == []


def test_a_lock_whose_holder_stopped_beating_is_taken_over_and_reported(
    store: LineageStore,
) -> None:
    killed, later = _run(store), _run(store)  # the killed one stays "running"
    clock = Clock()
    acquire(store.engine, ["27ZX"], killed, wait_seconds=0, clock=clock)
    beat(store.engine, killed, clock.now)
    clock.now += timedelta(seconds=2)
    taken: list[tuple[str, str]] = []
    acquire(
        store.engine,
        ["27ZX"],
        later,
        wait_seconds=0,
        stale=timedelta(seconds=2),
        on_takeover=lambda school, holder: taken.append((school, holder)),
        clock=clock,
        sleep=clock.sleep,
    )
    assert taken == [("27ZX", killed)]
    assert clock.slept == []
    assert release(store.engine, later) == 1


def test_a_lock_whose_holder_beats_is_never_taken_over(store: LineageStore) -> None:
    live, other = _run(store), _run(store)
    clock = Clock()
    acquire(store.engine, ["27ZX"], live, wait_seconds=0, clock=clock)

    def live_beats(seconds: float) -> None:
        clock.sleep(seconds)
        beat(store.engine, live, clock.now)

    taken: list[tuple[str, str]] = []
    with pytest.raises(LockTimeout):
        # Eight hours, longer than the old six-hour lease: a beating holder keeps its lock.
        acquire(
            store.engine,
            ["27ZX"],
            other,
            wait_seconds=8 * 3600,
            poll_seconds=300,
            stale=timedelta(seconds=60),
            on_takeover=lambda school, holder: taken.append((school, holder)),
            clock=clock,
            sleep=live_beats,
        )
    assert taken == []
    assert release(store.engine, live) == 1


def test_a_lock_of_a_crashed_run_is_taken_over_after_its_lease(store: LineageStore) -> None:
    crashed, later = _run(store), _run(store)  # the crashed one stays "running" forever
    clock = Clock()
    acquire(store.engine, ["27ZX"], crashed, wait_seconds=0, lease=timedelta(hours=6), clock=clock)
    clock.now += timedelta(hours=7)
    acquire(store.engine, ["27ZX"], later, wait_seconds=0, clock=clock, sleep=clock.sleep)
    assert release(store.engine, crashed) == 0
    assert release(store.engine, later) == 1


def test_a_timed_out_run_leaves_no_lock_of_its_own(store: LineageStore) -> None:
    first, second = _run(store), _run(store)
    clock = Clock()
    acquire(store.engine, ["53NC"], first, wait_seconds=0, clock=clock, sleep=clock.sleep)
    with pytest.raises(LockTimeout):
        # 27ZX is free and taken first (sorted order), then 53NC is held: nothing is kept.
        acquire(store.engine, ["53NC", "27ZX"], second, wait_seconds=0, clock=clock)
    assert release(store.engine, second) == 0
