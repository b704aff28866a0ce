"""Consent per purpose: photos on the website, in the newsletter and in Parro are asked
separately, and a yes for one is no yes for another (the bundled samples, the shipped
agreements)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from contracts.agreements import BUNDLED_AGREEMENTS, load_agreements
from pipelines.plan import discover_schools
from pipelines.work import prepare_schools
from policy.apply import apply_agreement_batch

TODAY = date(2026, 11, 28)
SCHOOLJAAR = "2026-2027"


def latest_choices(consents: Path) -> dict[str, dict[str, str]]:
    """Per key and category the choice that counts this school year, read independently of
    Sluis' reader (the sample's timestamps are ISO, so they sort as text)."""
    with consents.open(encoding="utf-8-sig", newline="") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter=";") if r["schooljaar"] == SCHOOLJAAR]
    latest: dict[tuple[str, str], tuple[str, bool, str]] = {}
    for row in rows:
        value = row["waarde"].strip().lower()
        mark = (row["gewijzigd_op"], value == "nee", value)
        slot = (row["leerlingkey"], row["categorie"])
        latest[slot] = max(latest.get(slot, mark), mark)
    choices: dict[str, dict[str, str]] = {}
    for (key, category), (_, _, value) in latest.items():
        choices.setdefault(key, {})[category] = value
    return choices


def test_a_child_with_consent_for_the_website_only_is_in_the_website_delivery_only(
    samples_dir: Path,
) -> None:
    agreements = [
        loaded.agreement
        for loaded in load_agreements(BUNDLED_AGREEMENTS)
        if loaded.agreement.consent_category is not None
    ]
    by_category = {a.consent_category: a.id for a in agreements}
    assert {"beeldmateriaal_website", "beeldmateriaal_nieuwsbrief", "beeldmateriaal_parro"} <= set(
        by_category
    )
    found = discover_schools(samples_dir, None, "toestemmingen.csv")
    schools = prepare_schools(found, today=TODAY)
    cuts = {
        a.id: apply_agreement_batch(schools, a, today=TODAY, secret=b"k" * 32) for a in agreements
    }
    checked = 0
    for index, (school_in, school) in enumerate(zip(found, schools, strict=True)):
        assert school_in.consents is not None
        valid = set(school.pupils["leerlingkey"])
        website_only = [
            key
            for key, said in latest_choices(school_in.consents).items()
            if key in valid
            and said.get("beeldmateriaal_website") == "ja"
            and all(v != "ja" for c, v in said.items() if c != "beeldmateriaal_website")
        ]
        assert website_only, f"{school.brincode}: the samples must hold such a child"
        for key in website_only:
            receives = {
                supplier
                for supplier, batch in cuts.items()
                if key in set(batch[index].delivered_keys)
            }
            # In scope of the website list (every jaargroep), so consent alone decides.
            assert receives == {"schoolwebsite"}, (school.brincode, key, receives)
            checked += 1
    assert checked >= 2


def test_the_samples_carry_every_photo_category_with_ja_nee_and_missing(
    samples_dir: Path,
) -> None:
    for consents in sorted(samples_dir.glob("*/toestemmingen.csv")):
        choices = latest_choices(consents)
        for category in (
            "beeldmateriaal_website",
            "beeldmateriaal_nieuwsbrief",
            "beeldmateriaal_parro",
        ):
            values = {said.get(category, "missing") for said in choices.values()}
            assert {"ja", "nee", "missing"} <= values, (consents.parent.name, category)
