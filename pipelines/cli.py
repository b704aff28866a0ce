"""The `sluis` command line: run a sync, write synthetic samples.

Every user error ends as one line on stderr and exit code 1; a wrong option is exit 2.
Tracebacks are for defects only.
"""

from __future__ import annotations

import os
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from connectors.errors import RunStopped, SluisError, UsageError, shorten

if TYPE_CHECKING:
    from pipelines.flows import SyncRequest
    from pipelines.settings import Settings

__all__ = ["app", "main"]


class TaskRunnerName(StrEnum):
    """Where a run's tasks execute (pipelines/runners.py)."""

    threads = "threads"
    dask = "dask"


app = typer.Typer(
    name="sluis",
    help="Sluis: only what each agreement allows passes from the school to its suppliers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Wide enough for the summary table when output goes to a file or a CI log, unless
# COLUMNS says how wide the reader's window is (rich reads it when no width is given).
out = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 400)

# A line Sluis prints is at most this long: a note names files, columns and counts, and
# whatever an export holds is cut well before this in the message itself.
_MAX_LINE = 2000
# Line breaks and terminal control codes (an escape sequence in a file name) in a value.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
# A delivery waits for approval (mass change): not an error, but not done either.
EXIT_HELD = 3


def _prefect_environment() -> None:
    """Defaults for Prefect that a school server needs, unless the operator set them.

    Set before Prefect is imported: it reads its settings once, at import.
    """
    # No telemetry from a machine that holds pupil data.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def _say(console: Console, text: object) -> None:
    """Print one line as plain text: no markup, no highlighting, cut to _MAX_LINE.

    Lines can hold values from an export or the command line (a brincode, a file name,
    a header); rich would read "[...]" in them as markup, and its highlighter's regular
    expressions take minutes on a value of 100 KB.
    """
    line = _CONTROL.sub(" ", str(text))
    if len(line) > _MAX_LINE:
        line = line[: _MAX_LINE - 1] + "…"
    console.print(line, markup=False, highlight=False, soft_wrap=True, emoji=False)


def _cell(value: object, limit: int | None = None) -> Text:
    """A table cell as plain text (never markup); a value from an export is shortened."""
    return Text(str(value) if limit is None else shorten(value, limit))


# A value from an export (a brincode) is cut like any quoted value; a path the user gave
# is kept longer, so the table still says which file it is.
_QUOTED = 40
_PATH = 200


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
    """After a signal: the run is aborted (if the flow could not say so), then RunStopped."""
    from pipelines.stopping import after_stop

    after_stop(Path(request.state))


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
        raise SluisError(state.message or "the run failed")
    return cast(dict[str, Any], state.result())


