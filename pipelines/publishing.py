"""The delivery ledger: each delivery is recorded in lineage as it is published.

`intend` commits a batch's deliveries as `publishing`, with the state each leaves, in one
transaction before the drop makes any of them visible; `confirm` makes the published ones
`delivered` in one more once the drop has them. A process killed in between leaves
intents that the next run settles against the drop (pipelines/reconcile.py), so lineage
knows every delivery a supplier can see and the next delta is counted from what the
supplier really holds: nothing is sent twice.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from lineage import intents
from lineage.engine import after_commit, batch
from lineage.state import stage_pending
from lineage.store import LineageStore
from pipelines import stopping
from pipelines.delivery import DeliveryOutcome
from pipelines.holds import lineage_id, supersede_all
from pipelines.settings import Settings

__all__ = ["RunLedger"]


# A worker unpickles a ledger for every deliver task: one store (engine, pool) per database
# and process, not one per task left for the garbage collector with its connections open.
_stores: dict[str, LineageStore] = {}
_stores_lock = threading.Lock()


def _store_for(url: str) -> LineageStore:
    with _stores_lock:
        if url not in _stores:
            _stores[url] = LineageStore(url)
        return _stores[url]


class RunLedger:
    """Records one run's deliveries as they are published; safe to share between threads."""

    def __init__(self, store: LineageStore, settings: Settings, run_id: str, at: datetime):
        self._store = store
        self._settings = settings
        self._run_id = run_id
        self._at = at
        # One writer at a time: the deliver tasks of one run share this ledger.
        self._lock = threading.Lock()
        self._intended: set[str] = set()
        self._confirmed: set[str] = set()

    def __getstate__(self) -> dict[str, object]:
        """What travels to another process (a Dask worker): no engine, no lock, no memory.

        The worker opens its own connection to the same lineage database; what it confirms
        the flow learns from lineage (`recorded_of`), not from this copy.
        """
        return {"settings": self._settings, "run_id": self._run_id, "at": self._at}

    def __setstate__(self, state: dict[str, object]) -> None:
        settings = cast(Settings, state["settings"])
        self.__init__(  # type: ignore[misc]
            _store_for(settings.lineage_url()),
            settings,
            cast(str, state["run_id"]),
            cast(datetime, state["at"]),
        )

    @staticmethod
    def key(outcome: DeliveryOutcome) -> str:
        """The lineage key of `outcome`'s delivery."""
        return lineage_id(outcome.supplier, outcome.delivery_id or "")

    def recorded_of(self, outcomes: list[DeliveryOutcome]) -> frozenset[str]:
        """Keys of `outcomes` this run recorded as delivered, in this process or another.

        Only a delivered outcome can have been confirmed, and what this process confirmed
        it knows: lineage is asked only about the rest (another process's), if any.
        """
        keys = [self.key(o) for o in outcomes if o.delivery_id and o.status == "delivered"]
        elsewhere = [k for k in keys if k not in self._confirmed]
        found = (
            intents.delivered_in_run(self._store.engine, self._run_id, elsewhere)
            if elsewhere
            else frozenset()
        )
        return frozenset(k for k in keys if k in self._confirmed or k in found)

    def intend(self, outcomes: Sequence[DeliveryOutcome]) -> None:
        """Commit the intents to publish a batch's `outcomes`, in one transaction.

        Before anything of them is visible: each intent holds the state its delivery
        leaves (pending), so whichever of them a kill leaves open can be settled.

        Raises:
            RunStopped: a signal asked the run to stop; none of them is started.
        """
        stopping.check()
        with self._lock, batch(self._store.engine):
            for outcome in outcomes:
                key = self.key(outcome)
                if key in self._confirmed:
                    continue  # a retry of the task: the drop's same-manifest rule makes it a no-op
                if key in self._intended:
                    intents.reopen(self._store.engine, key)
                else:
                    outcome.record(
                        self._store,
                        self._run_id,
                        key,
                        counts=outcome.counts,
                        files=[dict(f) for f in outcome.files],
                        location=None,
                        status="publishing",
                        created_at=self._at,
                    )
                stage_pending(self._store.engine, key, outcome.state_frame())
            # Only once committed: a rolled-back batch left nothing to reopen.
            after_commit(
                self._store.engine,
                lambda: self._intended.update(self.key(o) for o in outcomes),
            )

    def confirm(
        self,
        published: Sequence[DeliveryOutcome],
        *,
        unpublished: Sequence[DeliveryOutcome] = (),
    ) -> None:
        """The drop has `published`; `unpublished` never reached it: one transaction for both.

        Each published delivery becomes delivered, with its members and state, and ends
        older holds of its school; each unpublished intent is rolled back. What a kill
        before the commit leaves open, the next run settles against the drop.
        """
        stopping.step(stopping.BEFORE_LINEAGE_COMMIT)
        with self._lock:
            done: list[str] = []
            with batch(self._store.engine):
                kept = []
                for outcome in published:
                    key = self.key(outcome)
                    if key in self._confirmed:
                        continue
                    intents.confirm(self._store.engine, key, location=outcome.location)
                    kept.append((outcome.supplier, outcome.school, key))
                    done.append(key)
                supersede_all(self._store, self._settings, kept)
                for outcome in unpublished:
                    key = self.key(outcome)
                    if key not in self._confirmed:
                        intents.roll_back(self._store.engine, key)
            self._confirmed.update(done)
        stopping.step(stopping.AFTER_LINEAGE_COMMIT)
