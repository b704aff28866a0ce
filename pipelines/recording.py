"""Record each export read and delivery outcome in lineage, end the holds it supersedes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from contracts.staged import StagedSchool
from contracts.validation import ValidatedSchool
from lineage.engine import after_commit, batch
from lineage.rights import record_members
from lineage.state import commit_state, discard_pending, stage_pending
from lineage.store import DeliverySnapshot, LineageStore
from pipelines.delivery_outcome import DeliveryOutcome
from pipelines.drops import held_drop
from pipelines.settings import Settings

__all__ = [
    "end_hold",
    "folder_of",
    "latest_by_school",
    "lineage_id",
    "record_export",
    "record_outcome",
    "record_outcomes",
    "supersede_all",
    "supersede_holds",
]

_EMPTY_COUNTS = {"input": 0, "delivered": 0, "withheld": {}, "quarantined": 0}


def record_export(
    store: LineageStore,
    run_id: str,
    school: StagedSchool | ValidatedSchool,
    *,
    pupils_read: int,
) -> None:
    """Record the export the run read for `school`: lineage then knows the school."""
    store.record_source(
        run_id,
        school=school.brincode,
        path=str(school.export.path),
        sha256=school.export.sha256,
        format=school.export.format,
        encoding=school.export.encoding,
        pupils_read=pupils_read,
        schooljaar=school.schooljaar,
    )


def lineage_id(supplier: str, folder: str) -> str:
    """Lineage key of a delivery: folder names are unique per supplier only."""
    return f"{supplier}:{folder}"


def folder_of(delivery: DeliverySnapshot) -> str:
    """The delivery's folder name: its lineage key without the supplier."""
    return delivery.delivery_id.split(":", 1)[1]


# Outcomes after which an older hold of the same school can no longer be approved.
_SUPERSEDING = ("delivered", "held", "nothing_to_deliver")


def record_outcome(
    store: LineageStore, settings: Settings, run_id: str, o: DeliveryOutcome, at: datetime
) -> None:
    """Record one outcome: the delivery, who was in it, and what the supplier now holds."""
    record_outcomes(store, settings, run_id, [o], at)


def record_outcomes(
    store: LineageStore,
    settings: Settings,
    run_id: str,
    outcomes: Sequence[DeliveryOutcome],
    at: datetime,
) -> None:
    """Record a batch of outcomes in one transaction, as `record_outcome` would one by one.

    The held deliveries the batch can supersede are read once per supplier, and the
    files of the holds it ends are removed only once the transaction has committed.
    """
    with batch(store.engine):
        holds = _Holds(
            store, settings, [(o.supplier, o.school) for o in outcomes if o.status in _SUPERSEDING]
        )
        for o in outcomes:
            _record(store, run_id, o, at, holds)


def _record(
    store: LineageStore, run_id: str, o: DeliveryOutcome, at: datetime, holds: _Holds
) -> None:
    key = lineage_id(
        o.supplier, o.delivery_id or f"{o.status}-{o.school.lower()}-{run_id[:8]}".lower()
    )
    o.record(
        store,
        run_id,
        key,
        counts=o.counts or _EMPTY_COUNTS,
        files=[dict(f) for f in o.files] if o.status in ("delivered", "held", "dry_run") else [],
        location=o.location,
        status=o.status,
        created_at=at,
    )
    if o.status in _SUPERSEDING:
        # Whatever came after a hold decides instead of it: a fixed export that needs
        # nothing, a normal delivery or a newer hold. Approving the old one would send
        # an outdated mass change.
        holds.supersede(o.supplier, o.school, keep=key)
    if o.status not in ("delivered", "held"):
        return
    state = o.state_frame()
    if o.status == "delivered":
        if o.member_ids:
            record_members(store.engine, key, o.member_ids, o.member_row_hashes)
        # Also when nobody is left: the supplier then holds nobody, and the next run
        # must not send the same removals again.
        commit_state(store.engine, o.supplier, o.school, key, state)
    else:
        holds.add(o.supplier, o.school, key)
        stage_pending(store.engine, key, state)


class _Holds:
    """The held deliveries of some schools, read once, ended as newer outcomes supersede them.

    Kept up to date with the holds recorded meanwhile (`add`), so a batch ends the same
    holds as its outcomes recorded one at a time would.
    """

    def __init__(
        self, store: LineageStore, settings: Settings, wanted: Iterable[tuple[str, str]]
    ) -> None:
        self._store = store
        self._settings = settings
        by_supplier: dict[str, set[str]] = {}
        for supplier, school in wanted:
            by_supplier.setdefault(supplier, set()).add(school)
        self._held: dict[tuple[str, str], list[str]] = {}
        for supplier, schools in by_supplier.items():
            for held in store.deliveries_of(supplier, statuses=("held",), schools=schools):
                self.add(supplier, held.school, held.delivery_id)

    def add(self, supplier: str, school: str, delivery_id: str) -> None:
        """A hold of `school` that a later outcome may supersede."""
        self._held.setdefault((supplier, school), []).append(delivery_id)

    def supersede(self, supplier: str, school: str, *, keep: str) -> None:
        """End every hold of `school` but `keep`."""
        held = self._held.pop((supplier, school), [])
        for delivery_id in held:
            if delivery_id != keep:
                end_hold(self._store, self._settings, supplier, delivery_id)
        if keep in held:
            self._held[supplier, school] = [keep]


def supersede_holds(
    store: LineageStore, settings: Settings, supplier: str, school: str, *, keep: str
) -> None:
    """A newer delivery or hold for the same school ends any older hold."""
    supersede_all(store, settings, [(supplier, school, keep)])


def supersede_all(
    store: LineageStore, settings: Settings, kept: Sequence[tuple[str, str, str]]
) -> None:
    """For each (supplier, school, keep): end the school's holds but `keep`.

    One read of the held deliveries per supplier, however many schools.
    """
    holds = _Holds(store, settings, [(supplier, school) for supplier, school, _keep in kept])
    for supplier, school, keep in kept:
        holds.supersede(supplier, school, keep=keep)


def end_hold(store: LineageStore, settings: Settings, supplier: str, delivery_id: str) -> None:
    """A hold that will never be approved: superseded, its pending state and files gone.

    The files go once that is committed: inside a batch, when the batch commits.
    """
    store.settle_held(delivery_id, status="superseded")
    discard_pending(store.engine, delivery_id)
    folder = delivery_id.split(":", 1)[1]
    after_commit(store.engine, lambda: held_drop(settings).remove(supplier, folder))


def latest_by_school(delivered: list[DeliverySnapshot]) -> dict[str, DeliverySnapshot]:
    """Each school's newest delivery, from deliveries listed oldest first."""
    return {record.school: record for record in delivered}
