"""The operator's commands: audit, db, keys, serve, approve, redeliver, sample, reconcile."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from connectors.errors import SluisError, UsageError
from connectors.i18n import _, ngettext
from pipelines.cli_common import (
    EXIT_ERROR,
    ActorOption,
    DbOption,
    StateOption,
    SupplierArgument,
    _prefect_environment,
    _say,
    _settings,
    err,
    out,
)
from pipelines.cli_words import SluisTyper

if TYPE_CHECKING:
    from pipelines.holds import Released

__all__ = [
    "approve",
    "audit_verify",
    "db_upgrade",
    "keys_rotate",
    "reconcile_command",
    "redeliver",
    "sample",
    "serve",
]


audit_app = SluisTyper(help=_("Het auditlog van beheerdershandelingen."), no_args_is_help=True)


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


@db_app.command("upgrade")
def db_upgrade(state: StateOption = None, db: DbOption = None) -> None:
    """Voer de openstaande migraties van de lineage-database uit (maakt haar aan als ze leeg is).

    Voorbeeld:
        sluis db upgrade --db postgresql+psycopg://sluis@dbhost/sluis
    """
    from pipelines.db_commands import db_upgrade as run_upgrade

    _say(out, run_upgrade(_settings(state, db)))


keys_app = SluisTyper(help=_("Pseudoniem- en lidmaatschapssleutels."), no_args_is_help=True)


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
    _say_published(released, _("Vrijgegeven: {delivery} ({school}) naar {location}"))


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
    _say_published(released, _("Opnieuw geleverd: {delivery} ({school}) naar {location}"))


def _say_published(released: list[Released], message: str) -> None:
    """One line per published delivery: `message` with its delivery, school and location."""
    for item in released:
        _say(
            out,
            message.format(delivery=item.delivery_id, school=item.school, location=item.location),
        )


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
