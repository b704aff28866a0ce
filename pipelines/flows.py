"""The nightly `sync` flow: per school validate once, then per supplier apply and deliver.

No `from __future__ import annotations` here: Prefect builds the parameter schema of a
deployment from real annotations, and postponed ones break served runs.
"""

import logging
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.client.schemas.objects import State
from prefect.futures import as_completed
from prefect.runtime import flow_run
from prefect.states import Completed, Failed
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, ConfigDict, Field

from connectors.errors import RunStopped, SluisError
from connectors.i18n import _, ngettext, set_language
from contracts.agreements import LoadedAgreement
from contracts.validation import ValidatedSchool, problem_counts
from lineage.audit import AuditLog, default_actor, record_agreement_versions
from lineage.audit_anchors import anchor_run
from lineage.intents import abort_run
from lineage.locks import LockTimeout
from lineage.locks import acquire as acquire_locks
from lineage.locks import release as release_locks
from lineage.quarantine_report import build_report, write_report
from lineage.rights import erased_hashes
from lineage.state import load_state
from lineage.store import LineageStore
from pipelines import stopping
from pipelines.approval import wait_for_approval
from pipelines.delivery import DeliveryOutcome, DeliveryTargets
from pipelines.drops import archive_drop, drop_for, held_drop
from pipelines.heartbeat import Heartbeat
from pipelines.holds import record_outcome, remove_expired_deliveries
from pipelines.keys import RunKeys
from pipelines.openlineage_run import RunLineage
from pipelines.plan import batches, discover_schools, label, run_name, select_school
from pipelines.progress import DELIVERED, READ
from pipelines.progress import current as progress
from pipelines.publishing import RunLedger
from pipelines.reconcile import reconcile
from pipelines.retention import purge
from pipelines.run_guards import RunAgreements, check_keys, record_audit_head
from pipelines.settings import Settings
from pipelines.summary import outcome_rows
from pipelines.tasks import deliver_batch, prepare_batch
from policy.format_needs import format_gaps

__all__ = ["RunAborted", "SyncRequest", "sync"]

SLUIS_VERSION = "0.1.0"
DROP_ROOT_MODE = 0o751


class SyncRequest(BaseModel):
    """Parameters of one sync. Unknown keys are refused, so a typo is an error, not a default.

    Paths are shown in the Prefect UI; secrets (database URL, keys) never travel here:
    they come from settings.
    """

    # The run form in the Prefect UI shows each field's title and description, and the
    # model's description above them: Dutch, through gettext, like every text a person reads.
    # json_schema_extra replaces the description pydantic would take from this docstring.
    model_config = ConfigDict(
        extra="forbid",
        title=_("Synchronisatie"),
        json_schema_extra={
            "description": _(
                "Wat deze run leest, waar hij levert en voor wie. Sleutels en de database "
                "komen uit de instellingen, nooit uit dit formulier."
            )
        },
    )

    source: str = Field(
        "data/samples", title=_("Bron"), description=_("Exportbestand, of map met scholen")
    )
    school: str | None = Field(
        None,
        title=_("School"),
        description=_("Alleen deze school uit de bronmap (de mapnaam, het BRIN-nummer)"),
    )
    consents: str | None = Field(
        None,
        title=_("Toestemmingen"),
        description=_("Export van de toestemmingen (bij één exportbestand)"),
    )
    drop: str = Field("drop", title=_("Afgiftemap"), description=_("Map waarin Sluis levert"))
    state: str = Field(
        "sluis-state",
        title=_("Eigen bestanden"),
        description=_("De eigen bestanden van Sluis (rapporten, sleutels, SQLite)"),
    )
    suppliers: list[str] = Field(
        default_factory=list,
        title=_("Leveranciers"),
        description=_("Id's van leveranciers; leeg = allemaal"),
    )
    dry_run: bool = Field(False, title=_("Proefrun"), description=_("Alles doen behalve leveren"))
    trigger: str = Field(
        "ui",
        title=_("Gestart door"),
        description=_("Wie de run startte: cli, schedule of ui"),
    )
    approval_wait_minutes: int = Field(
        0,
        ge=0,
        le=1440,
        title=_("Wachttijd voor goedkeuring (minuten)"),
        description=_(
            "Als een levering is tegengehouden om een grote wijziging: zoveel minuten wacht "
            "deze run op goedkeuring in de Prefect UI (0: de run stopt; keur later goed met "
            "sluis approve)"
        ),
    )


