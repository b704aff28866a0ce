"""The steps of one sync, in the order the flow takes them.

    begin             agreements, keys, schools, locks, reconcile: what the run may touch
    read_to_staging   extract and validate every school into the run's staging area
    plan              the quarantine report, erasures, the drop root and every target
    deliver_per_batch per supplier, a batch of staged schools at a time; lineage records
                      each batch's outcomes as its task ends (one transaction)
    record            outcomes in the log, the Prefect artifacts, OpenLineage COMPLETE
    keep              retention, purge, waiting for approval; the run's summary

Each step takes what the steps before it returned and goes down the floors (holds,
lineage, contracts, drops), never back up. Tasks are submitted a few at a time, so the
flow holds references to staged schools and the outcomes' counts, never every school's
frames or every pupil's hashes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.futures import PrefectFuture

from connectors.errors import SluisError
from connectors.i18n import _, ngettext
from connectors.staging import make_private_folder, run_folder
from contracts.staged import StagedSchool
from contracts.validation import problem_counts
from lineage.audit import AuditLog, default_actor, record_agreement_versions
from lineage.engine import batch as lineage_batch
from lineage.locks import LockTimeout
from lineage.locks import acquire as acquire_locks
from lineage.quarantine_report import QuarantineReport, build_report, write_report
from lineage.rights import erased_hashes
from lineage.state import load_state
from lineage.store import LineageStore
from pipelines.approval import wait_for_approval
from pipelines.delivery import DeliveryOutcome, DeliveryTargets
from pipelines.drops import archive_drop, drop_for, held_drop
from pipelines.holds import record_outcomes, remove_expired_deliveries
from pipelines.keys import RunKeys
from pipelines.openlineage_run import RunLineage
from pipelines.plan import SchoolInput, batches, discover_schools, label, run_name, select_school
from pipelines.progress import DELIVERED, READ
from pipelines.progress import current as progress
from pipelines.publishing import RunLedger
from pipelines.reconcile import reconcile
from pipelines.recording import record_export
from pipelines.retention import purge
from pipelines.run_guards import RunAgreements, check_keys, record_audit_head
from pipelines.settings import Settings
from pipelines.submitting import in_flight, windowed
from pipelines.summary import outcome_rows
from pipelines.summary_artifact import DETAIL_SCHOOLS, artifact_rows, write_deliveries
from pipelines.tasks import deliver_batch, prepare_batch
from pipelines.work import gaps_frame

__all__ = [
    "DROP_ROOT_MODE",
    "Delivered",
    "Plan",
    "Run",
    "RunAborted",
    "begin",
    "deliver_per_batch",
    "keep",
    "plan",
    "read_to_staging",
    "record",
]

DROP_ROOT_MODE = 0o751

Logger = logging.LoggerAdapter[logging.Logger] | logging.Logger


class RunAborted(SluisError):
    """A stage returned a user error; the run stops before (further) delivery."""


@dataclass
class Run:
    """What every step of one run shares: who, what, where, and the run's own records."""

    settings: Settings
    run_id: str
    started: datetime
    store: LineageStore
    lineage: RunLineage
    logger: Logger
    dry_run: bool
    actor: str
    found: RunAgreements
    keys: RunKeys
    audit: AuditLog
    schools_in: list[SchoolInput]
    ledger: RunLedger

    @property
    def staging(self) -> Path:
        """The run's staging folder (connectors.staging)."""
        return run_folder(self.settings.state_dir, self.run_id)


@dataclass(frozen=True)
class Plan:
    """What delivery needs that no single batch decides."""

    report: QuarantineReport
    report_html: Path
    erased: frozenset[str]
    targets: dict[str, DeliveryTargets]


@dataclass
class Delivered:
    """Every outcome in the order the deliveries were asked for, and what failed."""

    outcomes: list[DeliveryOutcome] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def actor_of(trigger: str) -> str:
    """Who acts in this run: the OS user for the CLI, the scheduler otherwise."""
    if trigger == "cli":
        try:
            return default_actor()
        except SluisError:
            return "cli"
    return f"prefect-{trigger}"


