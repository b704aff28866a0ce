"""Synthetic school exports (EDEXML 2.1 plus consent CSV) for samples, tests and benchmarks.

Every pupil is invented: names are drawn from lists of common names, numbers from a seeded
random generator. The output looks like a ParnasSys "EDEX & UWLR" export with its Parro
consent export beside it, including the awkward parts a real export has (combination
groups, pupils who left, non-persistent keys, free text, changes of mind) and a few
deliberate data-quality problems that the contracts must quarantine.

Layout written by :func:`write_samples`, one folder per school as ``sluis run --source``
expects it::

    out/<BRIN>/EDEX.XML            EDEXML 2.1, valid against the official XSD apart from
                                   the schooljaar enumeration, which stops at 2024-2025
    out/<BRIN>/toestemmingen.csv   the consent export: ';', UTF-8 with BOM, CRLF
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

from connectors.errors import ConfigurationError
from connectors.i18n import _
from connectors.synthetic_consents import ConsentWriting
from connectors.synthetic_edexml import EdexmlWriting
from connectors.synthetic_names import (
    BRIN_SPACE,
    BSN_BODIES,
    CONSENT_CATEGORIES,
    CONSENT_FILE,
    CONSENT_HEADER,
    EXPORT_FILE,
    SCHOOLJAAR,
)
from connectors.synthetic_pupils import Counter, brin_code

__all__ = [
    "CONSENT_CATEGORIES",
    "CONSENT_FILE",
    "CONSENT_HEADER",
    "EXPORT_FILE",
    "write_samples",
]


def write_samples(
    out: Path,
    *,
    schools: int,
    pupils_per_school: int,
    seed: int,
    schooljaar: str = "2026-2027",
    peildatum: str = "2026-10-01",
) -> list[Path]:
    """Write synthetic school exports, one folder per school, and return those folders.

    Each folder ``out/<BRIN>/`` holds ``EDEX.XML`` and ``toestemmingen.csv``. The same
    arguments always give the same bytes: nothing depends on the clock or the machine.

    Args:
        out: Folder to write into; created when missing. Existing school folders with the
            same BRIN are overwritten file by file.
        schools: Number of schools, each with its own BRIN code.
        pupils_per_school: Number of ``leerling`` elements per school, counting pupils who
            left and the deliberately broken ones.
        seed: Seed for the random generator.
        schooljaar: School year of the export, ``YYYY-YYYY`` with consecutive years.
        peildatum: Reference date of the export, ``YYYY-MM-DD``.

    Returns:
        The school folders, in the order they were generated.

    Raises:
        ConfigurationError: When an argument is out of range or badly formatted.
    """
    start_year = _check_arguments(schools, pupils_per_school, schooljaar)
    try:
        peil = date.fromisoformat(peildatum)
    except ValueError:
        raise ConfigurationError(
            _("peildatum moet een datum zijn geschreven als JJJJ-MM-DD, niet {peildatum}").format(
                peildatum=repr(peildatum),
            )
        ) from None

    # Seeded on purpose: reproducible sample data, nothing secret is derived from it.
    master = random.Random(f"sluis-synthetic/{seed}")  # noqa: S311
    brins = [brin_code(code) for code in master.sample(range(BRIN_SPACE), schools)]
    counter = Counter(bsn_next=master.randrange(BSN_BODIES))
    out.mkdir(parents=True, exist_ok=True)
    folders: list[Path] = []
    for index, brin in enumerate(brins):
        # One generator per school, so a school's content does not depend on how many
        # random numbers the schools before it happened to draw.
        rng = random.Random(f"sluis-synthetic/{seed}/{index}")  # noqa: S311
        school = _School(rng, counter, brin, index, pupils_per_school, start_year, peil)
        folder = out / brin
        folder.mkdir(exist_ok=True)
        (folder / EXPORT_FILE).write_bytes(school.edexml())
        (folder / CONSENT_FILE).write_bytes(school.consent_csv())
        folders.append(folder)
    return folders


def _check_arguments(schools: int, pupils_per_school: int, schooljaar: str) -> int:
    if schools < 1 or schools > BRIN_SPACE:
        raise ConfigurationError(
            _(
                "het aantal scholen (schools) moet tussen 1 en {brin_space} liggen (elk een "
                "BRIN-code), niet {schools}"
            ).format(
                brin_space=BRIN_SPACE,
                schools=schools,
            )
        )
    if pupils_per_school < 1:
        raise ConfigurationError(
            _(
                "het aantal leerlingen per school (pupils_per_school) moet minstens 1 "
                "zijn, niet {pupils_per_school}"
            ).format(
                pupils_per_school=pupils_per_school,
            )
        )
    match = SCHOOLJAAR.fullmatch(schooljaar)
    if match is None or int(match[2]) != int(match[1]) + 1:
        raise ConfigurationError(
            _(
                "schooljaar moet twee opeenvolgende jaren zijn zoals 2026-2027, niet {schooljaar}"
            ).format(
                schooljaar=repr(schooljaar),
            )
        )
    return int(match[1])


class _School(EdexmlWriting, ConsentWriting):
    """One invented school: its groups, pupils, teachers and consent rows."""
