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

import csv
import io
import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from lxml import etree

from connectors.errors import ConfigurationError
from connectors.i18n import _

__all__ = [
    "CONSENT_CATEGORIES",
    "CONSENT_FILE",
    "CONSENT_HEADER",
    "EXPORT_FILE",
    "write_samples",
]

EXPORT_FILE = "EDEX.XML"
CONSENT_FILE = "toestemmingen.csv"
CONSENT_HEADER = ("leerlingkey", "schooljaar", "categorie", "waarde", "gewijzigd_op")
CONSENT_CATEGORIES = (
    "beeldmateriaal_website",
    "beeldmateriaal_nieuwsbrief",
    "deelname_onderzoek",
    # Parro asks for photos separately; last, so the other categories' draws stay as they were.
    "beeldmateriaal_parro",
)

_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSI_TYPE = f"{{{_XSI}}}type"
_SCHOOLJAAR = re.compile(r"(\d{4})-(\d{4})")
# 26 * 26 letter pairs times 100 digit pairs: the whole \d{2}[A-Z]{2} space.
_BRIN_SPACE = 100 * 26 * 26
# Group size a Dutch primary school aims for; with fewer pupils per year, adjacent years
# are taught together in a combination group.
_GROUP_SIZE = 27
# BSN bodies come from an affine permutation of a running counter, so no two synthetic
# pupils share a BSN across all schools of one run (up to 10**8 numbers).
_BSN_BODIES = 10**8
_BSN_STEP = 73_856_093  # coprime with 10**8, so the permutation visits every body once

# Pupil counts per jaargroep are uneven in October: four-year-olds keep arriving in
# groep 1 throughout the year, and groep 2 holds those who stayed a little longer.
_YEAR_WEIGHTS = (0.8, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)