def begin(
    *,
    settings: Settings,
    run_id: str,
    started: datetime,
    store: LineageStore,
    lineage: RunLineage,
    logger: Logger,
    trigger: str,
    dry_run: bool,
    suppliers: Sequence[str],
    school: str | None,
    consents: Path | None,
    audit_slot: list[AuditLog],
) -> Run:
    """Agreements, keys, the schools and their locks; reconcile what a killed run left."""
    found = RunAgreements.load(settings, suppliers)
    for problem in found.others_broken:
        logger.warning(_("overeenkomst overgeslagen: %s"), problem)
    # Before anything is delivered or held: a key missing or replaced stops the run here.
    keys: RunKeys = check_keys(settings, store.engine, found.selected)
    audit = AuditLog(store.engine, keys.audit)
    audit_slot.append(audit)
    actor = actor_of(trigger)
    # Editing an agreement file by hand is an administrator action too: noticed by hash.
    for entry in record_agreement_versions(audit, found.versions, actor):
        # The action is an audit code (e.g. agreement_changed), kept as it is recorded.
        logger.info(_("overeenkomst %s: %s"), entry.subject, entry.action)
    schools_in = discover_schools(settings.source, consents, settings.consents_filename)
    schools_in = select_school(schools_in, school)
    logger.info(_("scholen: %d, leveranciers: %d"), len(schools_in), len(found.selected))
    _lock(settings, store, run_id, schools_in, logger, audit, actor)
    lineage.start(schools_in, started)
    if not dry_run:  # a dry run changes no drop; the next real run settles
        _reconcile(store, settings, found, actor, audit, logger)
    progress().start(len(schools_in), len(schools_in) * len(found.selected))
    return Run(
        settings=settings,
        run_id=run_id,
        started=started,
        store=store,
        lineage=lineage,
        logger=logger,
        dry_run=dry_run,
        actor=actor,
        found=found,
        keys=keys,
        audit=audit,
        schools_in=schools_in,
        ledger=RunLedger(store, settings, run_id, started),
    )


def _lock(
    settings: Settings,
    store: LineageStore,
    run_id: str,
    schools_in: list[SchoolInput],
    logger: Logger,
    audit: AuditLog,
    actor: str,
) -> None:
    """One sync per school at a time: wait for another run's locks, or take a dead one's."""

    def waiting(school: str, holder: str) -> None:
        logger.warning(
            _("school %s: wacht tot run %s klaar is (één synchronisatie per school tegelijk)"),
            school,
            holder,
        )

    def taken_over(school: str, holder: str) -> None:
        logger.warning(
            _(
                "school %s: run %s gaf %d s of langer geen hartslag meer; zijn slot wordt "
                "overgenomen"
            ),
            school,
            holder,
            settings.lock_stale_seconds,
        )
        audit.append(
            actor,
            "lock_takeover",
            school,
            {"run_id": run_id, "from_run": holder, "stale_seconds": settings.lock_stale_seconds},
        )

    try:
        acquire_locks(
            store.engine,
            [s.name for s in schools_in],
            run_id,
            wait_seconds=settings.lock_wait_minutes * 60,
            stale=timedelta(seconds=settings.lock_stale_seconds),
            on_wait=waiting,
            on_takeover=taken_over,
        )
    except LockTimeout as exc:
        raise RunAborted(
            _(
                "school {school} wordt nog gesynchroniseerd door run {holder}; deze run "
                "wachtte {minutes} minuten en stopte zonder te leveren"
            ).format(school=exc.school, holder=exc.holder, minutes=settings.lock_wait_minutes)
        ) from None


def _reconcile(
    store: LineageStore,
    settings: Settings,
    found: RunAgreements,
    actor: str,
    audit: AuditLog,
    logger: Logger,
) -> None:
    """Before anything is published: settle what a killed run left against the drops."""
    settled = reconcile(
        store,
        settings,
        found.everything,
        now=datetime.now(UTC),
        actor=actor,
        audit=audit,
        drop_root=settings.drop_dir,
        sweep=found.selected,
    )
    for line in settled.lines():
        logger.warning(_("afstemming: %s"), line)
    for problem in settled.problems:
        logger.warning(_("afstemming: %s"), problem)