@app.command()
def run(
    source: Annotated[
        Path, typer.Option(help="Export file, or a folder with one subfolder per school")
    ] = Path("data/samples"),
    consents: Annotated[
        Path | None, typer.Option(help="Consent export for a single export file")
    ] = None,
    drop: Annotated[Path, typer.Option(help="Folder drop root: DIR/<supplier>/<delivery>/")] = (
        Path("drop")
    ),
    state: Annotated[
        Path, typer.Option(help="Sluis' own files: reports, keys, SQLite lineage")
    ] = Path("sluis-state"),
    db: Annotated[
        str | None,
        typer.Option(
            help="Lineage database URL (default: SQLite in --state)",
            envvar="SLUIS_DB_URL",
            show_envvar=True,
        ),
    ] = None,
    supplier: Annotated[
        list[str] | None, typer.Option(help="Only this supplier id (repeatable)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Do everything but publish")] = (False),
    task_runner: Annotated[
        TaskRunnerName | None,
        typer.Option(
            help="threads (default) or dask: a local cluster of worker processes, or the "
            "cluster at SLUIS_DASK_ADDRESS",
            envvar="SLUIS_TASK_RUNNER",
            show_envvar=True,
        ),
    ] = None,
) -> None:
    """Run one sync: validate every school, then deliver each supplier its share.

    Examples:
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
        raise SluisError(found.skipped_message() or "no agreement can be used")
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
    _say(out, f"Quarantainerapport: {summary['quarantine_report']}")
    _say(out, f"Run: {summary['run_id']}")
    held = summary.get("held", [])
    for entry in held:
        _say(
            err,
            f"sluis: delivery to {entry['supplier']} for {entry['school']} is on hold: "
            f"{entry['reason']}; check the export, then release it with: sluis approve "
            f"{summary['run_id']} {entry['supplier']}",
        )
    if held:
        raise typer.Exit(EXIT_HELD)


@app.command()
def check(
    source: Annotated[
        Path, typer.Option(help="Export file, or a folder with one subfolder per school")
    ],
    consents: Annotated[
        Path | None, typer.Option(help="Consent export for a single export file")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Also write quarantine.csv and quarantine.html into this folder"),
    ] = None,
) -> None:
    """Validate exports without delivering anything; exit 1 when anything is quarantined.

    Examples:
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
        batch_size=settings.batch_size,
        edexml_xsd=settings.edexml_xsd,
        csv_column_map=settings.csv_column_map,
    )
    result = build_report(schools)
    table = Table(title="Sluis: controle van de export")
    for column in ("school", "bestand", "leerlingen", "in quarantaine"):
        table.add_column(column)
    for school in schools:
        table.add_row(
            _cell(school.brincode, _QUOTED),
            _cell(school.export.path, _PATH),
            _cell(school.input_pupils),
            _cell(school.quarantined_pupils),
        )
    out.print(table)
    rules = Table(title="Problemen per regel")
    for column in ("regel", "soort", "aantal", "wat te doen"):
        rules.add_column(column, overflow="fold")
    for row in result.by_rule().itertuples(index=False):
        rules.add_row(
            _cell(row.rule),
            "fout" if row.severity == "error" else "waarschuwing",
            _cell(row.count),
            _cell(row.hint),
        )
    if len(result.problems):
        out.print(rules)
    else:
        _say(out, "Geen problemen gevonden.")
    from pipelines.check_listing import quarantined_pupils

    listed = quarantined_pupils(result)
    if listed.total:
        out.print(listed.table)
    for school in schools:
        for note in school.export.notes:
            _say(out, f"{shorten(school.brincode)}: {note}")
    if listed.more:
        _say(out, f"En nog {listed.more} leerling(en) in quarantaine: zie het rapport.")
    if report is not None:
        csv_path, html_path = write_report(result, report)
        _say(out, f"Rapport, met wat te doen per leerling: {html_path} en {csv_path}")
    elif listed.total:
        _say(
            out,
            "Het rapport met wat te doen per leerling: sluis check --source "
            f"{shorten(source, _PATH)} --report MAP",
        )
    if result.errors:
        raise typer.Exit(EXIT_ERROR)


