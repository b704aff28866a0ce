"""Synthetic exports: one invented school planned (groups, jaargroepen) and filled with pupils."""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from connectors.synthetic_names import (
    ANIMALS,
    BAD_POSTCODE_PAIRS,
    BOYS,
    BSN_BODIES,
    BSN_STEP,
    FOREIGN_LANDS,
    GIRLS,
    GROUP_SIZE,
    LEGACY_ECKID_ALPHABET,
    MIDDLE_BOYS,
    MIDDLE_GIRLS,
    OFFICIAL,
    POSTCODE_LETTERS,
    PROBLEM_BLANK_SURNAME,
    PROBLEM_NO_JAARGROEP,
    PROBLEMS,
    REMARKS,
    SCHOOL_NAMES,
    SCHOOL_PREFIXES,
    SURNAMES,
    YEAR_WEIGHTS,
)


@dataclass(frozen=True, slots=True)
class _Group:
    key: str
    naam: str
    years: tuple[int, ...]

    @property
    def jaargroep(self) -> str:
        return "C" if len(self.years) > 1 else str(self.years[0])


@dataclass(slots=True)
class PupilPlan:
    """One invented pupil, as the EDEXML and consent writers write it."""

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
class Counter:
    """Running state shared by all schools of one run (BSN uniqueness)."""

    bsn_next: int


def brin_code(code: int) -> str:
    """The BRIN code numbered `code`: two digits and two letters."""
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


def first_school_day(year: int, region: int) -> date:
    """Monday in the second half of August; the three regions start a week apart."""
    day = date(year, 8, 15)
    return day + timedelta(days=(7 - day.weekday()) % 7 + 7 * region)


def _year_counts(size: int) -> list[int]:
    """Pupils per jaargroep 1-8 by largest remainder, so group planning is stable."""
    total = sum(YEAR_WEIGHTS)
    shares = [size * weight / total for weight in YEAR_WEIGHTS]
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
    blocks: list[tuple[tuple[int, ...], int]] = [((1, 2), max(1, round(kleuters / GROUP_SIZE)))]
    wanted = max(1, round(sum(year_counts[2:]) / GROUP_SIZE))
    if wanted >= 4:
        # Six years do not split evenly into four or five blocks: smaller single-year
        # groups are what such a school runs.
        for year in range(3, 9):
            blocks.append(((year,), max(1, round(year_counts[year - 1] / GROUP_SIZE))))
        return blocks
    width = 6 // wanted
    for first in range(3, 9, width):
        blocks.append((tuple(range(first, first + width)), 1))
    return blocks


