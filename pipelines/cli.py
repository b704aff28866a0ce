"""The `sluis` command line: run a sync, write synthetic samples.

Every user error ends as one line on stderr and exit code 1; a wrong option is exit 2.
Tracebacks are for defects only. Help, summaries and messages are Dutch (connectors.i18n);
the docstrings of the commands are their help text, so they are Dutch too.
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
from connectors.i18n import _, ngettext, set_language
from pipelines.cli_words import (
    ClickException,
    ClickUsageError,
    SluisTyper,
    is_help_without_arguments,
    speak_typer,
    usage_message,
)
from pipelines.settings import read_language

if TYPE_CHECKING:
    from pipelines.flows import SyncRequest
    from pipelines.settings import Settings

__all__ = ["app", "main"]

# Before any help text is built: typer reads the help strings when the commands are declared.
set_language(read_language())
speak_typer()


class TaskRunnerName(StrEnum):
    """Where a run's tasks execute (pipelines/runners.py)."""

    threads = "threads"
    dask = "dask"


app = SluisTyper(
    name="sluis",
    help=_(
        "Sluis: alleen wat elke overeenkomst toestaat gaat van de school naar haar leveranciers."
    ),
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
        raise SluisError(state.message or _("de run is mislukt"))
    return cast(dict[str, Any], state.result())


@app.command()
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


@app.command()
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
        batch_size=settings.batch_size,
        edexml_xsd=settings.edexml_xsd,
        csv_column_map=settings.csv_column_map,
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


@app.command()
def datamap(
    school: Annotated[str, typer.Option(help=_("BRIN-code van de school, staat in de titel"))],
    out_dir: Annotated[
        Path, typer.Option("--out", help=_("Map voor datamap.html en datamap.md"))
    ] = Path("."),
    source: Annotated[
        Path | None,
        typer.Option(
            help=_("De export van de school, als Sluis die nog niet heeft gesynchroniseerd")
        ),
    ] = None,
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Schrijf de gegevenskaart voor ouders: wie krijgt wat, waarom, op welke grondslag.

    De school moet Sluis bekend zijn (lineage, SLUIS_SCHOOL_NAMES of --source); de naam
    komt uit SLUIS_SCHOOL_NAMES.

    Voorbeeld:
        sluis datamap --school 07XY --out /srv/www/privacy
    """
    from pipelines.datamap_command import write_datamap

    page, found = write_datamap(_settings(state, db), school, source=source, out_dir=out_dir)
    _say(out, _("Gegevenskaart geschreven: {path}").format(path=page))
    if found.problems:
        # Those suppliers receive nothing until their file is fixed; the map says what the
        # agreements that load allow, and says no more.
        raise SluisError(
            _(
                "de gegevenskaart laat {suppliers} weg, want hun overeenkomst is niet bruikbaar: "
                "{problems}; herstel die en schrijf de kaart opnieuw"
            ).format(
                suppliers=", ".join(found.skipped),
                problems="; ".join(p.message for p in found.problems),
            )
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
    Path | None, typer.Option(help=_("Sluis' statusmap (standaard: SLUIS_STATE_DIR)"))
]
DbOption = Annotated[
    str | None, typer.Option(help=_("URL van de lineage-database"), envvar="SLUIS_DB_URL")
]
SchoolOption = Annotated[
    str | None,
    typer.Option(help=_("BRIN van de school (nodig als de lineage er meer kent)")),
]
KeyArgument = Annotated[str, typer.Argument(help=_("Het leerlingnummer (LAS-sleutel)"))]
ActorOption = Annotated[
    str | None, typer.Option(help=_("Wie dit vastlegt (standaard: de OS-gebruiker)"))
]
SupplierArgument = Annotated[str, typer.Argument(help=_("Leverancier-id"))]


@app.command()
def vergeet(
    leerlingkey: KeyArgument,
    reden: Annotated[str, typer.Option(help=_("Reden van het verzoek, voor het verslag"))] = "",
    herstel: Annotated[
        bool, typer.Option("--herstel", help=_("Beëindig een eerdere vergeet-opdracht"))
    ] = False,
    school: SchoolOption = None,
    source: Annotated[
        Path | None,
        typer.Option(help=_("De huidige export van de school: een leerling daarin kent Sluis")),
    ] = None,
    verwacht: Annotated[
        bool,
        typer.Option(
            "--verwacht",
            help=_("Sluis kent de leerling nog niet; hij of zij komt in een latere export"),
        ),
    ] = False,
    door: ActorOption = None,
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Vergeten: laat een leerling weg uit elke volgende levering (--herstel maakt het ongedaan).

    Een leerlingnummer dat Sluis op die school niet kent (in de lineage of in de
    --source-export) wordt geweigerd, tenzij --verwacht zegt dat het in een latere export komt.

    Voorbeelden:
        sluis vergeet 100234 --reden "verzoek ouders 12-11-2026"
        sluis vergeet 100234 --herstel --reden "verzoek ingetrokken"
        sluis vergeet 100240 --reden "verzoek ouders" --school 07XY --verwacht
    """
    from connectors.identifiers import canonical_key
    from lineage.audit import default_actor
    from pipelines.rights_commands import forget

    if not herstel and not reden.strip():
        raise UsageError(
            _(
                "--reden is verplicht: zeg waarom (bijvoorbeeld de datum van het verzoek van "
                "de ouders)"
            )
        )
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
        _say(
            out,
            _("Leerling {key} ({brin}) wordt weer geleverd vanaf de volgende run.").format(
                key=leerlingkey, brin=brin
            ),
        )
    else:
        _say(
            out,
            _(
                "Leerling {key} ({brin}) wordt vanaf de volgende run aan niemand meer "
                "geleverd; leveranciers met delta's krijgen een verwijdering."
            ).format(key=leerlingkey, brin=brin),
        )


@app.command()
def verstrek(
    supplier: Annotated[
        str, typer.Argument(help=_("Overeenkomst-id van de ontvanger (leerplicht)"))
    ],
    aanvrager: Annotated[str, typer.Option(help=_("Wie vraagt: ambtenaar en organisatie"))],
    kenmerk: Annotated[str, typer.Option(help=_("Het eigen kenmerk van het verzoek"))],
    source: Annotated[Path, typer.Option(help=_("De huidige export van de school"))],
    leerling: Annotated[
        list[str] | None,
        typer.Option(help=_("Leerlingnummer van een genoemde leerling (herhaalbaar)")),
    ] = None,
    jaargroep: Annotated[
        list[str] | None, typer.Option(help=_("Alleen deze jaargroep (herhaalbaar)"))
    ] = None,
    school: SchoolOption = None,
    drop: Annotated[Path | None, typer.Option(help=_("Hoofdmap van de levermap"))] = None,
    door: ActorOption = None,
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Beantwoord een verzoek van een ontvanger met een wettelijke taak.

    Alleen de velden van zijn overeenkomst worden verstrekt.

    Voorbeeld:
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
    count = cast(int, outcome.counts.get("delivered", 0))
    _say(
        out,
        ngettext(
            "Verstrekt aan {supplier} ({kenmerk}): {n} leerling van {school}, naar {location}",
            "Verstrekt aan {supplier} ({kenmerk}): {n} leerlingen van {school}, naar {location}",
            count,
        ).format(
            supplier=outcome.supplier,
            kenmerk=kenmerk.strip(),
            n=count,
            school=outcome.school,
            location=outcome.location or "-",
        ),
    )


@app.command()
def inzage(
    leerlingkey: KeyArgument,
    source: Annotated[
        Path | None,
        typer.Option(help=_("Huidige export, om de waarden van vandaag te tonen")),
    ] = None,
    school: SchoolOption = None,
    out_dir: Annotated[Path, typer.Option("--out", help=_("Map voor het rapport"))] = Path("."),
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Inzage voor een ouder: wie kreeg welke gegevens over deze leerling, wanneer en waarom.

    Voorbeeld:
        sluis inzage 100234 --source exports/ --out /tmp/inzage
    """
    from pipelines.rights_commands import inzage as build

    report, html_path, json_path = build(
        _settings(state, db), leerlingkey, school=school, source=source, out_dir=out_dir
    )
    count = len(report.suppliers)
    _say(
        out,
        ngettext(
            "{n} leverancier. Rapport: {html} en {json}",
            "{n} leveranciers. Rapport: {html} en {json}",
            count,
        ).format(n=count, html=html_path, json=json_path),
    )


audit_app = SluisTyper(help=_("Het auditlog van beheerdershandelingen."), no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    head: Annotated[
        str | None,
        typer.Option(help=_("Een eerder getoonde kop (SEQ:MAC): het log moet die nog bevatten")),
    ] = None,
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Controleer dat geen auditregel gewijzigd, verwijderd of verplaatst is; anders exitcode 1.

    Controleert de MAC-keten, en het einde van het log tegen de kop bij elke regel, de
    koppen die de runs vastlegden en die van --head. Toont de kop om te bewaren.

    Voorbeelden:
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
        _say(
            out,
            ngettext(
                "Auditlog intact: {n} regel gecontroleerd.",
                "Auditlog intact: {n} regels gecontroleerd.",
                result.checked,
            ).format(n=result.checked),
        )
        if result.head is not None:
            _say(
                out,
                _(
                    "Kop van het auditlog: {head} (bewaar deze regel buiten Sluis; "
                    "controleer later met: sluis audit verify --head {head})"
                ).format(head=result.head),
            )
        return
    _say(
        err,
        _("sluis: auditlog gebroken bij regel {seq}: {problem}").format(
            seq=result.first_bad_seq, problem=result.problem
        ),
    )
    raise typer.Exit(EXIT_ERROR)


db_app = SluisTyper(help=_("De lineage-database."), no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(state: StateOption = None, db: DbOption = None) -> None:
    """Voer de openstaande migraties van de lineage-database uit (maakt haar aan als ze leeg is).

    Voorbeeld:
        sluis db upgrade --db postgresql+psycopg://sluis@dbhost/sluis
    """
    from pipelines.db_commands import db_upgrade as run_upgrade

    _say(out, run_upgrade(_settings(state, db)))


keys_app = SluisTyper(help=_("Pseudoniem- en lidmaatschapssleutels."), no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def keys_rotate(
    name: Annotated[
        str, typer.Argument(help=_("Leverancier-id, lineage-membership of lineage-audit"))
    ],
    door: ActorOption = None,
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Vervang een sleutel bewust: de enige manier waarop een sleutel van Sluis mag wijzigen.

    Een gegenereerde sleutel krijgt een nieuwe willekeurige (een leverancier krijgt dan
    nieuwe, niet te koppelen pseudoniemen); bij een sleutel uit een instelling: wijzig eerst
    de instelling en leg het dan hiermee vast. De lidmaatschapssleutel wordt geweigerd zolang
    er vergeet-opdrachten gelden, de auditsleutel zodra het log eronder geketend is.

    Voorbeeld:
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
        _(
            "Nieuwe sleutel voor {name} in {where}; de rotatie staat in het auditlog. "
            "Maak nu een nieuwe back-up van de sleutel."
        ).format(name=name, where=where),
    )


@app.command()
def serve(
    per: Annotated[
        str,
        typer.Option(help=_("Eén deployment per 'school' (standaard) of één voor het 'board'")),
    ] = "school",
    check: Annotated[
        bool, typer.Option("--check", help=_("Toon alleen de deployments en schema's"))
    ] = False,
) -> None:
    """Draai de nachtelijke synchronisaties: een deployment per school, ook te starten in de UI.

    Leest de scholen uit SLUIS_SOURCE, het schema uit SLUIS_SCHEDULE_CRON en
    SLUIS_SCHEDULE_TIMEZONE (en de eigen schedule.cron van een overeenkomst); loopt tot
    het gestopt wordt.

    Voorbeelden:
        sluis serve
        sluis serve --per board
    """
    from pipelines.serve import describe, plan_deployments, serve_forever
    from pipelines.settings import Settings

    if per not in ("school", "board"):
        raise UsageError(
            _("--per moet 'school' of 'board' zijn, niet {value}").format(value=repr(per))
        )
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
    run_id: Annotated[str, typer.Argument(help=_("De run die de levering tegenhield"))],
    supplier: SupplierArgument,
    door: ActorOption = None,
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Geef een om een massawijziging tegengehouden levering vrij; het akkoord wordt vastgelegd.

    Voorbeeld:
        sluis approve 0b6c9d0e-0a43-4c41-9a55-1f0e0d7c2a11 basispoort
    """
    from lineage.audit import default_actor
    from pipelines.holds import approve as release

    released = release(_settings(state, db), run_id, supplier, door or default_actor())
    for item in released:
        _say(
            out,
            _("Vrijgegeven: {delivery} ({school}) naar {location}").format(
                delivery=item.delivery_id, school=item.school, location=item.location
            ),
        )


@app.command()
def redeliver(
    supplier: SupplierArgument,
    delivery: Annotated[
        str | None,
        typer.Option(help=_("Een eerdere levering (mapnaam); standaard: de laatste")),
    ] = None,
    door: ActorOption = None,
    state: StateOption = None,
    db: DbOption = None,
) -> None:
    """Publiceer de laatste (of een genoemde) levering per school opnieuw, ongewijzigd.

    Voorbeelden:
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
        _say(
            out,
            _("Opnieuw geleverd: {delivery} ({school}) naar {location}").format(
                delivery=item.delivery_id, school=item.school, location=item.location
            ),
        )


@app.command()
def sample(
    out_dir: Annotated[Path, typer.Option("--out", help=_("Map om de scholen in te schrijven"))],
    schools: Annotated[int, typer.Option(min=1, help=_("Aantal scholen"))] = 2,
    pupils_per_school: Annotated[int, typer.Option(min=1, help=_("Leerlingen per school"))] = 60,
    seed: Annotated[
        int, typer.Option(help=_("Startwaarde van het toeval; zelfde waarde, zelfde bestanden"))
    ] = 20261128,
) -> None:
    """Schrijf synthetische schoolexports (geen echt kind) met toestemmingenbestanden.

    Voorbeeld:
        sluis sample --out /tmp/samples --schools 3 --pupils-per-school 300 --seed 7
    """
    from connectors.synthetic import write_samples

    folders = write_samples(
        out_dir, schools=schools, pupils_per_school=pupils_per_school, seed=seed
    )
    _say(
        out,
        ngettext(
            "{n} school geschreven in {path}", "{n} scholen geschreven in {path}", len(folders)
        ).format(n=len(folders), path=out_dir),
    )


@app.command("reconcile")
def reconcile_command(
    drop: Annotated[Path, typer.Option(help=_("Hoofdmap van de levermap die wordt opgeruimd"))] = (
        Path("drop")
    ),
    state: Annotated[Path, typer.Option(help=_("Sluis' statusmap"))] = Path("sluis-state"),
    db: DbOption = None,
) -> None:
    """Ruim op wat een afgebroken run achterliet (`sluis run` doet dit zelf bij de start).

    Een levering die een afgebroken run aan het publiceren was, telt als geleverd als haar
    manifest in de levermap staat en wordt anders teruggedraaid; achtergebleven
    voorbereidingsmappen worden verwijderd; een run zonder hartslag wordt als afgebroken
    gemarkeerd. Runs die nog leven blijven ongemoeid.

    Voorbeeld:
        sluis reconcile --drop /srv/sluis/drop --state /var/lib/sluis
    """
    from pipelines.reconcile import reconcile_drops

    settled = reconcile_drops(_settings(state, db).model_copy(update={"drop_dir": drop}))
    for line in settled.lines() or [
        _("niets af te stemmen: geen gestopte run heeft iets achtergelaten")
    ]:
        _say(out, line)
    for problem in settled.problems:
        _say(err, f"sluis: {problem}")
    if settled.unsettled:
        count = len(settled.unsettled)
        raise SluisError(
            ngettext(
                "{n} levering kon niet worden gecontroleerd tegen haar levermap: {deliveries}; "
                "herstel de levermap (zie hierboven) en draai daarna sluis reconcile opnieuw",
                "{n} leveringen konden niet worden gecontroleerd tegen hun levermap: "
                "{deliveries}; herstel de levermap (zie hierboven) en draai daarna "
                "sluis reconcile opnieuw",
                count,
            ).format(n=count, deliveries=", ".join(settled.unsettled))
        )


def main() -> None:
    """Console-script entry point: user errors become one line and exit code 1 (2 for usage).

    A run stopped by SIGTERM or SIGINT is one line too, exit 143 or 130. Click's own usage
    errors are caught here, not shown by Click, so that they are one line in Sluis' words.
    """
    try:
        code = app(prog_name="sluis", standalone_mode=False)
    except RunStopped as exc:
        _say(err, f"sluis: {exc}")
        sys.exit(exc.exit_code)
    except UsageError as exc:
        _say(err, f"sluis: {exc}")
        sys.exit(EXIT_USAGE)
    except SluisError as exc:
        _say(err, f"sluis: {exc}")
        sys.exit(EXIT_ERROR)
    except ClickUsageError as exc:
        if not is_help_without_arguments(exc):  # else Click has shown the help already
            _say(err, f"sluis: {usage_message(exc)}")
        sys.exit(exc.exit_code)
    except ClickException as exc:
        _say(err, f"sluis: {exc.format_message()}")
        sys.exit(exc.exit_code)
    except typer.Abort:
        _say(err, _("sluis: afgebroken"))
        sys.exit(EXIT_ERROR)
    # Without standalone mode Click returns the exit code (typer.Exit, --help) instead of
    # exiting; a command that returns normally gives None.
    sys.exit(code if isinstance(code, int) else EXIT_OK)
