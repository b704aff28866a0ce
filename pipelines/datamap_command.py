"""`sluis datamap`: the data map of one school Sluis knows, under the school's name."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from connectors.errors import ConfigurationError
from connectors.i18n import _
from connectors.identifiers import canonical_brin, quoted
from contracts.agreements import AgreementSet, load_agreement_set
from contracts.datamap import datamap_html, datamap_markdown
from lineage.store import LineageStore, SourceRecord
from pipelines.plan import discover_schools
from pipelines.settings import Settings

__all__ = ["known_schools", "school_name", "write_datamap"]


def school_name(settings: Settings, brin: str) -> str | None:
    """The school's name from SLUIS_SCHOOL_NAMES (BRIN as typed there, any case)."""
    names = {canonical_brin(k) or k: v.strip() for k, v in settings.school_names.items()}
    return names.get(brin) or None


def known_schools(settings: Settings, source: Path | None) -> set[str]:
    """BRINs Sluis knows: from lineage's runs, the school names setting, and an export."""
    known = {canonical_brin(k) or k for k in settings.school_names}
    if source is not None:
        known |= {
            canonical_brin(s.name) or s.name
            for s in discover_schools(source, None, settings.consents_filename)
        }
    url = settings.lineage_url()
    if not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).exists():
        store = LineageStore(url)
        try:
            store.create_schema()
            with store.engine.connect() as connection:
                known |= set(connection.execute(select(SourceRecord.school)).scalars())
        finally:
            store.dispose()
    return known


def write_datamap(
    settings: Settings, school: str, *, source: Path | None, out_dir: Path
) -> tuple[Path, AgreementSet]:
    """Write datamap.html and datamap.md for a known school.

    Raises:
        ConfigurationError: Sluis does not know the school (one line, with the known ones).
    """
    brin = canonical_brin(school)
    known = known_schools(settings, source)
    if brin is None or brin not in known:
        raise ConfigurationError(
            _(
                "--school {school}: Sluis kent zo'n school niet (bekend: {known}); geef haar "
                "BRIN, draai eerst een sync, of geef haar export met --source"
            ).format(school=quoted(school), known=", ".join(sorted(known)) or _("nog geen"))
        )
    name = school_name(settings, brin)
    found = load_agreement_set(settings.agreements_dir)
    agreements = [a.agreement for a in found.agreements]
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / "datamap.html"
    page.write_text(datamap_html(agreements, school=brin, school_name=name), "utf-8")
    (out_dir / "datamap.md").write_text(
        datamap_markdown(agreements, school=brin, school_name=name), "utf-8"
    )
    return page, found