def read_to_staging(run: Run) -> list[list[StagedSchool]]:
    """Extract and validate every school into staging, a batch per task; record each source.

    Every school is validated before anything is delivered: an unreadable export stops the
    run while every supplier still holds its previous delivery.
    """
    settings = run.settings
    make_private_folder(run.staging, up_to=settings.state_dir)
    agreements = [loaded.agreement for loaded in run.found.selected]
    inputs = list(batches(run.schools_in, settings.batch_size))
    prepared: dict[int, list[StagedSchool]] = {}
    failed: list[str] = []
    number_of: dict[int, int] = {}  # per future, which batch it prepares

    def submit(number: int, batch: list[SchoolInput]) -> Callable[[], PrefectFuture[Any]]:
        def call() -> PrefectFuture[Any]:
            future = prepare_batch.submit(
                batch,
                label([run_name(s) for s in batch]),
                run.started.date(),
                folder=run.staging / f"batch-{number:05d}",
                root=settings.state_dir,
                agreements=agreements,
                edexml_xsd=settings.edexml_xsd,
                csv_column_map=settings.csv_column_map,
            )
            number_of[id(future)] = number
            return future

        return call

    def done(future: PrefectFuture[Any]) -> bool:
        state = future.state
        if state.is_failed():
            failed.append(state.message or _("een schoolexport kon niet gelezen worden"))
            return False
        number = number_of[id(future)]
        prepared[number] = cast(list[StagedSchool], state.result())
        progress().advance(READ, len(inputs[number]))
        return True

    windowed((submit(n, batch) for n, batch in enumerate(inputs)), in_flight(settings), done)
    if failed:
        raise RunAborted(failed[0])
    staged = [prepared[n] for n in range(len(inputs))]
    for batch_of in staged:
        # One transaction per batch, as for the deliveries, not two per school.
        with lineage_batch(run.store.engine):
            for school in batch_of:
                _record_source(run, school)
    return staged


def _record_source(run: Run, school: StagedSchool) -> None:
    """The school's export, its counts and what validation said, into lineage and the log."""
    record_export(run.store, run.run_id, school, pupils_read=school.input_pupils)
    run.store.record_quarantine(
        run.run_id, school=school.brincode, counts=problem_counts(school.problems)
    )
    run.logger.info(
        _("school %s: %d leerlingen gelezen, %d in quarantaine"),
        school.brincode,
        school.input_pupils,
        school.quarantined_pupils,
    )
    for note in school.export.notes:
        # Notes name files, encodings, columns and counts; never a value.
        run.logger.info(_("school %s: %s"), school.brincode, note)


def _format_gaps(run: Run, schools: list[StagedSchool]) -> Iterator[pa.Table]:
    """Pupils a supplier's format cannot carry, per agreement and school, as staged.

    Read one at a time as the report gathers them (lineage.quarantine_report).
    """
    for index in range(len(run.found.selected)):
        for school in schools:
            if school.has(gaps_frame(index)):
                yield school.table(gaps_frame(index))


def plan(run: Run, staged: list[list[StagedSchool]]) -> Plan:
    """The quarantine report, who was erased, the drop root and each supplier's targets."""
    schools = [s for batch in staged for s in batch]
    # Pupils a supplier's format cannot carry are withheld from it: say what to fill in.
    report = build_report(schools, extra=_format_gaps(run, schools))
    _report_csv, report_html = write_report(report, run.settings.state_dir / "runs" / run.run_id)
    settings = run.settings
    if not run.dry_run:
        # Create the drop root itself, never its parents: a missing parent is more likely
        # an unmounted share than a folder to invent.
        try:
            _make_drop_root(settings.drop_dir)
        except OSError as exc:
            raise RunAborted(
                _(
                    "{path}: de levermap kan niet gemaakt worden ({reason}); controleer dat "
                    "de bovenliggende map bestaat en schrijfbaar is"
                ).format(path=settings.drop_dir, reason=exc.strerror)
            ) from None
    targets = {
        loaded.agreement.id: DeliveryTargets(
            drop=None if run.dry_run else drop_for(loaded.agreement, settings, settings.drop_dir),
            held=held_drop(settings),
            archive=archive_drop(settings),
            ledger=None if run.dry_run else run.ledger,
        )
        for loaded in run.found.selected
    }
    return Plan(
        report=report,
        report_html=report_html,
        erased=erased_hashes(run.store.engine),
        targets=targets,
    )


