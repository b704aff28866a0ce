"""`sluis run` and `sluis check`: one sync, or a check of the exports that delivers nothing."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.table import Table

from connectors.errors import SluisError, shorten
from connectors.i18n import _
from pipelines.cli_common import (
    _PATH,
    _QUOTED,
    EXIT_ERROR,
    EXIT_HELD,
    _cell,
    _prefect_environment,
    _say,
    err,
    out,
)

if TYPE_CHECKING:
    from pipelines.flows import SyncRequest

__all__ = ["TaskRunnerName", "check", "run", "run_sync"]


class TaskRunnerName(StrEnum):
    """Where a run's tasks execute (pipelines/runners.py)."""

    threads = "threads"
    dask = "dask"


def _check_lineage(state: Path) -> None:
    """Open the lineage database before Prefect starts, as the run will.

    An unreachable --db or a damaged lineage.db is then one line in a second, not a
    failed flow run with Prefect's traceback after its start-up.
    """
    from lineage.store import LineageStore
    from pipelines.settings import Settings

    store = LineageStore(Settings(state_dir=state).lineage_url())
    try:
        store.create_schema()
    finally:
        store.dispose()


def _after_stop(request: SyncRequest) -> None:
    """After a signal stopped `sluis run`: its run is aborted, then RunStopped is raised.

    The flow marks the run aborted itself; this covers a signal that landed outside the
    flow's own code (in Prefect's engine), so the run never stays `running`. Here, not in
    pipelines.stopping, which the delivery code below the flow imports: aborting needs the
    run's OpenLineage client, which stands above it.

    Raises:
        RunStopped: a signal asked the run to stop; nothing when none did.
    """
    from datetime import UTC, datetime

    from lineage.intents import abort_run
    from lineage.store import LineageStore
    from pipelines import stopping
    from pipelines.openlineage_run import RunLineage
    from pipelines.settings import Settings

    stop = stopping.requested()
    if stop is None:
        return
    if stopping.current_run:
        settings = Settings(state_dir=Path(request.state))
        store = LineageStore(settings.lineage_url())
        try:
            at = datetime.now(UTC)
            if abort_run(store.engine, stopping.current_run[0], at=at, message=str(stop)):
                lineage = RunLineage(settings, stopping.current_run[0])
                lineage.abort(str(stop), at)
                lineage.close()
        finally:
            store.dispose()
    raise stop


def run_sync(request: SyncRequest) -> dict[str, Any]:
    """Run the sync flow in this process and return its summary.

    Raises:
        SluisError: the run failed for a reason the user can fix; the message says which.
    """
    _prefect_environment()
    from pipelines.flows import sync  # Prefect is imported only when a run starts.
    from pipelines.prefect_server import temporary_api
    from pipelines.progress import TerminalProgress, showing
    from pipelines.runners import remove_dask_scratch, task_runner_for
    from pipelines.settings import Settings

    settings = Settings(state_dir=Path(request.state))
    runner = task_runner_for(settings)
    # Without PREFECT_API_URL, Sluis starts Prefect's temporary server itself and stops
    # it when the run ends, however it ends (see pipelines/prefect_server.py). Progress
    # goes to stderr, beside Prefect's log lines, so stdout keeps only the summary.
    try:
        with temporary_api(), showing(TerminalProgress(err)):
            state = sync.with_options(task_runner=runner)(request, return_state=True)
    finally:
        remove_dask_scratch(settings)
    _after_stop(request)
    if not state.is_completed():
        raise SluisError(state.message or _("de run is mislukt"))
    return cast(dict[str, Any], state.result())


