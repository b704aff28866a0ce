"""Synthetic exports: a school's Parro consent export, with its changes of mind."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

from connectors.synthetic_names import (
    CONSENT_CATEGORIES,
    CONSENT_HEADER,
    CONSENT_YES_RATE,
    ODD_SPELLINGS,
    WEBSITE_ONLY,
)
from connectors.synthetic_pupils import SchoolPupils, first_school_day


class ConsentWriting(SchoolPupils):
    """A school that writes its consent export."""

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
                        said = WEBSITE_ONLY.get(category)
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
                    spelled = rng.choice(ODD_SPELLINGS[waarde])
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
        return "ja" if self.rng.random() < CONSENT_YES_RATE[category] else "nee"

    def _moment(self, start_year: int) -> datetime:
        """When a parent filled in Parro: the first weeks of that school year, evenings."""
        rng = self.rng
        latest = date(start_year, 10, 1)
        if start_year == self.start_year:
            latest = min(latest, self.peil)
        opens = min(first_school_day(start_year, self.region) - timedelta(days=7), latest)
        day = opens + timedelta(days=rng.randrange(max(1, (latest - opens).days)))
        return datetime.combine(
            day, time(rng.randrange(7, 23), rng.randrange(60), rng.randrange(60))
        )