def _make_drop_root(root: Path) -> None:
    """Create the drop root 0751, whatever the umask (an existing one is left as it is).

    Each supplier's group must pass through it to its own 0750 folder; nobody else may
    list which suppliers the school has. Set exactly, so that the 0077 umask of the
    systemd units does not shut the suppliers out.
    """
    try:
        os.mkdir(root, DROP_ROOT_MODE)
    except FileExistsError:
        return
    os.chmod(root, DROP_ROOT_MODE)


def deliver_per_batch(run: Run, staged: list[list[StagedSchool]], planned: Plan) -> Delivered:
    """Per batch and supplier, one task reads the batch from staging and delivers it.

    Batch by batch, every supplier in turn: the tasks in flight share one or two batches,
    which a worker reads from staging once (pipelines.tasks). Outcomes come back in the
    order of supplier, then batch, as they are reported and recorded.
    """
    sizes: dict[int, int] = {}
    order: dict[int, tuple[int, int]] = {}  # per future: (supplier, batch) it delivers

    def submit(agreement_index: int, batch_index: int) -> PrefectFuture[Any]:
        loaded = run.found.selected[agreement_index]
        ready = staged[batch_index]
        supplier = loaded.agreement.id
        # Read as each batch is submitted: what the supplier holds now, for these schools.
        states = load_state(run.store.engine, supplier, [s.brincode for s in ready])
        future = deliver_batch.submit(
            ready,
            loaded,
            supplier,
            label([s.brincode for s in ready]),
            run_id=run.run_id,
            created_at=run.started,
            secret=run.keys.pseudonyms.get(supplier),
            targets=planned.targets[supplier],
            erased=planned.erased,
            membership_secret=run.keys.membership,
            states=states,
        )
        sizes[id(future)] = len(ready)
        order[id(future)] = (agreement_index, batch_index)
        return future

    outcomes: dict[tuple[int, int], list[DeliveryOutcome]] = {}
    failures: dict[tuple[int, int], str] = {}

    def done(future: PrefectFuture[Any]) -> bool:
        progress().advance(DELIVERED, sizes[id(future)])
        key = order[id(future)]
        state = future.state
        if state.is_failed():
            failures[key] = state.message or "a delivery failed"
        else:
            outcomes[key] = _recorded(run, cast(list[DeliveryOutcome], future.result()))
        return True  # one supplier's failure stops nobody else's deliveries

    calls = (
        (lambda i=index, b=batch: submit(i, b))
        for batch in range(len(staged))
        for index in range(len(run.found.selected))
    )
    windowed(calls, in_flight(run.settings), done)
    delivered = Delivered()
    for key in sorted([*outcomes, *failures]):
        if key in failures:
            delivered.failures.append(failures[key])
        else:
            delivered.outcomes.extend(outcomes[key])
    return delivered


def _recorded(run: Run, outcomes: list[DeliveryOutcome]) -> list[DeliveryOutcome]:
    """Record what the ledger did not, in one transaction; return the outcomes without members.

    Each published delivery was recorded as it went out, by whichever process published it;
    the rest (held, nothing to deliver, a dry run) are recorded here, as each task ends. What
    the flow keeps afterwards is counts and names: a delivery's member hashes and state
    would make the flow's memory grow with every pupil of the run.
    """
    recorded = run.ledger.recorded_of(outcomes)
    unrecorded = [o for o in outcomes if o.delivery_id is None or RunLedger.key(o) not in recorded]
    if unrecorded:
        record_outcomes(run.store, run.settings, run.run_id, unrecorded, run.started)
    return [o.without_members() for o in outcomes]