class RunAborted(SluisError):
    """A stage returned a user error; the run stops before (further) delivery."""


def _actor(trigger: str) -> str:
    """Who acts in this run: the OS user for the CLI, the scheduler otherwise."""
    if trigger == "cli":
        try:
            return default_actor()
        except SluisError:
            return "cli"
    return f"prefect-{trigger}"


def _run_id() -> str:
    current = flow_run.get_id()
    return str(current) if current else str(uuid.uuid4())


def _flow_run_name() -> str:
    """'sync-27zx-ui', or 'sync-alle-scholen-cli' for a run over the whole source.

    School and trigger, lower case as the delivery folders spell a school, so a run is
    recognisable in the UI's list.
    """
    request = flow_run.parameters.get("request") or {}
    if isinstance(request, BaseModel):
        request = request.model_dump()
    school = request.get("school") or "alle-scholen"
    return f"sync-{school}-{request.get('trigger', 'ui')}".lower()


@flow(
    name="sync",
    flow_run_name=_flow_run_name,
    persist_result=False,
    task_runner=ThreadPoolTaskRunner(max_workers=2),  # type: ignore[arg-type]
    log_prints=False,
    description=_(
        "Valideert elke school één keer, levert elke leverancier zijn deel en legt alles vast."
    ),
)
def sync(request: SyncRequest) -> State:
    """Validate every school once, then deliver each supplier its share, and record it all."""
    logger = get_run_logger()
    settings = Settings(
        source=Path(request.source), drop_dir=Path(request.drop), state_dir=Path(request.state)
    )
    # A served or UI-started run has no CLI in front of it: its messages follow SLUIS_LANG too.
    set_language(settings.lang)
    run_id = _run_id()
    started = datetime.now(UTC).replace(microsecond=0)
    try:
        store = _open_store(settings)
    except SluisError as exc:  # unreachable or damaged: one line, not a traceback
        logger.error(_("Run mislukt: %s"), exc)
        return Failed(message=str(exc), data=None)
    store.start_run(
        run_id,
        started_at=started,
        trigger=request.trigger,
        dry_run=request.dry_run,
        # Absolute, so `sluis approve` and `sluis redeliver` publish to the same place
        # from whatever folder they are started in.
        parameters={
            **request.model_dump(),
            "drop": str(settings.drop_dir.resolve()),
            "state": str(settings.state_dir.resolve()),
        },
        sluis_version=SLUIS_VERSION,
    )
    stopping.current_run[:] = [run_id]
    stopping.reclaim()
    lineage = RunLineage(settings, run_id)
    audit: list[AuditLog] = []  # the run's keyed audit log, once its key is checked
    # From the first second: another run tells this one, alive, from a killed one by it.
    heartbeat = Heartbeat(store.engine, run_id, stale_seconds=settings.lock_stale_seconds)
    try:
        heartbeat.start()
        summary = _sync(request, settings, run_id, started, store, lineage, logger, audit)
    except RunStopped as exc:
        _stopped(store, lineage, run_id, str(exc))
        logger.error(_("Run gestopt: %s"), exc)
        return Failed(message=str(exc), data=None)
    except SluisError as exc:
        message = str(exc)
        lineage.fail(message, datetime.now(UTC))
        lineage.close()
        anchor_run(store.engine, run_id, audit[0].head() if audit else None)
        store.finish_run(run_id, status="failed", finished_at=datetime.now(UTC), message=message)
        store.dispose()
        logger.error(_("Run mislukt: %s"), message)
        return Failed(message=message, data=None)
    finally:
        heartbeat.stop()
        release_locks(store.engine, run_id)
    lineage.close()
    anchor_run(store.engine, run_id, audit[0].head())
    # Written last: a run without its completed record did not complete.
    store.finish_run(run_id, status="completed", finished_at=datetime.now(UTC))
    store.dispose()
    # The state message is shown in the Prefect UI and the run log: Dutch, like the rest.
    return Completed(message=_("synchronisatie voltooid"), data=summary)


def _stopped(store: LineageStore, lineage: RunLineage, run_id: str, message: str) -> None:
    """A signal stopped the run: aborted in lineage, with an OpenLineage ABORT."""
    at = datetime.now(UTC)
    if abort_run(store.engine, run_id, at=at, message=message):
        lineage.abort(message, at)
    lineage.close()
    store.dispose()


