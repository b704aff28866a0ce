"""The nightly `sync` flow: per school validate once, then per supplier apply and deliver.

No `from __future__ import annotations` here: Prefect builds the parameter schema of a
deployment from real annotations, and postponed ones break served runs.
"""

import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Completed, Failed
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, ConfigDict, Field

from connectors.errors import RunStopped, SluisError
from connectors.i18n import _, set_language
from connectors.staging import remove_run as remove_staging
from lineage.audit import AuditLog
from lineage.audit_anchors import anchor_run
from lineage.intents import abort_run
from lineage.locks import release as release_locks
from lineage.store import LineageStore
from pipelines import steps, stopping
from pipelines.heartbeat import Heartbeat
from pipelines.memory import give_back
from pipelines.openlineage_run import RunLineage
from pipelines.settings import Settings
from pipelines.steps import DROP_ROOT_MODE, RunAborted

__all__ = ["DROP_ROOT_MODE", "RunAborted", "SyncRequest", "sync"]

SLUIS_VERSION = "0.1.0"


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
    # Absolute: staging references and targets travel to tasks, which may run in another
    # process or on another machine (Dask) with another working folder. The source stays
    # as given, so messages name an export as the coordinator wrote it (the README asks
    # for absolute paths beyond one machine).
    settings = Settings(
        source=Path(request.source),
        drop_dir=Path(request.drop).resolve(),
        state_dir=Path(request.state).resolve(),
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
    """The run's steps (pipelines.steps), in order; staging is removed however it ends."""
    run = steps.begin(
        settings=settings,
        run_id=run_id,
        started=started,
        store=store,
        lineage=lineage,
        logger=logger,
        trigger=request.trigger,
        dry_run=request.dry_run,
        suppliers=request.suppliers,
        school=request.school,
        consents=Path(request.consents) if request.consents else None,
        audit_slot=audit,
    )
    try:
        # Each step starts from what is alive (pipelines.memory): the run's peak is its
        # largest step's, not the sum of what each step left in its threads' heaps.
        staged = steps.read_to_staging(run)
        give_back()
        planned = steps.plan(run, staged)
        give_back()
        delivered = steps.deliver_per_batch(run, staged, planned)
        give_back()
        rows = steps.record(run, staged, planned, delivered)
        return steps.keep(run, staged, planned, delivered, rows, request.approval_wait_minutes)
    finally:
        remove_staging(settings.state_dir, run_id)
