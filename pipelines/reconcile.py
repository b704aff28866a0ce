"""Settle what a killed run left: at the start of every `sluis run`, and as `sluis reconcile`.

- An intent (a delivery recorded as `publishing`) of a run that is no longer alive counts
  as delivered when the supplier can see its manifest, with the members and state the
  next delta needs; otherwise it is rolled back and its staging folder removed.
- Hidden `.incoming-*` staging folders that no live run is publishing are removed from
  the folder and SFTP drops.
- A run still recorded as `running` whose heartbeat stopped is marked `aborted`, with an
  OpenLineage ABORT event.

Each reconciliation that changed something is one audit entry. Only runs that stopped
beating for SLUIS_LOCK_STALE_SECONDS are touched: a live run's intents and staging
folders are its own business.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from connectors.drops.base import Drop
from connectors.drops.registry import ReconcilableDrop
from connectors.errors import SluisError
from connectors.i18n import N_, _, ngettext
from connectors.staging import sweep as remove_stale_staging
from contracts.agreements import LoadedAgreement
from lineage import intents
from lineage.audit import AuditLog
from lineage.store import LineageStore
from pipelines.drops import archive_drop, drop_for, held_drop
from pipelines.holds import supersede_holds
from pipelines.openlineage_run import RunLineage
from pipelines.settings import Settings

__all__ = ["Reconciled", "reconcile", "reconcile_drops", "sweep_own_staging"]

# Translated where it is written (a module-level table is built before the language is set).
ABORT_MESSAGE = N_(
    "het proces van de run is gestopt (afgebroken of verloren) voordat de run klaar was"
)


@dataclass
class Reconciled:
    """What one reconciliation settled: lineage keys, run ids and counts; no pupil value."""

    confirmed: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    staging_removed: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was settled or removed."""
        return bool(self.confirmed or self.rolled_back or self.aborted or self.staging_removed)

    def lines(self) -> list[str]:
        """One line per kind of change, for the log and the CLI."""
        out = []
        if self.confirmed:
            out.append(
                ngettext(
                    "{n} levering van een gestopte run staat in de levermap en is vastgelegd "
                    "als geleverd: {deliveries}",
                    "{n} leveringen van een gestopte run staan in de levermap en zijn "
                    "vastgelegd als geleverd: {deliveries}",
                    len(self.confirmed),
                ).format(n=len(self.confirmed), deliveries=", ".join(self.confirmed))
            )
        if self.rolled_back:
            out.append(
                ngettext(
                    "{n} levering van een gestopte run heeft de levermap nooit bereikt en is "
                    "teruggedraaid: {deliveries}",
                    "{n} leveringen van een gestopte run hebben de levermap nooit bereikt en "
                    "zijn teruggedraaid: {deliveries}",
                    len(self.rolled_back),
                ).format(n=len(self.rolled_back), deliveries=", ".join(self.rolled_back))
            )
        if self.staging_removed:
            out.append(
                ngettext(
                    "{n} achtergebleven voorbereidingsmap verwijderd uit de levermappen",
                    "{n} achtergebleven voorbereidingsmappen verwijderd uit de levermappen",
                    self.staging_removed,
                ).format(n=self.staging_removed)
            )
        if self.aborted:
            out.append(
                ngettext(
                    "run als afgebroken gemarkeerd: {runs}",
                    "runs als afgebroken gemarkeerd: {runs}",
                    len(self.aborted),
                ).format(runs=", ".join(self.aborted))
            )
        return out