class SchoolPupils:
    """One invented school: its groups and pupils, drawn when it is made."""

    def __init__(
        self,
        rng: random.Random,
        counter: Counter,
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
        self.year_start = first_school_day(start_year, self.region)
        prefix = rng.choice(SCHOOL_PREFIXES)
        base = SCHOOL_NAMES[index % len(SCHOOL_NAMES)]
        # Past the end of the name list, a number keeps school names distinct.
        suffix = "" if index < len(SCHOOL_NAMES) else f" {index // len(SCHOOL_NAMES) + 1}"
        self.name = f"{prefix} {base}{suffix}"
        # .example is reserved (RFC 2606), so no address here can reach a real school.
        self.mail_domain = ascii(self.name) + ".example"
        self.aanmaak = datetime.combine(
            peil + timedelta(days=1),
            time(rng.randrange(6, 9), rng.randrange(60), rng.randrange(60)),
        )
        self.postcode_area = rng.randrange(1000, 9900)
        self.groups: list[_Group] = []
        self.pupils: list[PupilPlan] = []
        self._build_pupils(size)

    # ------------------------------------------------------------------ pupils

    def _build_pupils(self, size: int) -> None:
        rng = self.rng
        counts = _year_counts(size)
        years = [year for year, count in enumerate(counts, start=1) for _ in range(count)]
        rng.shuffle(years)
        animals = list(ANIMALS)
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

    def _pupil(self, key: str, year: int, group: _Group) -> PupilPlan:
        rng = self.rng
        draw = rng.random()
        geslacht = "1" if draw < 0.485 else "2" if draw < 0.97 else "0" if draw < 0.99 else "9"
        if geslacht == "1" or (geslacht in "09" and rng.random() < 0.5):
            roepnaam, middles = rng.choice(BOYS), MIDDLE_BOYS
        else:
            roepnaam, middles = rng.choice(GIRLS), MIDDLE_GIRLS
        voorvoegsel, achternaam = rng.choice(SURNAMES)
        names = [OFFICIAL.get(roepnaam, roepnaam.replace("-", " "))]
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
            instroom = first_school_day(self.start_year - rng.randrange(year - 2), self.region)
        instroom = min(instroom, self.peil)
        start_jgr3 = (
            first_school_day(self.start_year - (year - 3), self.region) if year >= 3 else None
        )

        pupil = PupilPlan(
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
            pupil.land = rng.choice(FOREIGN_LANDS)
            if rng.random() < 0.5:
                pupil.land_ouders = (pupil.land, rng.choice((pupil.land, "NL")))
        if year >= 3 and (rng.random() < 0.04 or (pupil.land and rng.random() < 0.5)):
            pupil.samengestelde.append("SG-TAAL")
        if rng.random() < 0.03:
            pupil.etniciteit = rng.choice(("0", "1", "9"))
        if rng.random() < 0.06:
            pupil.gewicht_nieuw = rng.choice(("0", "0,3", "1,2", "?"))
        if rng.random() < 0.05:
            pupil.opmerking = rng.choice(REMARKS)
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
            body = (self.counter.bsn_next * BSN_STEP) % BSN_BODIES
            self.counter.bsn_next = (self.counter.bsn_next + 1) % BSN_BODIES
            digits = f"{body:08d}"
            check = sum((9 - i) * int(d) for i, d in enumerate(digits)) % 11
            if check < 10:
                return f"{digits}{check}"

    def _postcode(self) -> str:
        rng = self.rng
        while True:
            letters = rng.choice(POSTCODE_LETTERS) + rng.choice(POSTCODE_LETTERS)
            if letters not in BAD_POSTCODE_PAIRS:
                return f"{min(9999, self.postcode_area + rng.randrange(40))}{letters}"

    def _add_special_cases(self) -> None:
        """Mark the awkward-but-legal pupils, then the deliberately broken ones."""
        rng = self.rng
        size = len(self.pupils)
        pool = list(range(size))
        rng.shuffle(pool)
        used: set[int] = set()

        def take(count: int, fits: Callable[[PupilPlan], bool] = lambda _: True) -> list[PupilPlan]:
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
            token = "".join(rng.choice(LEGACY_ECKID_ALPHABET) for _ in range(48))
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
        for number, kind in enumerate(PROBLEMS):
            count = len(range(number, problems, len(PROBLEMS)))
            # Only in a combination group can a missing jaargroep not be derived.
            fits = _named_in_combination if kind == PROBLEM_NO_JAARGROEP else _named
            for pupil in take(count, fits):
                self._break(pupil, kind)
        # Keys sort numerically in the export; the dummy keys come last.
        self.pupils.sort(key=lambda p: (p.key.startswith("#"), len(p.key), p.key))

    def _break(self, pupil: PupilPlan, kind: str) -> None:
        pupil.problem = kind
        if pupil.eckid is None:
            # Broken pupils would otherwise be deliverable: they must be stopped by the
            # quarantine, not by a missing identifier.
            pupil.eckid = f"https://ketenid.nl/201703/{self.rng.getrandbits(512):0128x}"
        if kind == PROBLEM_BLANK_SURNAME:
            # The surname was cleared to a single space but the tussenvoegsel stayed:
            # XSD-valid (minLength 1), yet a voorvoegsel without an achternaam.
            pupil.voorvoegsel = pupil.voorvoegsel or "van der"
            pupil.achternaam = " "
        elif kind == PROBLEM_NO_JAARGROEP:
            pupil.write_jaargroep = False
        else:
            # A mistyped decade (2034 for 2014) puts the birth after the peildatum.
            birth = pupil.geboortedatum
            while birth <= self.peil:
                birth = _shift_years(birth, 10)
            pupil.geboortedatum = birth


def ascii(text: str) -> str:
    """Lower-case letters and digits only, as in a login name or a mail domain."""
    folded = unicodedata.normalize("NFKD", text.replace("ı", "i")).lower()
    return re.sub(r"[^a-z0-9]", "", folded)


def _named(pupil: PupilPlan) -> bool:
    return pupil.achternaam is not None


def _named_in_combination(pupil: PupilPlan) -> bool:
    return pupil.achternaam is not None and pupil.group.jaargroep == "C"