@app.command()
def datamap(
    school: Annotated[str, typer.Option(help="BRIN code of the school")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for datamap.html and datamap.md")
    ] = Path("."),
    source: Annotated[
        Path | None, typer.Option(help="The school's export, if Sluis has not synced it yet")
    ] = None,
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Write the data map for parents: who receives what, why, on which basis.

    The school must be one Sluis knows (lineage, SLUIS_SCHOOL_NAMES or --source); its name
    comes from SLUIS_SCHOOL_NAMES.

    Example:
        sluis datamap --school 07XY --out /srv/www/privacy
    """
    from pipelines.datamap_command import write_datamap

    page, found = write_datamap(_settings(state, db), school, source=source, out_dir=out_dir)
    _say(out, f"Gegevenskaart geschreven: {page}")
    if found.problems:
        # Those suppliers receive nothing until their file is fixed; the map says what the
        # agreements that load allow, and says no more.
        raise SluisError(
            f"the data map leaves out {', '.join(found.skipped)}, whose agreement cannot be "
            f"used: {'; '.join(p.message for p in found.problems)}; fix it and write the map "
            "again"
        )


def _settings(state: Path | None, db: str | None) -> Settings:
    from pipelines.settings import Settings

    values: dict[str, Any] = {}
    if state is not None:
        values["state_dir"] = state
    if db:
        values["db_url"] = db
    return Settings(**values)


StateOption = Annotated[
    Path | None, typer.Option(help="Sluis' state folder (default: SLUIS_STATE_DIR)")
]
DbOption = Annotated[str | None, typer.Option(help="Lineage database URL", envvar="SLUIS_DB_URL")]
SchoolOption = Annotated[
    str | None, typer.Option(help="BRIN of the school (needed when lineage knows several)")
]


@app.command()
def vergeet(
    leerlingkey: Annotated[str, typer.Argument(help="The pupil's leerlingnummer (LAS key)")],
    reden: Annotated[str, typer.Option(help="Reason of the request, for the record")] = "",
    herstel: Annotated[bool, typer.Option("--herstel", help="End an earlier erasure")] = False,
    school: SchoolOption = None,
    source: Annotated[
        Path | None,
        typer.Option(help="The school's current export: a pupil in it is known to Sluis"),
    ] = None,
    verwacht: Annotated[
        bool,
        typer.Option(
            "--verwacht",
            help="The pupil is not known to Sluis yet and is expected in a later export",
        ),
    ] = False,
    door: Annotated[str | None, typer.Option(help="Who records this (default: OS user)")] = None,
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Erasure: leave a pupil out of every later delivery (--herstel undoes it).

    A leerlingnummer Sluis does not know at that school (in lineage or in the --source
    export) is refused, unless --verwacht says the pupil will be in a later export.

    Examples:
        sluis vergeet 100234 --reden "verzoek ouders 12-11-2026"
        sluis vergeet 100234 --herstel --reden "verzoek ingetrokken"
        sluis vergeet 100240 --reden "verzoek ouders" --school 07XY --verwacht
    """
    from connectors.identifiers import canonical_key
    from lineage.audit import default_actor
    from pipelines.rights_commands import forget

    if not herstel and not reden.strip():
        raise UsageError("--reden is required: say why (e.g. the date of the parents' request)")
    brin = forget(
        _settings(state, db),
        leerlingkey,
        school=school,
        reason=reden.strip(),
        actor=door or default_actor(),
        restore=herstel,
        source=source,
        expected=verwacht,
    )
    leerlingkey = canonical_key(leerlingkey)
    if herstel:
        _say(out, f"Leerling {leerlingkey} ({brin}) wordt weer geleverd vanaf de volgende run.")
    else:
        _say(
            out,
            f"Leerling {leerlingkey} ({brin}) wordt vanaf de volgende run aan niemand meer "
            "geleverd; leveranciers met delta's krijgen een verwijdering.",
        )


@app.command()
def verstrek(
    supplier: Annotated[str, typer.Argument(help="Agreement id of the recipient (leerplicht)")],
    aanvrager: Annotated[str, typer.Option(help="Who asks: officer and organisation")],
    kenmerk: Annotated[str, typer.Option(help="The request's own reference")],
    source: Annotated[Path, typer.Option(help="The school's current export")],
    leerling: Annotated[
        list[str] | None, typer.Option(help="Leerlingnummer of a named pupil (repeatable)")
    ] = None,
    jaargroep: Annotated[
        list[str] | None, typer.Option(help="Only this jaargroep (repeatable)")
    ] = None,
    school: SchoolOption = None,
    drop: Annotated[Path | None, typer.Option(help="Folder drop root")] = None,
    door: Annotated[str | None, typer.Option(help="Who records this (default: OS user)")] = None,
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Answer a request of a recipient with a legal duty: only its agreement's fields.

    Examples:
        sluis verstrek leerplicht --aanvrager "leerplichtambtenaar gemeente Zinderen"
            --kenmerk LP-2026-0142 --leerling 100234 --source exports/27ZX
    """
    from lineage.audit import default_actor
    from pipelines.flows import SLUIS_VERSION
    from pipelines.legal_requests import LegalRequest, answer_request

    settings = _settings(state, db)
    if drop is not None:
        settings = settings.model_copy(update={"drop_dir": drop})
    outcome = answer_request(
        settings,
        LegalRequest(
            supplier=supplier,
            requester=aanvrager,
            reference=kenmerk,
            school=school,
            pupils=tuple(leerling or ()),
            jaargroepen=tuple(jaargroep or ()),
        ),
        source=source,
        actor=door or default_actor(),
        version=SLUIS_VERSION,
    )
    delivered = outcome.counts.get("delivered", 0)
    _say(
        out,
        f"Verstrekt aan {outcome.supplier} ({kenmerk.strip()}): {delivered} leerling(en) van "
        f"{outcome.school}, naar {outcome.location or '-'}",
    )


@app.command()
def inzage(
    leerlingkey: Annotated[str, typer.Argument(help="The pupil's leerlingnummer (LAS key)")],
    source: Annotated[
        Path | None,
        typer.Option(help="Current export, to show today's values of the shared fields"),
    ] = None,
    school: SchoolOption = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the report")] = Path("."),
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Report for a parent: who received which data about this pupil, when, and why.

    Example:
        sluis inzage 100234 --source exports/ --out /tmp/inzage
    """
    from pipelines.rights_commands import inzage as build

    report, html_path, json_path = build(
        _settings(state, db), leerlingkey, school=school, source=source, out_dir=out_dir
    )
    _say(out, f"{len(report.suppliers)} leverancier(s). Rapport: {html_path} en {json_path}")


audit_app = typer.Typer(help="The audit log of administrator actions.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    head: Annotated[
        str | None,
        typer.Option(help="A head printed earlier (SEQ:MAC): the log must still hold it"),
    ] = None,
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Check that no audit entry was edited, removed or reordered; exit 1 if one was.

    Checks the MAC chain, and the log's end against the head recorded with every entry,
    the heads the runs recorded and the one given with --head. Prints the head to keep.

    Examples:
        sluis audit verify
        sluis audit verify --head 42:5be0...
    """
    from lineage.audit import AuditHead
    from pipelines.rights_commands import verify_audit

    try:
        saved = AuditHead.parse(head) if head is not None else None
    except ValueError as exc:
        raise UsageError(f"--head: {exc}") from None
    result = verify_audit(_settings(state, db), saved)
    if result.ok:
        _say(out, f"Auditlog intact: {result.checked} regels gecontroleerd.")
        if result.head is not None:
            _say(
                out,
                f"Kop van het auditlog: {result.head} (bewaar deze regel buiten Sluis; "
                f"controleer later met: sluis audit verify --head {result.head})",
            )
        return
    _say(err, f"sluis: audit log broken at entry {result.first_bad_seq}: {result.problem}")
    raise typer.Exit(EXIT_ERROR)


db_app = typer.Typer(help="The lineage database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(state: StateOption = None, db: DbOption = None) -> None:
    """Apply the lineage database's pending migrations (creates it when empty).

    Example:
        sluis db upgrade --db postgresql+psycopg://sluis@dbhost/sluis
    """
    from pipelines.db_commands import db_upgrade as run_upgrade

    _say(out, run_upgrade(_settings(state, db)))


keys_app = typer.Typer(help="Pseudonym and membership keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def keys_rotate(
    name: Annotated[str, typer.Argument(help="Supplier id, lineage-membership or lineage-audit")],
    door: Annotated[str | None, typer.Option(help="Who rotates (default: OS user)")] = None,
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Replace a key on purpose: the only way a key Sluis depends on may change.

    A generated key gets a new random one (a supplier then gets new, unlinkable
    pseudonyms); for a key from a setting, change the setting first, then run this to
    record it. The membership key is refused while erasures are active, the audit key
    once the log is chained under it.

    Example:
        sluis keys rotate onderzoek
    """
    from lineage.store import LineageStore
    from pipelines.keys import rotate_key

    settings = _settings(state, db)
    store = LineageStore(settings.lineage_url())
    try:
        store.create_schema()
        where = rotate_key(settings, store.engine, name, door)
    finally:
        store.dispose()
    _say(
        out,
        f"Nieuwe sleutel voor {name} in {where}; de rotatie staat in het auditlog. "
        "Maak nu een nieuwe back-up van de sleutel.",
    )


@app.command()
def serve(
    per: Annotated[
        str, typer.Option(help="One deployment per 'school' (default) or one for the 'board'")
    ] = "school",
    check: Annotated[
        bool, typer.Option("--check", help="Only list the deployments and schedules")
    ] = False,
) -> None:
    """Serve the nightly syncs: one deployment per school, runs started from the Prefect UI.

    Reads the schools from SLUIS_SOURCE, the schedule from SLUIS_SCHEDULE_CRON and
    SLUIS_SCHEDULE_TIMEZONE (and an agreement's own schedule.cron); runs until stopped.

    Examples:
        sluis serve
        sluis serve --per board
    """
    from pipelines.serve import describe, plan_deployments, serve_forever
    from pipelines.settings import Settings

    if per not in ("school", "board"):
        raise UsageError(f"--per must be 'school' or 'board', not {per!r}")
    settings = Settings()
    # Planned once: it reads every agreement and looks into every school's export.
    plans = plan_deployments(settings, per)  # type: ignore[arg-type]
    for line in describe(settings, plans):
        _say(out, line)
    if check:
        return
    _prefect_environment()
    serve_forever(settings, plans)


@app.command()
def approve(
    run_id: Annotated[str, typer.Argument(help="The run that held the delivery")],
    supplier: Annotated[str, typer.Argument(help="Supplier id")],
    door: Annotated[str | None, typer.Option(help="Who approves (default: OS user)")] = None,
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Release a delivery held for a mass change, unchanged; the approval is recorded.

    Example:
        sluis approve 0b6c9d0e-0a43-4c41-9a55-1f0e0d7c2a11 basispoort
    """
    from lineage.audit import default_actor
    from pipelines.holds import approve as release

    released = release(_settings(state, db), run_id, supplier, door or default_actor())
    for item in released:
        _say(out, f"Vrijgegeven: {item.delivery_id} ({item.school}) naar {item.location}")


@app.command()
def redeliver(
    supplier: Annotated[str, typer.Argument(help="Supplier id")],
    delivery: Annotated[
        str | None, typer.Option(help="An earlier delivery (folder name); default: the last")
    ] = None,
    door: Annotated[str | None, typer.Option(help="Who asks (default: OS user)")] = None,
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Publish each school's last (or a named) delivery again, unchanged, as a new delivery.

    Examples:
        sluis redeliver basispoort
        sluis redeliver basispoort --delivery 20261101t020000z-27zx-0b6c9d0e
    """
    from lineage.audit import default_actor
    from pipelines.flows import SLUIS_VERSION
    from pipelines.holds import redeliver as again

    released = again(
        _settings(state, db), supplier, delivery, door or default_actor(), version=SLUIS_VERSION
    )
    for item in released:
        _say(out, f"Opnieuw geleverd: {item.delivery_id} ({item.school}) naar {item.location}")


@app.command()
def sample(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the schools to")],
    schools: Annotated[int, typer.Option(min=1, help="Number of schools")] = 2,
    pupils_per_school: Annotated[int, typer.Option(min=1, help="Pupils per school")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files")] = 20261128,
) -> None:
    """Write synthetic school exports (no real child) with consent files.

    Example:
        sluis sample --out /tmp/samples --schools 3 --pupils-per-school 300 --seed 7
    """
    from connectors.synthetic import write_samples

    folders = write_samples(
        out_dir, schools=schools, pupils_per_school=pupils_per_school, seed=seed
    )
    _say(out, f"{len(folders)} school(s) written to {out_dir}")


@app.command("reconcile")
def reconcile_command(
    drop: Annotated[Path, typer.Option(help="Folder drop root to clean")] = Path("drop"),
    state: Annotated[Path, typer.Option(help="Sluis' state folder")] = Path("sluis-state"),
    db: DbOption = None,
) -> None:
    """Settle what a killed run left (`sluis run` does this itself at its start).

    A delivery a killed run was publishing counts as delivered when its manifest is in the
    drop and is rolled back otherwise; leftover staging folders are removed; a run that
    stopped beating is marked aborted. Runs that are alive are left alone.

    Example:
        sluis reconcile --drop /srv/sluis/drop --state /var/lib/sluis
    """
    from pipelines.reconcile import reconcile_drops

    settled = reconcile_drops(_settings(state, db).model_copy(update={"drop_dir": drop}))
    for line in settled.lines() or ["nothing to settle: no stopped run left anything behind"]:
        _say(out, line)
    for problem in settled.problems:
        _say(err, f"sluis: {problem}")
    if settled.unsettled:
        raise SluisError(
            f"{len(settled.unsettled)} delivery(ies) could not be checked against their drop: "
            f"{', '.join(settled.unsettled)}; fix the drop (see above), then run "
            "sluis reconcile again"
        )


def main() -> None:
    """Console-script entry point: user errors become one line and exit code 1 (2 for usage).

    A run stopped by SIGTERM or SIGINT is one line too, exit 143 or 130.
    """
    try:
        app()
    except RunStopped as exc:
        _say(err, f"sluis: {exc}")
        sys.exit(exc.exit_code)
    except UsageError as exc:
        _say(err, f"sluis: {exc}")
        sys.exit(EXIT_USAGE)
    except SluisError as exc:
        _say(err, f"sluis: {exc}")
        sys.exit(EXIT_ERROR)
