"""The commands for a pupil's rights and the school's duties: datamap, vergeet, verstrek, inzage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer

from connectors.errors import SluisError, UsageError
from connectors.i18n import _, ngettext
from pipelines.cli_common import (
    ActorOption,
    DbOption,
    KeyArgument,
    SchoolOption,
    StateOption,
    _say,
    _settings,
    out,
)

__all__ = ["datamap", "inzage", "vergeet", "verstrek"]


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