_SCHOOL_PREFIXES = (
    "OBS",
    "CBS",
    "PCB",
    "RKBS",
    "IKC",
    "Daltonschool",
    "Jenaplanschool",
    "Montessorischool",
    "Basisschool",
)
_SCHOOL_NAMES = (
    "de Flint",
    "de Zandloper",
    "het Klaverblad",
    "de Wegwijzer",
    "de Bongerd",
    "het Palet",
    "de Tweemaster",
    "de Sterrenwachter",
    "het Kompas",
    "de Kiezelsteen",
    "de Meidoorn",
    "'t Ruimteschip",
    "de Oostpolder",
    "de Zonnewijzer",
    "de Wadloper",
    "het Mozaïek",
    "de Duinroos",
    "de Regenboogbrug",
    "de Vuurtoren",
    "het Gouden Korenveld",
)
_ANIMALS = (
    "Egels",
    "Vossen",
    "Uilen",
    "Dolfijnen",
    "Zwaluwen",
    "Bevers",
    "Otters",
    "Vlinders",
    "Kikkers",
    "Eekhoorns",
    "Reigers",
    "Dassen",
    "Pinguïns",
    "Giraffen",
    "Panters",
    "Herten",
    "Spechten",
    "Mussen",
    "Konijnen",
    "Zeehonden",
    "Ooievaars",
    "Kraanvogels",
    "Leeuwen",
    "Tijgers",
    "Olifanten",
    "Wolven",
    "Beren",
    "Lieveheersbeestjes",
    "Koala's",
    "Flamingo's",
    "Schildpadden",
    "Pauwen",
    "Zebra's",
    "Kangoeroes",
    "Valken",
    "Mieren",
)
_BOYS = (
    "Daan",
    "Sem",
    "Lucas",
    "Milan",
    "Levi",
    "Noah",
    "Finn",
    "Daniël",
    "Jaïr",
    "Ümit",
    "Bram",
    "Thijs",
    "Luuk",
    "Mees",
    "Jesse",
    "Sven",
    "Mohammed",
    "Ayoub",
    "Yusuf",
    "Emir",
    "Joël",
    "Raphaël",
    "Gijs",
    "Ruben",
    "Teun",
    "Stijn",
    "Jan-Pieter",
    "Siem",
    "Olivier",
    "Mats",
    "Boaz",
    "Hüseyin",
    "Timo",
    "Wessel",
    "Kaj",
    "Rayan",
)
_GIRLS = (
    "Emma",
    "Zoë",
    "Inès",
    "Çağla",
    "Noëlle",
    "Brontë",
    "Julia",
    "Tess",
    "Sophie",
    "Mila",
    "Saar",
    "Nina",
    "Lotte",
    "Fenna",
    "Sara",
    "Yara",
    "Liv",
    "Noor",
    "Anouk",
    "Maud",
    "Chloë",
    "Eliza",
    "Hiba",
    "Amira",
    "Ilse",
    "Fleur",
    "Anna-Sophie",
    "Lieke",
    "Elif",
    "Roos",
    "Jasmijn",
    "Ivy",
    "Maëlle",
    "Sanne",
    "Nour",
    "Esmée",
)
# Official first name behind a familiar roepnaam, as a parent would register it.
_OFFICIAL = {
    "Daan": "Daniël",
    "Bram": "Abraham",
    "Thijs": "Matthijs",
    "Siem": "Simon",
    "Teun": "Anthonius",
    "Luuk": "Lucas",
    "Jan-Pieter": "Jan Pieter",
    "Saar": "Sara",
    "Lotte": "Charlotte",
    "Fenna": "Fenneke",
    "Roos": "Rosalie",
    "Anna-Sophie": "Anna Sophie",
}
_MIDDLE_BOYS = ("Johannes", "Cornelis", "Hendrik", "Willem", "Theodorus", "Pieter", "Ali")
_MIDDLE_GIRLS = ("Maria", "Elisabeth", "Anna", "Catharina", "Johanna", "Petronella", "Aylin")
_SURNAMES: tuple[tuple[str | None, str], ...] = (
    (None, "Jansen"),
    ("de", "Vries"),
    ("van den", "Berg"),
    ("van", "Dijk"),
    (None, "Bakker"),
    (None, "Visser"),
    (None, "Smit"),
    (None, "Meijer"),
    ("de", "Boer"),
    (None, "Mulder"),
    ("de", "Groot"),
    (None, "Bos"),
    (None, "Vos"),
    (None, "Peters"),
    (None, "Hendriks"),
    ("van", "Leeuwen"),
    (None, "Dekker"),
    (None, "Brouwer"),
    ("de", "Wit"),
    (None, "Dijkstra"),
    ("de", "Graaf"),
    ("van der", "Meer"),
    ("van der", "Linden"),
    (None, "Kok"),
    ("de", "Haan"),
    (None, "Vermeulen"),
    ("van den", "Heuvel"),
    ("van der", "Veen"),
    ("van den", "Broek"),
    ("de", "Bruijn"),
    ("de", "Jong"),
    ("van 't", "Hof"),
    ("ter", "Horst"),
    ("den", "Hartog"),
    ("ter", "Veen"),
    ("den", "Boer"),
    ("van der", "Heijden"),
    ("van 't", "Zand"),
    (None, "Hoekstra"),
    (None, "Postma"),
    (None, "Yılmaz"),
    (None, "Öztürk"),
    (None, "Çelik"),
    (None, "Şahin"),
    ("El", "Amrani"),
    (None, "Bouzid"),
    (None, "Nguyen"),
    (None, "Kowalski"),
    (None, "Müller"),
    (None, "Kuipers"),
    (None, "Wolters"),
    ("van", "Wijk"),
)
_ADULTS = (
    "Marieke",
    "Sanne",
    "Joost",
    "Ingrid",
    "Fatima",
    "Kees",
    "Annelies",
    "Bas",
    "Lieke",
    "Mehmet",
    "Eva",
    "Hanneke",
    "Mark",
    "Esther",
    "Rianne",
    "Wouter",
    "Nadia",
    "Petra",
    "Inge",
    "Ruud",
    "Gerda",
    "Youssef",
    "Mirjam",
    "Thomas",
)
# Free text a school types into ParnasSys; fictitious, but of the kind that must never
# leave the school (health, family situation), so the deny-list has something to stop.
_REMARKS = (
    "Allergisch voor noten, heeft dyslexieverklaring",
    "Ouders gescheiden, post naar beide adressen sturen",
    "Gebruikt medicatie (ADHD), toediening door ouders thuis",
    "Logopedie op dinsdagmiddag, ophalen om 13.30 uur",
    "Diabetes type 1: sensor, mag in de klas iets eten",
    "Traject met schoolmaatschappelijk werk loopt",
    "Astma, puffer ligt in de la van de leerkracht",
    "Nieuwkomer, spreekt thuis Arabisch; extra taalondersteuning",
    "Hoogbegaafd (onderzoek 2025), zit in de plusgroep",
    "Mag niet met de auto van andere ouders mee",
)
_FOREIGN_LANDS = ("MA", "TR", "SY", "PL", "UA", "ER", "DE", "BE", "SR", "AF", "IN", "GB")
_POSTCODE_LETTERS = "ABCDEFGHJKLMNPRSTVWXZ"
_BAD_POSTCODE_PAIRS = frozenset({"SA", "SD", "SS"})
_LEGACY_ECKID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
# Waarde spellings as parents' choices come out of Parro/Excel; most are clean.
_ODD_SPELLINGS = {
    "ja": (" Ja", "JA", "Ja", "ja ", " ja"),
    "nee": ("NEE ", "Nee", "NEE", " nee", "nee "),
}
_CONSENT_YES_RATE = {
    "beeldmateriaal_website": 0.75,
    "beeldmateriaal_nieuwsbrief": 0.85,
    "deelname_onderzoek": 0.55,
    "beeldmateriaal_parro": 0.7,
}
# The pupil whose parents allow photos on the website and nothing else: "nee" for the
# newsletter and research, no row for Parro. Consent per purpose shows on this child.
_WEBSITE_ONLY = {
    "beeldmateriaal_website": "ja",
    "beeldmateriaal_nieuwsbrief": "nee",
    "deelname_onderzoek": "nee",
}