def record(
    run: Run, staged: list[list[StagedSchool]], planned: Plan, delivered: Delivered
) -> list[dict[str, object]]:
    """The outcomes in the log, the run's artifacts, and OpenLineage COMPLETE; the summary rows.

    Raises:
        RunAborted: a delivery failed, or an agreement was skipped.
    """
    outcomes, failures = delivered.outcomes, list(delivered.failures)
    for o in outcomes:
        if o.status == "failed":
            failures.extend(f"{o.supplier} {o.school}: {note}" for note in o.notes)
        # "Nothing changed" is the normal night; everything else needs someone's eyes.
        log = run.logger.info if o.status == "nothing_to_deliver" else run.logger.warning
        for note in o.notes:
            log("%s %s: %s", o.supplier, o.school, note)
    rows = outcome_rows(outcomes) + run.found.on_request_rows()
    table = write_deliveries(rows, run.settings.state_dir / "runs" / run.run_id)
    create_table_artifact(
        key="sluis-deliveries",
        table=artifact_rows(rows),
        description=_(
            "Per leverancier en school (bij meer dan {schools} scholen per leverancier en "
            "status): geleverd, achtergehouden per reden, in quarantaine"
        ).format(schools=DETAIL_SCHOOLS),
    )
    create_link_artifact(
        key="sluis-deliveries-csv",
        link=table.resolve().as_uri(),
        link_text=_("Alle leveringen (CSV)"),
    )
    report_link = planned.report_html.resolve().as_uri()
    create_markdown_artifact(
        key="sluis-quarantine", markdown=planned.report.markdown(link=report_link)
    )
    create_link_artifact(
        key="sluis-quarantine-report",
        link=report_link,
        link_text="Quarantainerapport (HTML)",
    )
    failures = run.found.skipped_failures() + failures
    if failures:
        record_audit_head(run.audit)
        raise RunAborted("; ".join(failures))
    schools = [s for batch in staged for s in batch]
    run.lineage.complete(run.schools_in, schools, outcomes, datetime.now(UTC), run.audit.head())
    return rows


def keep(
    run: Run,
    staged: list[list[StagedSchool]],
    planned: Plan,
    delivered: Delivered,
    rows: list[dict[str, object]],
    approval_wait_minutes: int,
) -> dict[str, Any]:
    """Retention and purge, then wait for approval of what was held; the run's summary."""
    settings, outcomes = run.settings, delivered.outcomes
    if not run.dry_run:
        problems: list[str] = []
        removed = remove_expired_deliveries(
            run.store,
            settings,
            run.found.everything,
            now=datetime.now(UTC),
            actor=run.actor,
            problems=problems,
            keep_state_of=run.found.broken_suppliers,
            audit=run.audit,
        )
        if removed:
            run.logger.info(
                ngettext(
                    "bewaartermijn: %d oude levering uit de levermappen verwijderd",
                    "bewaartermijn: %d oude leveringen uit de levermappen verwijderd",
                    removed,
                ),
                removed,
            )
        for problem in problems:
            run.logger.warning(_("bewaartermijn: %s"), problem)
    purged = purge(
        engine=run.store.engine,
        state_dir=settings.state_dir,
        now=datetime.now(UTC),
        report_days=settings.report_retention_days,
        membership_days=settings.membership_retention_days,
        actor=run.actor,
        audit=run.audit,
    )
    if any(purged.values()):
        run.logger.info(_("bewaartermijn: opgeruimd %s"), purged)
    held = [o for o in outcomes if o.status == "held"]
    if held and approval_wait_minutes and not run.dry_run:
        released = wait_for_approval(
            held,
            run_id=run.run_id,
            settings=settings,
            minutes=approval_wait_minutes,
            logger=run.logger,
        )
        approved = {(r.supplier, r.school) for r in released}
        held = [o for o in held if (o.supplier, o.school) not in approved]
    record_audit_head(run.audit)
    return {
        "run_id": run.run_id,
        "rows": rows,
        "held": [
            {"supplier": o.supplier, "school": o.school, "reason": o.hold_reason} for o in held
        ],
        "quarantine_report": str(planned.report_html),
        "notes": [f"{s.brincode}: {note}" for b in staged for s in b for note in s.export.notes],
    }
