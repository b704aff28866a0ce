"""A run's sign of life: a daemon thread that beats every stale/4 seconds while it lives.

The beat lands on the run's row and on its school locks (lineage.intents.beat). Another
run takes a lock over, and marks the run aborted, only when the beat stopped for the
stale time (SLUIS_LOCK_STALE_SECONDS): a killed process stops beating, a live one never.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from connectors.errors import SluisError
from connectors.i18n import _
from lineage.intents import beat

__all__ = ["Heartbeat"]

_log = logging.getLogger(__name__)


class Heartbeat:
    """Beats for `run_id` from `start` until `stop` (or the end of a `with` block)."""

    def __init__(
        self,
        engine: Engine,
        run_id: str,
        *,
        stale_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._run_id = run_id
        self._every = max(stale_seconds / 4, 0.5)
        self._clock = clock
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="sluis-heartbeat", daemon=True)

    def start(self) -> None:
        """Beat once now (so the run is live from its first second), then in the background."""
        beat(self._engine, self._run_id, self._clock())
        self._thread.start()

    def stop(self) -> None:
        """Stop beating; a run that ends must not look alive."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._every + 5)

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _beat(self) -> None:
        while not self._stopped.wait(self._every):
            try:
                beat(self._engine, self._run_id, self._clock())
            except (SluisError, SQLAlchemyError, OSError, ValueError) as exc:
                # A missed beat is retried next time; only a long outage makes the run
                # look dead, and then its locks are rightly free.
                _log.warning(_("hartslag van run %s gemist: %s"), self._run_id, type(exc).__name__)