def _reconcile(
    store: LineageStore,
    settings: Settings,
    everything: list[LoadedAgreement],
    selected: list[LoadedAgreement],
    actor: str,
    audit: AuditLog,
    logger: logging.LoggerAdapter[logging.Logger] | logging.Logger,
) -> None:
    """Before anything is published: settle what a killed run left against the drops."""
    settled = reconcile(
        store,
        settings,
        everything,
        now=datetime.now(UTC),
        actor=actor,
        audit=audit,
        drop_root=settings.drop_dir,
        sweep=selected,
    )
    for line in settled.lines():
        logger.warning(_("afstemming: %s"), line)
    for problem in settled.problems:
        logger.warning(_("afstemming: %s"), problem)


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


def _open_store(settings: Settings) -> LineageStore:
    store = LineageStore(settings.lineage_url())
    try:
        store.create_schema()
    except SluisError:
        store.dispose()
        raise
    return store


def _sync(
    request: SyncRequest,
    settings: Settings,
    run_id: str,
    started: datetime,
    store: LineageStore,
    lineage: RunLineage,
    logger: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    audit: list[AuditLog],
) -> dict[str, Any]:
    found = RunAgreements.load(settings, request.suppliers)
    everything, agreements = found.everything, found.selected
    for problem in found.others_broken:
        logger.warning(_("overeenkomst overgeslagen: %s"), problem)
    # Before anything is delivered or held: a key missing or replaced stops the run here.
    keys: RunKeys = check_keys(settings, store.engine, agreements)
    audit.append(AuditLog(store.engine, keys.audit))
    actor = _actor(request.trigger)
    # Editing an agreement file by hand is an administrator action too: noticed by hash.
    for entry in record_agreement_versions(audit[0], found.versions, actor):
        # The action is an audit code (e.g. agreement_changed), kept as it is recorded.
        logger.info(_("overeenkomst %s: %s"), entry.subject, entry.action)
    schools_in = discover_schools(
        settings.source,
        Path(request.consents) if request.consents else None,
        settings.consents_filename,
    )
    schools_in = select_school(schools_in, request.school)
    logger.info(_("scholen: %d, leveranciers: %d"), len(schools_in), len(agreements))

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
        audit[0].append(
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
    lineage.start(schools_in, started)
    if not request.dry_run:  # a dry run changes no drop; the next real run settles
        _reconcile(store, settings, everything, agreements, actor, audit[0], logger)
    ledger = RunLedger(store, settings, run_id, started)
    progress().start(len(schools_in), len(schools_in) * len(agreements))

    # Every school is validated before anything is delivered: an unreadable export stops
    # the run while every supplier still holds its previous delivery.
    prepared: list[list[ValidatedSchool]] = []
    for batch in batches(schools_in, settings.batch_size):
        name = label([run_name(s) for s in batch])
        state = prepare_batch(batch, name, started.date(), settings.edexml_xsd, return_state=True)
        if state.is_failed():
            raise RunAborted(state.message or _("een schoolexport kon niet gelezen worden"))
        prepared.append(cast(list[ValidatedSchool], state.result()))
        progress().advance(READ, len(batch))
    schools = [s for batch in prepared for s in batch]
    for school in schools:
        store.record_source(
            run_id,
            school=school.brincode,
            path=str(school.export.path),
            sha256=school.export.sha256,
            format=school.export.format,
            encoding=school.export.encoding,
            pupils_read=school.input_pupils,
            schooljaar=school.schooljaar,
        )
        store.record_quarantine(
            run_id, school=school.brincode, counts=problem_counts(school.problems)
        )
        logger.info(
            _("school %s: %d leerlingen gelezen, %d in quarantaine"),
            school.brincode,
            school.input_pupils,
            school.quarantined_pupils,
        )
        for note in school.export.notes:
            # Notes name files, encodings, columns and counts; never a value.
            logger.info(_("school %s: %s"), school.brincode, note)
    # Pupils a supplier's format cannot carry are withheld from it: say what to fill in.
    gaps = format_gaps(schools, [loaded.agreement for loaded in agreements], started.date())
    report = build_report(schools, extra=gaps)
    _report_csv, report_html = write_report(report, settings.state_dir / "runs" / run_id)

    erased = erased_hashes(store.engine)
    if not request.dry_run:
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
    futures = []
    batch_sizes: dict[int, int] = {}  # per future, how many schools it delivers
    for loaded in agreements:
        targets = DeliveryTargets(
            drop=None
            if request.dry_run
            else drop_for(loaded.agreement, settings, settings.drop_dir),
            held=held_drop(settings),
            archive=archive_drop(settings),
            ledger=None if request.dry_run else ledger,
        )
        for ready in prepared:
            states = load_state(store.engine, loaded.agreement.id, [s.brincode for s in ready])
            futures.append(
                deliver_batch.submit(
                    ready,
                    loaded,
                    loaded.agreement.id,
                    label([s.brincode for s in ready]),
                    run_id=run_id,
                    created_at=started,
                    secret=keys.pseudonyms.get(loaded.agreement.id),
                    targets=targets,
                    erased=erased,
                    membership_secret=keys.membership,
                    states=states,
                )
            )
            batch_sizes[id(futures[-1])] = len(ready)
    for done in as_completed(futures):
        progress().advance(DELIVERED, batch_sizes[id(done)])
    outcomes: list[DeliveryOutcome] = []
    failures = []
    for future in futures:
        state = future.state
        if state.is_failed():
            failures.append(state.message or "a delivery failed")
            continue
        outcomes.extend(cast(list[DeliveryOutcome], future.result()))
    # Each published delivery was recorded as it went out, by whichever process published it.
    recorded = ledger.recorded_of(outcomes)
    for o in outcomes:
        if o.delivery_id is None or RunLedger.key(o) not in recorded:
            record_outcome(store, settings, run_id, o, started)
        if o.status == "failed":
            failures.extend(f"{o.supplier} {o.school}: {note}" for note in o.notes)
        # "Nothing changed" is the normal night; everything else needs someone's eyes.
        log = logger.info if o.status == "nothing_to_deliver" else logger.warning
        for note in o.notes:
            log("%s %s: %s", o.supplier, o.school, note)
    rows = outcome_rows(outcomes) + found.on_request_rows()
    create_table_artifact(
        key="sluis-deliveries",
        table=rows,
        description=_(
            "Per leverancier en school: geleverd, achtergehouden per reden, in quarantaine"
        ),
    )
    create_markdown_artifact(
        key="sluis-quarantine", markdown=report.markdown(link=report_html.resolve().as_uri())
    )
    create_link_artifact(
        key="sluis-quarantine-report",
        link=report_html.resolve().as_uri(),
        link_text="Quarantainerapport (HTML)",
    )
    failures = found.skipped_failures() + failures
    if failures:
        record_audit_head(audit[0])
        raise RunAborted("; ".join(failures))
    lineage.complete(schools_in, schools, outcomes, datetime.now(UTC), audit[0].head())
    if not request.dry_run:
        problems: list[str] = []
        removed = remove_expired_deliveries(
            store,
            settings,
            everything,
            now=datetime.now(UTC),
            actor=actor,
            problems=problems,
            keep_state_of=found.broken_suppliers,
            audit=audit[0],
        )
        if removed:
            logger.info(
                ngettext(
                    "bewaartermijn: %d oude levering uit de levermappen verwijderd",
                    "bewaartermijn: %d oude leveringen uit de levermappen verwijderd",
                    removed,
                ),
                removed,
            )
        for problem in problems:
            logger.warning(_("bewaartermijn: %s"), problem)
    purged = purge(
        engine=store.engine,
        state_dir=settings.state_dir,
        now=datetime.now(UTC),
        report_days=settings.report_retention_days,
        membership_days=settings.membership_retention_days,
        actor=actor,
        audit=audit[0],
    )
    if any(purged.values()):
        logger.info(_("bewaartermijn: opgeruimd %s"), purged)
    held = [o for o in outcomes if o.status == "held"]
    if held and request.approval_wait_minutes and not request.dry_run:
        released = wait_for_approval(
            held,
            run_id=run_id,
            settings=settings,
            minutes=request.approval_wait_minutes,
            logger=logger,
        )
        approved = {(r.supplier, r.school) for r in released}
        held = [o for o in held if (o.supplier, o.school) not in approved]
    record_audit_head(audit[0])
    return {
        "run_id": run_id,
        "rows": rows,
        "held": [
            {"supplier": o.supplier, "school": o.school, "reason": o.hold_reason} for o in held
        ],
        "quarantine_report": str(report_html),
        "notes": [f"{s.brincode}: {note}" for s in schools for note in s.export.notes],
    }
