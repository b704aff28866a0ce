"""Submitting a run's tasks a few at a time, so memory follows a handful of batches.

A submitted task holds its inputs until it runs, and a finished one its result until the
flow reads it. Submitting every batch at once would hold every batch's inputs; this keeps
a window of unfinished tasks as wide as the workers can use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prefect.futures import PrefectFuture, as_completed

from pipelines.runners import THREADS
from pipelines.settings import Settings

__all__ = ["in_flight", "windowed"]


def in_flight(settings: Settings) -> int:
    """How many tasks wait submitted at once: enough to keep every worker busy, no more.

    A submitted task holds its inputs until it runs; a few per worker keep the workers fed
    while memory stays a handful of batches, whatever the number of schools.
    """
    workers = settings.dask_workers if settings.task_runner == "dask" else THREADS
    return 2 * max(1, workers)


def windowed(
    calls: Iterable[Callable[[], PrefectFuture[Any]]],
    width: int,
    on_done: Callable[[PrefectFuture[Any]], bool],
) -> int:
    """Submit `calls` keeping at most `width` unfinished; `on_done` False stops submitting.

    Each future goes to `on_done` once it has finished and is then let go, so what a task
    returned lives no longer than `on_done` keeps it.

    Returns:
        How many calls were submitted (each one finished and passed to `on_done`).
    """
    pending: dict[int, PrefectFuture[Any]] = {}
    submitted = 0
    go_on = True

    def settle_one() -> None:
        nonlocal go_on
        done = next(as_completed(list(pending.values())))
        # Done is not yet settled: wait() takes the final state from the task itself, where
        # `state` would ask the API, which may still say running.
        done.wait()
        del pending[id(done)]
        go_on = on_done(done) and go_on

    for call in calls:
        while len(pending) >= width and go_on:
            settle_one()
        if not go_on:
            break
        future = call()
        submitted += 1
        pending[id(future)] = future
    while pending:
        settle_one()
    return submitted
