"""The delivery ledger: each delivery is recorded in lineage as it is published.

`intend` commits the delivery as `publishing`, with the state it leaves, before the drop
makes it visible; `confirm` makes it `delivered` in one commit once the drop has it. A
process killed in between leaves an intent that the next run settles against the drop
(pipelines/reconcile.py), so lineage knows every delivery a supplier can see and the next
delta is counted from what the supplier really holds: nothing is sent twice.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime
from typing import cast

from connectors.drops.base import Drop
from connectors.drops.registry import ReconcilableDrop
from connectors.errors import DeliveryError
from lineage import intents
from lineage.state import stage_pending
from lineage.store import LineageStore
from pipelines import stopping
from pipelines.delivery import DeliveryOutcome
from pipelines.holds import lineage_id, supersede_holds
from pipelines.settings import Settings

__all__ = ["RunLedger"]


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
            LineageStore(settings.lineage_url()),
            settings,
            cast(str, state["run_id"]),
            cast(datetime, state["at"]),
        )

    @staticmethod
    def key(outcome: DeliveryOutcome) -> str:
        """The lineage key of `outcome`'s delivery."""
        return lineage_id(outcome.supplier, outcome.delivery_id or "")

    def recorded_of(self, outcomes: list[DeliveryOutcome]) -> frozenset[str]:
        """Keys of `outcomes` this run recorded as delivered, in this process or another."""
        keys = [self.key(o) for o in outcomes if o.delivery_id is not None]
        elsewhere = [k for k in keys if k not in self._confirmed]
        found = intents.delivered_in_run(self._store.engine, self._run_id, elsewhere)
        return frozenset(k for k in keys if k in self._confirmed or k in found)

    def intend(self, outcome: DeliveryOutcome) -> None:
        """Commit the intent to publish `outcome`, before anything of it is visible.

        Raises:
            RunStopped: a signal asked the run to stop; this delivery is not started.
        """
        stopping.check()
        key = self.key(outcome)
        with self._lock:
            if key in self._confirmed:
                return  # a retry of the task: the drop's same-manifest rule makes it a no-op
            if key in self._intended:
                intents.reopen(self._store.engine, key)
            else:
                self._store.record_delivery(
                    self._run_id,
                    delivery_id=key,
                    supplier=outcome.supplier,
                    school=outcome.school,
                    agreement_sha256=outcome.agreement_sha256,
                    agreement_reference=outcome.agreement_reference,
                    fields=list(outcome.fields),
                    mode=outcome.mode,
                    counts=outcome.counts,
                    files=[dict(f) for f in outcome.files],
                    manifest_sha256=outcome.manifest_sha256,
                    location=None,
                    status="publishing",
                    created_at=self._at,
                )
                self._intended.add(key)
            stage_pending(self._store.engine, key, outcome.state_frame())

    def confirm(self, outcome: DeliveryOutcome) -> None:
        """The drop has `outcome`: record it delivered, with its members and state."""
        stopping.step(stopping.BEFORE_LINEAGE_COMMIT)
        key = self.key(outcome)
        with self._lock:
            if key not in self._confirmed:
                intents.confirm(self._store.engine, key, location=outcome.location)
                self._confirmed.add(key)
                supersede_holds(
                    self._store, self._settings, outcome.supplier, outcome.school, keep=key
                )
        stopping.step(stopping.AFTER_LINEAGE_COMMIT)

    def unsure(self, outcome: DeliveryOutcome, drop: Drop) -> None:
        """Publishing `outcome` failed: settle its intent by what the drop shows now.

        When the drop cannot even be asked, the intent stays open for the next run.
        """
        key = self.key(outcome)
        with self._lock:
            if key in self._confirmed or not isinstance(drop, ReconcilableDrop):
                return
            try:
                where = drop.find(
                    outcome.supplier, outcome.delivery_id or "", outcome.manifest_sha256 or ""
                )
            except DeliveryError:
                return
            if where is None:
                intents.roll_back(self._store.engine, key)
                return
        self.confirm(replace(outcome, location=where))
