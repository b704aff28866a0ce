"""Tasks are submitted a few at a time: memory follows the window, not the run (issue 12.1)."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from prefect.futures import PrefectConcurrentFuture, PrefectFuture
from prefect.states import Completed

from pipelines.settings import Settings
from pipelines.submitting import in_flight, windowed


class _Tasks:
    """Stand-ins for submitted tasks: each finishes when its turn comes (no sleeps)."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.pool = pool
        self.lock = threading.Lock()
        self.unfinished = 0
        self.most_unfinished = 0
        self.submitted: list[int] = []

    def call(self, number: int):  # type: ignore[no-untyped-def]
        def submit() -> PrefectFuture[int]:
            with self.lock:
                self.unfinished += 1
                self.most_unfinished = max(self.most_unfinished, self.unfinished)
                self.submitted.append(number)
            return PrefectConcurrentFuture(
                task_run_id=uuid.uuid4(),
                wrapped_future=self.pool.submit(lambda: Completed(data=number * number)),
            )

        return submit

    def done(self, future: PrefectFuture[int]) -> None:
        with self.lock:
            self.unfinished -= 1


def test_no_more_than_the_window_is_unfinished_and_results_keep_their_order() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        tasks = _Tasks(pool)

        results: list[int] = []

        def done(future: PrefectFuture[int]) -> bool:
            tasks.done(future)
            results.append(future.result())
            return True

        submitted = windowed((tasks.call(n) for n in range(25)), 3, done)
    assert tasks.most_unfinished <= 3
    assert tasks.unfinished == 0
    assert submitted == 25 and sorted(results) == [n * n for n in range(25)]


def test_a_failed_task_stops_further_submissions_and_settles_the_rest() -> None:
    seen: list[int] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        tasks = _Tasks(pool)

        def done(future: PrefectFuture[int]) -> bool:
            tasks.done(future)
            seen.append(future.result())
            return len(seen) < 3

        submitted = windowed((tasks.call(n) for n in range(25)), 2, done)
    assert submitted < 25
    assert len(seen) == submitted  # every submitted task was settled
    assert tasks.unfinished == 0


def test_the_window_follows_the_workers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    threads = Settings(source=tmp_path, drop_dir=tmp_path, state_dir=tmp_path)
    dask = Settings(
        source=tmp_path, drop_dir=tmp_path, state_dir=tmp_path, task_runner="dask", dask_workers=6
    )
    assert in_flight(threads) == 4
    assert in_flight(dask) == 12