# The three deliberate business-rule problems, all still XSD-valid.
_PROBLEM_BLANK_SURNAME = "voorvoegsel_zonder_achternaam"
_PROBLEM_NO_JAARGROEP = "combinatiegroep_zonder_jaargroep"
_PROBLEM_FUTURE_BIRTH = "geboortedatum_na_peildatum"
_PROBLEMS = (_PROBLEM_BLANK_SURNAME, _PROBLEM_NO_JAARGROEP, _PROBLEM_FUTURE_BIRTH)


@dataclass(frozen=True, slots=True)
class _Group:
    key: str
    naam: str
    years: tuple[int, ...]

    @property
    def jaargroep(self) -> str:
        return "C" if len(self.years) > 1 else str(self.years[0])


@dataclass(slots=True)
class _Pupil:
    key: str
    year: int
    group: _Group
    geslacht: str
    roepnaam: str
    geboortedatum: date
    instroom: date
    achternaam: str | None = None
    voorvoegsel: str | None = None
    voornamen: str | None = None
    voorletters: str | None = None
    eckid: str | None = None
    start_jgr3: date | None = None
    write_jaargroep: bool = True
    samengestelde: list[str] = field(default_factory=list)
    etniciteit: str | None = None
    land: str | None = None
    land_ouders: tuple[str, str] | None = None
    bsn: str | None = None
    gewicht_nieuw: str | None = None
    postcode: str | None = None
    uitstroom: date | None = None
    opmerking: str | None = None
    mutatie: datetime | None = None
    problem: str | None = None