def reconcile(
    store: LineageStore,
    settings: Settings,
    agreements: Sequence[LoadedAgreement],
    *,
    now: datetime,
    actor: str,
    audit: AuditLog | None,
    drop_root: Path | None = None,
    make_drop: Callable[[LoadedAgreement, Path], Drop] | None = None,
    sweep: Sequence[LoadedAgreement] | None = None,
) -> Reconciled:
    """Settle the intents, staging folders and runs of runs that stopped beating.

    Args:
        store: the lineage store.
        settings: for the stale time, the drops' secrets and the OpenLineage target.
        agreements: every agreement that loads: they say where each supplier's drop is.
        now: the time to judge heartbeats by.
        actor: who reconciles, for the audit entry.
        audit: the keyed audit log; None to leave the audit out (never in a run).
        drop_root: the folder drop root to sweep for staging folders; the settings' one
            when None. An intent is checked in the drop root its own run used.
        make_drop: builds a drop (tests pass one); pipelines.drops.drop_for by default.
        sweep: the suppliers whose drops are swept for staging folders (a run: the ones
            it delivers to, so an unselected SFTP server is not contacted); all when None.
    """
    engine = store.engine
    stale = timedelta(seconds=settings.lock_stale_seconds)
    build = make_drop or (lambda loaded, root: drop_for(loaded.agreement, settings, root))
    by_supplier = {loaded.agreement.id: loaded for loaded in agreements}
    drops: dict[tuple[str, Path], Drop | None] = {}
    done = Reconciled()

    def drop_of(supplier: str, root: Path) -> Drop | None:
        if (supplier, root) not in drops:
            loaded = by_supplier.get(supplier)
            try:
                drops[supplier, root] = None if loaded is None else build(loaded, root)
            except SluisError as exc:
                done.problems.append(f"{supplier}: {exc}")
                drops[supplier, root] = None
        return drops[supplier, root]

    live = intents.live_runs(engine, now=now, stale=stale)
    publishing = intents.open_intents(engine)
    for intent in publishing:
        if intent.run_id in live:
            continue
        drop = drop_of(intent.supplier, Path(intent.drop or settings.drop_dir))
        if not isinstance(drop, ReconcilableDrop) or intent.manifest_sha256 is None:
            done.unsettled.append(intent.delivery_id)
            continue
        try:
            where = drop.find(intent.supplier, intent.folder, intent.manifest_sha256)
            if where is None:
                done.staging_removed += drop.remove_incoming(intent.supplier, intent.folder)
        except SluisError as exc:
            done.problems.append(f"{intent.delivery_id}: {exc}")
            done.unsettled.append(intent.delivery_id)
            continue
        if where is not None:
            if intents.confirm(engine, intent.delivery_id, location=where):
                supersede_holds(
                    store, settings, intent.supplier, intent.school, keep=intent.delivery_id
                )
                done.confirmed.append(intent.delivery_id)
        elif intents.roll_back(engine, intent.delivery_id):
            done.rolled_back.append(intent.delivery_id)

    # Staging folders of no live run: a kill before the intent, or an older Sluis. Read
    # again now: a live run records its intent before it stages anything.
    live = intents.live_runs(engine, now=now, stale=stale)
    busy = {(i.supplier, i.folder) for i in intents.open_intents(engine) if i.run_id in live}
    root = drop_root or settings.drop_dir
    swept = by_supplier if sweep is None else {loaded.agreement.id for loaded in sweep}
    for supplier in sorted(swept):
        drop = drop_of(supplier, root)
        if not isinstance(drop, ReconcilableDrop):
            continue
        try:
            mine = {folder for owner, folder in busy if owner == supplier}
            done.staging_removed += _sweep(drop, supplier, keep=mine.__contains__)
        except SluisError as exc:
            done.problems.append(f"{supplier}: {exc}")

    # Sluis' own copies (archive, held) carry no intent: swept by whose run is alive.
    try:
        done.staging_removed += sweep_own_staging(settings, live)
    except SluisError as exc:
        done.problems.append(str(exc))

    for run_id in intents.dead_runs(engine, now=now, stale=stale):
        message = _(ABORT_MESSAGE)
        if intents.abort_run(engine, run_id, at=now, message=message):
            lineage = RunLineage(settings, run_id)
            try:
                lineage.abort(message, now)
            finally:
                lineage.close()
            done.aborted.append(run_id)

    if done.changed and audit is not None:
        audit.append(
            actor,
            "reconciliation",
            "drops",
            {
                "confirmed": done.confirmed,
                "rolled_back": done.rolled_back,
                "aborted_runs": done.aborted,
                "staging_folders_removed": done.staging_removed,
            },
            at=now,
        )
    return done


def reconcile_drops(settings: Settings) -> Reconciled:
    """`sluis reconcile`: settle against every agreement's drop, audited as the OS user."""
    from datetime import UTC

    from contracts.agreements import load_agreement_set
    from lineage.audit import default_actor
    from pipelines.keys import audit_log

    store = LineageStore(settings.lineage_url())
    try:
        store.create_schema()
        return reconcile(
            store,
            settings,
            load_agreement_set(settings.agreements_dir).agreements,
            now=datetime.now(UTC),
            actor=default_actor(),
            audit=audit_log(settings, store.engine),
            drop_root=settings.drop_dir,
        )
    finally:
        store.dispose()


def _sweep(drop: ReconcilableDrop, supplier: str, *, keep: Callable[[str], bool]) -> int:
    """Remove the supplier's staging folders in `drop` but those `keep` names; return how many."""
    return sum(
        drop.remove_incoming(supplier, folder)
        for folder in drop.incoming(supplier)
        if not keep(folder)
    )


def sweep_own_staging(settings: Settings, live: Collection[str]) -> int:
    """Remove what a killed run staged: its frames, and its folders in archive and held.

    Those copies are not the supplier's, so they carry no intent; a folder is a live run's
    while that run beats (its delivery ids end in the run id's first eight characters).

    Args:
        settings: where the state folder, and so the archive and held copies, are.
        live: ids of the runs that still beat (`lineage.intents.live_runs`).

    Returns:
        How many staging folders were removed.
    """
    # A killed run's staged frames (connectors.staging) go with it: pupil values live in
    # staging only while their run does.
    removed = remove_stale_staging(settings.state_dir, live)
    prefixes = tuple(run[:8] for run in live)
    for drop, root in (
        (archive_drop(settings), settings.state_dir / "archive"),
        (held_drop(settings), settings.state_dir / "held"),
    ):
        suppliers = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        for supplier in suppliers:
            # An empty tuple of prefixes keeps nothing: str.endswith(()) is False.
            removed += _sweep(drop, supplier, keep=lambda folder: folder.endswith(prefixes))
    return removed
