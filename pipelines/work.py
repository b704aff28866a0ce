"""Preparing schools, the first unit of work the Prefect tasks wrap (delivery.py: the second).

Plain functions, so they are tested without Prefect. `prepare_schools` returns validated
schools in memory (for `sluis check` and the tests); `stage_schools` writes them to the
run's staging area and returns references, which is what the flow keeps.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from connectors.errors import ConfigurationError
from connectors.i18n import _
from connectors.sources.base import empty_frame
from connectors.sources.consents import CONSENT_COLUMNS, read_consents
from connectors.sources.edexml_xsd import validate_with_xsd
from connectors.sources.registry import detect_format, get_source
from contracts.agreements import Agreement
from contracts.staged import StagedSchool, stage_school
from contracts.validation import ValidatedSchool, validate_schools
from pipelines.plan import SchoolInput, batches
from pipelines.settings import Settings
from policy.batch import SchoolBatch
from policy.format_needs import format_gaps_per_school

__all__ = ["gaps_frame", "prepare_in_batches", "prepare_schools", "stage_schools"]


def prepare_in_batches(
    schools: list[SchoolInput], *, today: date, settings: Settings
) -> list[ValidatedSchool]:
    """Prepare every school as `settings` say, a batch at a time (no Prefect task needed)."""
    return [
        school
        for batch in batches(schools, settings.batch_size)
        for school in prepare_schools(
            batch,
            today=today,
            edexml_xsd=settings.edexml_xsd,
            csv_column_map=settings.csv_column_map,
        )
    ]


def prepare_schools(
    schools: list[SchoolInput],
    *,
    today: date,
    edexml_xsd: Path | None = None,
    csv_column_map: Path | None = None,
) -> list[ValidatedSchool]:
    """Extract each school's export and consents, then validate the batch in one pass.

    Args:
        schools: the batch.
        today: the run date.
        edexml_xsd: folder of the official EDEXML schema; when given, EDEXML exports are
            also validated against it before they are read.
        csv_column_map: the column map of the school's CSV/XLSX overzicht, if not the
            bundled ParnasSys-style one.
    """
    items = []
    for school in schools:
        name = detect_format(school.export)
        if name is None:
            raise ConfigurationError(
                _("{path}: geen lezer voor dit soort export").format(path=school.export)
            )
        if name == "edexml" and edexml_xsd is not None:
            validate_with_xsd(school.export, edexml_xsd)
        options = {"column_map": csv_column_map} if name == "csv_export" else {}
        export = get_source(name, **options).extract(school.export)
        if school.consents is not None:
            consents = read_consents(school.consents)
        else:
            # No consent export: nobody has consented, which is what policy assumes anyway.
            consents = empty_frame(CONSENT_COLUMNS)
        items.append((export, consents))
    return validate_schools(items, today=today)


def gaps_frame(index: int) -> str:
    """The staged frame name of a school's format gaps for the run's `index`-th agreement."""
    return f"gaps-{index:03d}"


def stage_schools(
    schools: list[SchoolInput],
    *,
    today: date,
    folder: Path,
    root: Path,
    agreements: list[Agreement],
    edexml_xsd: Path | None = None,
    csv_column_map: Path | None = None,
) -> list[StagedSchool]:
    """Prepare a batch and write each school to staging under `folder` (0700 below `root`).

    Besides its frames, each school stages the pupils each agreement's format cannot carry
    (policy.format_needs), per agreement in the run's order, so the quarantine report is
    built from staging without reading a single pupil frame again.
    """
    prepared = prepare_schools(
        schools, today=today, edexml_xsd=edexml_xsd, csv_column_map=csv_column_map
    )
    # Per agreement, every school's gaps at once (policy.format_needs.format_gaps_per_school);
    # the batch's pupils are joined once for every agreement.
    batch = SchoolBatch(prepared)
    gaps_of = [format_gaps_per_school(batch, agreement, today) for agreement in agreements]
    staged = []
    for number, school in enumerate(prepared):
        gaps = {
            gaps_frame(index): per_school[number]
            for index, per_school in enumerate(gaps_of)
            if not per_school[number].empty
        }
        staged.append(stage_school(school, folder / f"school-{number:03d}", root=root, extra=gaps))
    return staged