@dataclass(slots=True)
class _Counter:
    """Running state shared by all schools of one run (BSN uniqueness)."""

    bsn_next: int


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
    brins = [_brin(code) for code in master.sample(range(_BRIN_SPACE), schools)]
    counter = _Counter(bsn_next=master.randrange(_BSN_BODIES))
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
    if schools < 1 or schools > _BRIN_SPACE:
        raise ConfigurationError(
            _(
                "het aantal scholen (schools) moet tussen 1 en {brin_space} liggen (elk een "
                "BRIN-code), niet {schools}"
            ).format(
                brin_space=_BRIN_SPACE,
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
    match = _SCHOOLJAAR.fullmatch(schooljaar)
    if match is None or int(match[2]) != int(match[1]) + 1:
        raise ConfigurationError(
            _(
                "schooljaar moet twee opeenvolgende jaren zijn zoals 2026-2027, niet {schooljaar}"
            ).format(
                schooljaar=repr(schooljaar),
            )
        )
    return int(match[1])


def _brin(code: int) -> str:
    digits, letters = divmod(code, 26 * 26)
    first, second = divmod(letters, 26)
    return f"{digits:02d}{chr(65 + first)}{chr(65 + second)}"


def _letters(index: int) -> str:
    """Spreadsheet-style suffix: A..Z, AA, AB, ... for parallel groups."""
    text = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        text = chr(65 + rest) + text
    return text


def _shift_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def _first_school_day(year: int, region: int) -> date:
    """Monday in the second half of August; the three regions start a week apart."""
    day = date(year, 8, 15)
    return day + timedelta(days=(7 - day.weekday()) % 7 + 7 * region)


def _year_counts(size: int) -> list[int]:
    """Pupils per jaargroep 1-8 by largest remainder, so group planning is stable."""
    total = sum(_YEAR_WEIGHTS)
    shares = [size * weight / total for weight in _YEAR_WEIGHTS]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(8), key=lambda year: counts[year] - shares[year])
    for year in by_remainder[: size - sum(counts)]:
        counts[year] += 1
    return counts


def _plan_blocks(year_counts: Sequence[int]) -> list[tuple[tuple[int, ...], int]]:
    """Split jaargroepen 1-8 into (years, parallel groups) blocks.

    Groep 1/2 is always one combination of kleuters, as in most Dutch schools. From
    groep 3 on, a school with too few pupils for a group per year combines adjacent
    years (3/4/5 and 6/7/8 in a small village school); a large one runs parallel groups.
    """
    kleuters = year_counts[0] + year_counts[1]
    blocks: list[tuple[tuple[int, ...], int]] = [((1, 2), max(1, round(kleuters / _GROUP_SIZE)))]
    wanted = max(1, round(sum(year_counts[2:]) / _GROUP_SIZE))
    if wanted >= 4:
        # Six years do not split evenly into four or five blocks: smaller single-year
        # groups are what such a school runs.
        for year in range(3, 9):
            blocks.append(((year,), max(1, round(year_counts[year - 1] / _GROUP_SIZE))))
        return blocks
    width = 6 // wanted
    for first in range(3, 9, width):
        blocks.append((tuple(range(first, first + width)), 1))
    return blocks


class _School:
    """One invented school: its groups, pupils, teachers and consent rows."""

    def __init__(
        self,
        rng: random.Random,
        counter: _Counter,
        brin: str,
        index: int,
        size: int,
        start_year: int,
        peil: date,
    ) -> None:
        self.rng = rng
        self.counter = counter
        self.brin = brin
        self.start_year = start_year
        self.schooljaar = f"{start_year}-{start_year + 1}"
        self.peil = peil
        self.region = rng.randrange(3)
        self.year_start = _first_school_day(start_year, self.region)
        prefix = rng.choice(_SCHOOL_PREFIXES)
        base = _SCHOOL_NAMES[index % len(_SCHOOL_NAMES)]
        # Past the end of the name list, a number keeps school names distinct.
        suffix = "" if index < len(_SCHOOL_NAMES) else f" {index // len(_SCHOOL_NAMES) + 1}"
        self.name = f"{prefix} {base}{suffix}"
        # .example is reserved (RFC 2606), so no address here can reach a real school.
        self.mail_domain = _ascii(self.name) + ".example"
        self.aanmaak = datetime.combine(
            peil + timedelta(days=1),
            time(rng.randrange(6, 9), rng.randrange(60), rng.randrange(60)),
        )
        self.postcode_area = rng.randrange(1000, 9900)
        self.groups: list[_Group] = []
        self.pupils: list[_Pupil] = []
        self._build_pupils(size)

    # ------------------------------------------------------------------ pupils

    def _build_pupils(self, size: int) -> None:
        rng = self.rng
        counts = _year_counts(size)
        years = [year for year, count in enumerate(counts, start=1) for _ in range(count)]
        rng.shuffle(years)
        animals = list(_ANIMALS)
        rng.shuffle(animals)
        group_of: list[_Group | None] = [None] * size
        for block_years, parallel in _plan_blocks(counts):
            block: list[_Group] = []
            for number in range(parallel):
                count = len(self.groups)
                animal = animals[count % len(animals)]
                if count >= len(animals):
                    animal = f"{animal} {count // len(animals) + 1}"
                span = "-".join(dict.fromkeys((str(block_years[0]), str(block_years[-1]))))
                label = "/".join(str(year) for year in block_years)
                group = _Group(f"G{span}{_letters(number)}", f"Groep {label} {animal}", block_years)
                self.groups.append(group)
                block.append(group)
            members = [i for i, year in enumerate(years) if year in block_years]
            rng.shuffle(members)
            for position, member in enumerate(members):
                group_of[member] = block[position % parallel]

        number = rng.randrange(100_000, 900_000)
        keys: list[str] = []
        for _i in range(size):
            number += rng.randint(1, 4)
            keys.append(str(number))
        self.pupils = [
            self._pupil(keys[i], years[i], group) for i, group in enumerate(group_of) if group
        ]
        self._add_special_cases()

    def _pupil(self, key: str, year: int, group: _Group) -> _Pupil:
        rng = self.rng
        draw = rng.random()
        geslacht = "1" if draw < 0.485 else "2" if draw < 0.97 else "0" if draw < 0.99 else "9"
        if geslacht == "1" or (geslacht in "09" and rng.random() < 0.5):
            roepnaam, middles = rng.choice(_BOYS), _MIDDLE_BOYS
        else:
            roepnaam, middles = rng.choice(_GIRLS), _MIDDLE_GIRLS
        voorvoegsel, achternaam = rng.choice(_SURNAMES)
        names = [_OFFICIAL.get(roepnaam, roepnaam.replace("-", " "))]
        extra = rng.random()
        if extra < 0.5:
            names.append(rng.choice(middles))
        if extra < 0.15:
            names.append(rng.choice([m for m in middles if m != names[-1]]))
        voornamen = " ".join(names)
        voorletters = "".join(part[0].upper() for part in voornamen.split())[:6]

        # Age on the peildatum is jaargroep + 3; one in ten is a year older (a longer
        # kleuter period or a repeated year).
        age = year + 3 + (1 if rng.random() < 0.1 else 0)
        youngest = _shift_years(self.peil, -age)
        birth = youngest - timedelta(days=rng.randrange(365))
        # Most pupils start on or just after their fourth birthday; some arrive later
        # from another school (zij-instroom) at the start of a school year.
        instroom = _shift_years(birth, 4) + timedelta(days=rng.randrange(4))
        if year >= 3 and rng.random() < 0.15:
            instroom = _first_school_day(self.start_year - rng.randrange(year - 2), self.region)
        instroom = min(instroom, self.peil)
        start_jgr3 = (
            _first_school_day(self.start_year - (year - 3), self.region) if year >= 3 else None
        )

        pupil = _Pupil(
            key=key,
            year=year,
            group=group,
            geslacht=geslacht,
            roepnaam=roepnaam,
            achternaam=achternaam,
            voorvoegsel=voorvoegsel,
            voornamen=voornamen,
            voorletters=voorletters,
            geboortedatum=birth,
            start_jgr3=start_jgr3,
            instroom=instroom,
        )
        if rng.random() < 0.92:
            pupil.eckid = f"https://ketenid.nl/201703/{rng.getrandbits(512):0128x}"
        if rng.random() < 0.85:
            pupil.bsn = self._next_bsn()
        if rng.random() < 0.98:
            pupil.postcode = self._postcode()
        if year >= 5 and rng.random() < 0.12:
            pupil.samengestelde.append("SG-PLUS")
        if rng.random() < 0.08:
            pupil.land = rng.choice(_FOREIGN_LANDS)
            if rng.random() < 0.5:
                pupil.land_ouders = (pupil.land, rng.choice((pupil.land, "NL")))
        if year >= 3 and (rng.random() < 0.04 or (pupil.land and rng.random() < 0.5)):
            pupil.samengestelde.append("SG-TAAL")
        if rng.random() < 0.03:
            pupil.etniciteit = rng.choice(("0", "1", "9"))
        if rng.random() < 0.06:
            pupil.gewicht_nieuw = rng.choice(("0", "0,3", "1,2", "?"))
        if rng.random() < 0.05:
            pupil.opmerking = rng.choice(_REMARKS)
        since = max(instroom, self.year_start - timedelta(days=60))
        span = max(1, (self.peil - since).days)
        pupil.mutatie = datetime.combine(
            since + timedelta(days=rng.randrange(span)),
            time(rng.randrange(7, 18), rng.randrange(60), rng.randrange(60)),
        )
        return pupil

    def _next_bsn(self) -> str:
        # Affine walk over all 8-digit bodies; a body whose check digit would be 10
        # cannot pass the elfproef and is skipped.
        while True:
            body = (self.counter.bsn_next * _BSN_STEP) % _BSN_BODIES
            self.counter.bsn_next = (self.counter.bsn_next + 1) % _BSN_BODIES
            digits = f"{body:08d}"
            check = sum((9 - i) * int(d) for i, d in enumerate(digits)) % 11
            if check < 10:
                return f"{digits}{check}"

    def _postcode(self) -> str:
        rng = self.rng
        while True:
            letters = rng.choice(_POSTCODE_LETTERS) + rng.choice(_POSTCODE_LETTERS)
            if letters not in _BAD_POSTCODE_PAIRS:
                return f"{min(9999, self.postcode_area + rng.randrange(40))}{letters}"

    def _add_special_cases(self) -> None:
        """Mark the awkward-but-legal pupils, then the deliberately broken ones."""
        rng = self.rng
        size = len(self.pupils)
        pool = list(range(size))
        rng.shuffle(pool)
        used: set[int] = set()

        def take(count: int, fits: Callable[[_Pupil], bool] = lambda _: True) -> list[_Pupil]:
            # Each special case gets pupils no other case has claimed; one pass per case
            # keeps this linear in the school size.
            chosen: list[int] = []
            for i in pool:
                if len(chosen) == count:
                    break
                if i not in used and fits(self.pupils[i]):
                    chosen.append(i)
            used.update(chosen)
            return [self.pupils[i] for i in chosen]

        few = 2 if size >= 50 else 1 if size >= 10 else 0
        for pupil in take(max(few, round(size * 0.02))):
            # EDEXML branch B: a pupil known only by roepnaam (e.g. just registered).
            pupil.achternaam = pupil.voorvoegsel = pupil.voornamen = pupil.voorletters = None
        for pupil in take(rng.randint(1, 2) if size >= 10 else 0):
            token = "".join(rng.choice(_LEGACY_ECKID_ALPHABET) for _ in range(48))
            pupil.eckid = f"https://id.school/LL_{token}"
        settled = self.peil - timedelta(days=2)
        for pupil in take(
            max(few, round(size * 0.02)),
            lambda p: p.instroom < settled,
        ):
            days = min(60, (self.peil - pupil.instroom).days - 1)
            pupil.uitstroom = self.peil - timedelta(days=rng.randint(1, days))
        for number, pupil in enumerate(take(rng.randint(1, 2) if size >= 20 else 0), start=1):
            # A dummy key the LAS cannot keep stable; receivers must not rely on it.
            pupil.key = f"#{number:03d}"

        problems = max(3, round(size / 100)) if size >= 50 else (1 if size >= 10 else 0)
        for number, kind in enumerate(_PROBLEMS):
            count = len(range(number, problems, len(_PROBLEMS)))
            # Only in a combination group can a missing jaargroep not be derived.
            fits = _named_in_combination if kind == _PROBLEM_NO_JAARGROEP else _named
            for pupil in take(count, fits):
                self._break(pupil, kind)
        # Keys sort numerically in the export; the dummy keys come last.
        self.pupils.sort(key=lambda p: (p.key.startswith("#"), len(p.key), p.key))

    def _break(self, pupil: _Pupil, kind: str) -> None:
        pupil.problem = kind
        if pupil.eckid is None:
            # Broken pupils would otherwise be deliverable: they must be stopped by the
            # quarantine, not by a missing identifier.
            pupil.eckid = f"https://ketenid.nl/201703/{self.rng.getrandbits(512):0128x}"
        if kind == _PROBLEM_BLANK_SURNAME:
            # The surname was cleared to a single space but the tussenvoegsel stayed:
            # XSD-valid (minLength 1), yet a voorvoegsel without an achternaam.
            pupil.voorvoegsel = pupil.voorvoegsel or "van der"
            pupil.achternaam = " "
        elif kind == _PROBLEM_NO_JAARGROEP:
            pupil.write_jaargroep = False
        else:
            # A mistyped decade (2034 for 2014) puts the birth after the peildatum.
            birth = pupil.geboortedatum
            while birth <= self.peil:
                birth = _shift_years(birth, 10)
            pupil.geboortedatum = birth

    # ------------------------------------------------------------------ EDEXML

    def edexml(self) -> bytes:
        """The school's ``EDEX.XML`` as bytes."""
        root = etree.Element("EDEX", nsmap={"xsi": _XSI})
        root.set(f"{{{_XSI}}}noNamespaceSchemaLocation", "EDEXML.structuur.xsd")
        school = etree.SubElement(root, "school")
        _text(school, "schooljaar", self.schooljaar)
        _text(school, "peildatum", self.peil.isoformat())
        _text(school, "brincode", self.brin)
        _text(school, "dependancecode", "00")
        _text(school, "aanmaakdatum", self.aanmaak.isoformat())
        _text(school, "auteur", "Sluis sample-generator")
        _text(school, "xsdversie", "2.1")
        _text(school, "commentaar", f"Synthetische export van {self.name}; geen echte leerlingen")

        groepen = etree.SubElement(root, "groepen")
        for group in self.groups:
            element = etree.SubElement(groepen, "groep", key=group.key)
            _text(element, "naam", group.naam)
            _text(element, "jaargroep", group.jaargroep)
            if len(group.years) > 1:
                label = ", ".join(str(year) for year in group.years[:-1])
                _text(element, "omschrijving", f"Combinatiegroep {label} en {group.years[-1]}")
        for key, naam, omschrijving in (
            ("SG-PLUS", "Plusgroep rekenen", "Verrijking rekenen voor groep 5 tot en met 8"),
            ("SG-TAAL", "Taalklas", "Extra ondersteuning Nederlands als tweede taal"),
        ):
            element = etree.SubElement(groepen, "samengestelde_groep", key=key)
            _text(element, "naam", naam)
            _text(element, "omschrijving", omschrijving)

        leerlingen = etree.SubElement(root, "leerlingen")
        for pupil in self.pupils:
            _write_pupil(leerlingen, pupil)
        self._write_teachers(root)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def _write_teachers(self, root: etree._Element) -> None:
        rng = self.rng
        leerkrachten = etree.SubElement(root, "leerkrachten")
        number = 0
        logins: set[str] = set()

        def teacher(rol: str) -> etree._Element:
            nonlocal number
            number += 1
            roepnaam = rng.choice(_ADULTS)
            voorvoegsel, achternaam = rng.choice(_SURNAMES)
            element = etree.SubElement(leerkrachten, "leerkracht", key=f"LK{number:03d}")
            _text(element, "achternaam", achternaam)
            if voorvoegsel:
                _text(element, "voorvoegsel", voorvoegsel)
            _text(element, "voorletters-1", roepnaam[0])
            _text(element, "roepnaam", roepnaam)
            login = _ascii(f"{roepnaam[0]}{voorvoegsel or ''}{achternaam}")
            if login in logins:
                login = f"{login}{number}"
            logins.add(login)
            _text(element, "gebruikersnaam", login)
            _text(element, "emailadres", f"{login}@{self.mail_domain}")
            _text(element, "rol", rol)
            return element

        for group in self.groups:
            # Two teachers share each stamgroep (a duo), as is usual with part-time work.
            for _i in range(2):
                links = etree.SubElement(teacher("LRK"), "groepen")
                etree.SubElement(links, "groep", key=group.key)
        links = etree.SubElement(teacher("IB"), "groepen")
        for key in ("SG-PLUS", "SG-TAAL"):
            link = etree.SubElement(links, "samengestelde_groep", key=key)
            _text(link, "rolomschrijving", "Begeleider")

    # ------------------------------------------------------------------ consents

    def consent_csv(self) -> bytes:
        """The school's consent export as Excel writes it: BOM, ``;``, CRLF."""
        rng = self.rng
        last_year = f"{self.start_year - 1}-{self.start_year}"
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerow(CONSENT_HEADER)

        # A dummy key cannot carry a consent: Parro links choices to the leerlingnummer.
        keyed = [p for p in self.pupils if not p.key.startswith("#")]
        # Guarantee each edge case once, on ordinary pupils, even in a small school; the
        # rest is left to chance.
        ordinary = [i for i, p in enumerate(keyed) if p.problem is None and p.uitstroom is None]
        rng.shuffle(ordinary)
        no_rows = set(ordinary[0:1])
        only_last_year = set(ordinary[1:2])
        changed_mind = set(ordinary[2:4])
        newest_first = set(ordinary[2:3])
        odd_spelling = set(ordinary[4:5])
        website_only = set(ordinary[5:6])
        guaranteed = no_rows | only_last_year | changed_mind | odd_spelling | website_only
        closes = datetime.combine(self.peil, time(21, 30))

        for position, pupil in enumerate(keyed):
            rows: list[tuple[str, str, str, datetime]] = []
            was_here = pupil.year >= 2 or pupil.instroom < self.year_start
            if position in only_last_year or (
                was_here and position not in no_rows and rng.random() < 0.3
            ):
                moment = self._moment(self.start_year - 1)
                for category in CONSENT_CATEGORIES:
                    rows.append((last_year, category, self._choice(category), moment))
            # Broken pupils keep their consents, so only the quarantine can stop them.
            silent = (
                position in no_rows
                or position in only_last_year
                or (position not in guaranteed and pupil.problem is None and rng.random() < 0.08)
            )
            if not silent:
                moment = self._moment(self.start_year)
                for category in CONSENT_CATEGORIES:
                    if position in website_only:
                        said = _WEBSITE_ONLY.get(category)
                        if said is not None:
                            rows.append((self.schooljaar, category, said, moment))
                    elif position in guaranteed or rng.random() < 0.95:
                        rows.append((self.schooljaar, category, self._choice(category), moment))
                current = [row for row in rows if row[0] == self.schooljaar]
                if (
                    current
                    and position not in website_only
                    and (position in changed_mind or rng.random() < 0.05)
                ):
                    # A parent changes their mind later in the year; the latest row wins.
                    _key, category, waarde, first = rng.choice(current)
                    later = first + timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 5))
                    if later > closes:
                        # Keep the change before the export closes, yet after the first row.
                        later = first + max(timedelta(minutes=5), (closes - first) / 2)
                    later = later.replace(microsecond=0)
                    flipped = "nee" if waarde == "ja" else "ja"
                    rows.append((self.schooljaar, category, flipped, later))
            # Exports list one pupil's rows together, but not in time order; one change
            # of mind is always written newest first, so "last row wins" is visibly wrong.
            rng.shuffle(rows)
            if position in newest_first:
                rows.sort(key=lambda row: row[3], reverse=True)
            for schooljaar, category, waarde, moment in rows:
                spelled = waarde
                if position in odd_spelling or rng.random() < 0.05:
                    spelled = rng.choice(_ODD_SPELLINGS[waarde])
                writer.writerow((pupil.key, schooljaar, category, spelled, moment.isoformat()))

        # Rows left behind by last year's groep 8, who are no longer in the export.
        highest = max((int(p.key) for p in keyed), default=100_000)
        for offset in (1000, 2000):
            moment = self._moment(self.start_year - 1)
            for category in CONSENT_CATEGORIES:
                row = (str(highest + offset), last_year, category, self._choice(category))
                writer.writerow((*row, moment.isoformat()))
        return ("\ufeff" + buffer.getvalue()).encode("utf-8")

    def _choice(self, category: str) -> str:
        return "ja" if self.rng.random() < _CONSENT_YES_RATE[category] else "nee"

    def _moment(self, start_year: int) -> datetime:
        """When a parent filled in Parro: the first weeks of that school year, evenings."""
        rng = self.rng
        latest = date(start_year, 10, 1)
        if start_year == self.start_year:
            latest = min(latest, self.peil)
        opens = min(_first_school_day(start_year, self.region) - timedelta(days=7), latest)
        day = opens + timedelta(days=rng.randrange(max(1, (latest - opens).days)))
        return datetime.combine(
            day, time(rng.randrange(7, 23), rng.randrange(60), rng.randrange(60))
        )