def run(
    source: Annotated[
        Path, typer.Option(help=_("Exportbestand, of een map met een submap per school"))
    ] = Path("data/samples"),
    consents: Annotated[
        Path | None, typer.Option(help=_("Toestemmingenexport bij één exportbestand"))
    ] = None,
    drop: Annotated[
        Path, typer.Option(help=_("Hoofdmap van de levermap: DIR/<leverancier>/<levering>/"))
    ] = (Path("drop")),
    state: Annotated[
        Path, typer.Option(help=_("Sluis' eigen bestanden: rapporten, sleutels, SQLite-lineage"))
    ] = Path("sluis-state"),
    db: Annotated[
        str | None,
        typer.Option(
            help=_("URL van de lineage-database (standaard: SQLite in --state)"),
            envvar="SLUIS_DB_URL",
            show_envvar=True,
        ),
    ] = None,
    supplier: Annotated[
        list[str] | None, typer.Option(help=_("Alleen deze leverancier (id; herhaalbaar)"))
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=_("Alles behalve publiceren"))] = (
        False
    ),
    task_runner: Annotated[
        TaskRunnerName | None,
        typer.Option(
            help=_(
                "threads (standaard) of dask: een lokaal cluster van werkprocessen, of het "
                "cluster op SLUIS_DASK_ADDRESS"
            ),
            envvar="SLUIS_TASK_RUNNER",
            show_envvar=True,
        ),
    ] = None,
) -> None:
    """Eén synchronisatie: controleer elke school en lever elke leverancier zijn deel.

    Voorbeelden:
        sluis run
        sluis run --source exports/ --drop /srv/sluis/drop --supplier basispoort
        sluis run --source EDEX.XML --consents toestemmingen.csv --dry-run
    """
    from pipelines import stopping
    from pipelines.prefect_server import check_prefect_home

    # SIGTERM (systemd, a reboot) and Ctrl-C stop the run cleanly: one line, exit 143/130.
    stopping.install()
    # Before Prefect is imported (by pipelines.flows): it reads both at import.
    _prefect_environment()
    check_prefect_home()
    from contracts.agreements import load_agreement_set
    from pipelines.flows import SyncRequest
    from pipelines.plan import discover_schools
    from pipelines.settings import Settings

    # Check what can be checked before Prefect's start-up cost: a wrong path or supplier
    # id is answered in a second, not after the temporary API server is up. A bad
    # agreement file is not such a case: the run skips that supplier and delivers the rest.
    settings = Settings()
    found = load_agreement_set(settings.agreements_dir).select(list(supplier or []) or None)
    if found.problems and not found.agreements:
        # Nothing could be delivered at all: say so now, the same line the run would end with.
        raise SluisError(found.skipped_message() or _("geen enkele overeenkomst is bruikbaar"))
    discover_schools(source, consents, settings.consents_filename)
    if db:
        # Through the environment, not a flow parameter: parameters are stored in
        # Prefect's database and shown in its UI, and a URL may hold a password.
        os.environ["SLUIS_DB_URL"] = db
    if task_runner:
        os.environ["SLUIS_TASK_RUNNER"] = task_runner.value
    _check_lineage(state)
    request = SyncRequest(
        source=str(source),
        consents=str(consents) if consents else None,
        drop=str(drop),
        state=str(state),
        suppliers=list(supplier or []),
        dry_run=dry_run,
        trigger="cli",
    )
    try:
        summary = run_sync(request)
    except SluisError:
        _after_stop(request)  # a signal that surfaced as the run's failure is still a stop
        raise
    from pipelines.summary import summary_table

    out.print(summary_table(summary["rows"]))
    for note in summary.get("notes", []):
        _say(out, note)
    _say(out, _("Quarantainerapport: {path}").format(path=summary["quarantine_report"]))
    _say(out, _("Run: {run_id}").format(run_id=summary["run_id"]))
    held = summary.get("held", [])
    for entry in held:
        _say(
            err,
            _(
                "sluis: levering aan {supplier} voor {school} wacht op akkoord: {reason}; "
                "controleer de export en geef haar vrij met: sluis approve {run_id} {supplier}"
            ).format(
                supplier=entry["supplier"],
                school=entry["school"],
                reason=entry["reason"],
                run_id=summary["run_id"],
            ),
        )
    if held:
        raise typer.Exit(EXIT_HELD)


def check(
    source: Annotated[
        Path, typer.Option(help=_("Exportbestand, of een map met een submap per school"))
    ],
    consents: Annotated[
        Path | None, typer.Option(help=_("Toestemmingenexport bij één exportbestand"))
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help=_("Schrijf ook quarantine.csv en quarantine.html in deze map")),
    ] = None,
) -> None:
    """Controleer exports zonder iets te leveren; exitcode 1 als er iets in quarantaine gaat.

    Voorbeelden:
        sluis check --source EDEX.XML --consents toestemmingen.csv
        sluis check --source exports/ --report /tmp/rapport
    """
    from datetime import date

    from lineage.quarantine_report import build_report, write_report
    from pipelines.plan import discover_schools
    from pipelines.settings import Settings
    from pipelines.work import prepare_in_batches

    settings = Settings()
    found = discover_schools(source, consents, settings.consents_filename)
    today = date.today()
    schools = prepare_in_batches(
        found,
        today=today,
        settings=settings,
    )
    result = build_report(schools)
    table = Table(title=_("Sluis: controle van de export"))
    for column in (_("school"), _("bestand"), _("leerlingen"), _("in quarantaine")):
        table.add_column(column)
    for school in schools:
        table.add_row(
            _cell(school.brincode, _QUOTED),
            _cell(school.export.path, _PATH),
            _cell(school.input_pupils),
            _cell(school.quarantined_pupils),
        )
    out.print(table)
    rules = Table(title=_("Problemen per regel"))
    for column in (_("regel"), _("soort"), _("aantal"), _("wat te doen")):
        rules.add_column(column, overflow="fold")
    for row in result.by_rule().itertuples(index=False):
        rules.add_row(
            _cell(row.rule),
            _("fout") if row.severity == "error" else _("waarschuwing"),
            _cell(row.count),
            _cell(row.hint),
        )
    if len(result.problems):
        out.print(rules)
    else:
        _say(out, _("Geen problemen gevonden."))
    from pipelines.check_listing import quarantined_pupils

    listed = quarantined_pupils(result)
    if listed.total:
        out.print(listed.table)
    for school in schools:
        for note in school.export.notes:
            _say(out, _("{school}: {note}").format(school=shorten(school.brincode), note=note))
    if listed.more:
        _say(
            out,
            _("En nog {more} leerling(en) in quarantaine: zie het rapport.").format(
                more=listed.more
            ),
        )
    if report is not None:
        csv_path, html_path = write_report(result, report)
        _say(
            out,
            _("Rapport, met wat te doen per leerling: {html} en {csv}").format(
                html=html_path, csv=csv_path
            ),
        )
    elif listed.total:
        _say(
            out,
            _(
                "Het rapport met wat te doen per leerling: sluis check --source {source} "
                "--report MAP"
            ).format(source=shorten(source, _PATH)),
        )
    if result.errors:
        raise typer.Exit(EXIT_ERROR)