def _ascii(text: str) -> str:
    """Lower-case letters and digits only, as in a login name or a mail domain."""
    folded = unicodedata.normalize("NFKD", text.replace("ı", "i")).lower()
    return re.sub(r"[^a-z0-9]", "", folded)


def _named(pupil: _Pupil) -> bool:
    return pupil.achternaam is not None


def _named_in_combination(pupil: _Pupil) -> bool:
    return pupil.achternaam is not None and pupil.group.jaargroep == "C"


def _text(parent: etree._Element, tag: str, value: str) -> None:
    etree.SubElement(parent, tag).text = value


def _write_pupil(parent: etree._Element, pupil: _Pupil) -> None:
    """Append one ``leerling`` in the exact LeerlingType element order."""
    element = etree.SubElement(parent, "leerling", key=pupil.key)
    if pupil.eckid:
        element.set("eckid", pupil.eckid)
    if pupil.achternaam is not None:
        _text(element, "achternaam", pupil.achternaam)
        if pupil.voorvoegsel:
            _text(element, "voorvoegsel", pupil.voorvoegsel)
        if pupil.voornamen:
            _text(element, "voornamen", pupil.voornamen)
        if pupil.voorletters:
            _text(element, "voorletters-1", pupil.voorletters)
    _text(element, "roepnaam", pupil.roepnaam)
    _text(element, "geboortedatum", pupil.geboortedatum.isoformat())
    _text(element, "geslacht", pupil.geslacht)
    if pupil.start_jgr3:
        _text(element, "start_ondw_jgr3", pupil.start_jgr3.isoformat())
    if pupil.write_jaargroep:
        _text(element, "jaargroep", str(pupil.year))
    etree.SubElement(element, "groep", key=pupil.group.key)
    if pupil.samengestelde:
        refs = etree.SubElement(element, "samengestelde_groepen")
        for key in pupil.samengestelde:
            etree.SubElement(refs, "samengestelde_groep", key=key)
    if pupil.etniciteit:
        _text(element, "etniciteit", pupil.etniciteit)
    if pupil.land:
        _text(element, "land", pupil.land)
    if pupil.land_ouders:
        _text(element, "land_vader", pupil.land_ouders[0])
        _text(element, "land_moeder", pupil.land_ouders[1])
    if pupil.bsn:
        _text(element, "bsn", pupil.bsn)
    if pupil.gewicht_nieuw:
        _text(element, "gewicht_nieuw", pupil.gewicht_nieuw)
    if pupil.postcode:
        _text(element, "postcodenl", pupil.postcode)
    _text(element, "instroomdatum", pupil.instroom.isoformat())
    if pupil.uitstroom:
        _text(element, "uitstroomdatum", pupil.uitstroom.isoformat())
    if pupil.opmerking:
        blok = etree.SubElement(etree.SubElement(element, "toevoegingen"), "blok")
        blok.set(_XSI_TYPE, "OpmerkingGegevensType")
        _text(blok, "code", "Opmerking")
        _text(blok, "opmerking", pupil.opmerking)
    if pupil.mutatie:
        _text(element, "mutatiedatum", pupil.mutatie.isoformat())
