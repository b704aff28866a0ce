"""The anchor: the core job of a sync done by hand, with no Sluis code and no pandas.

    python bench/plain.py SOURCE OUT [--agreements DIR]

Per school folder under SOURCE (EDEX.XML plus toestemmingen.csv): an lxml iterparse of the
export keeping the fields any agreement asks for, the consent export read with the csv
module (latest row per pupil and category of the export's school year wins, no row is no
consent), and then per shipped agreement one CSV in OUT/<supplier>/<brin>.csv: the pupils
in its scope (jaargroepen, no pupils who left), with consent where that is the legal basis,
and only its fields (geboortejaar and a keyed-hash pseudoniem derived by hand).

What it leaves out is what Sluis adds on top of the core job: contracts and quarantine,
delta state, lineage, manifests, the formats other than CSV, atomic publishing. That is the
point of the anchor: bench/run.py prints the stages' CPU as a multiple of this script's.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

import yaml
from lxml import etree

REPO = Path(__file__).resolve().parent.parent
AGREEMENTS = REPO / "contracts" / "suppliers"
EXPORT = "EDEX.XML"
CONSENTS = "toestemmingen.csv"
# A fixed key: the anchor does the work of a keyed hash, it protects nothing.
_PSEUDONYM_KEY = b"plain-anchor-key-0123456789abcdef"
_PUPIL_FIELDS = (
    "achternaam",
    "voorvoegsel",
    "roepnaam",
    "geboortedatum",
    "geslacht",
    "jaargroep",
    "uitstroomdatum",
)


@dataclass(frozen=True)
class Agreement:
    id: str
    fields: tuple[str, ...]
    jaargroepen: frozenset[str] | None
    include_left: bool
    consent: str | None


def load_agreements(folder: Path) -> list[Agreement]:
    found = []
    for path in sorted(folder.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text("utf-8"))
        scope = raw.get("scope") or {}
        years = scope.get("jaargroepen")
        found.append(
            Agreement(
                id=raw["id"],
                fields=tuple(f["name"] for f in raw["fields"]),
                jaargroepen=frozenset(str(y) for y in years) if years else None,
                include_left=bool(scope.get("include_left", False)),
                consent=raw["legal_basis"].get("consent_category"),
            )
        )
    return found


def read_export(path: Path) -> tuple[dict[str, str], dict[str, str], list[dict[str, str]]]:
    """School header, group names by key, and one dict per pupil (only the fields used)."""
    school: dict[str, str] = {}
    groups: dict[str, str] = {}
    pupils: list[dict[str, str]] = []
    parser_options = {"resolve_entities": False, "no_network": True, "load_dtd": False}
    for _, element in etree.iterparse(
        str(path), events=("end",), tag=("school", "groep", "leerling"), **parser_options
    ):
        tag = element.tag
        if tag == "leerling":
            pupil = {"leerlingkey": element.get("key", ""), "eckid": element.get("eckid", "")}
            for child in element:
                if child.tag in _PUPIL_FIELDS:
                    pupil[child.tag] = (child.text or "").strip()
                elif child.tag == "groep":
                    pupil["groepskey"] = child.get("key", "")
            pupils.append(pupil)
            element.clear()
        elif tag == "groep":
            # A group definition sits in EDEX/groepen; a pupil's or teacher's groep is a
            # reference (handled with its parent).
            parent = element.getparent()
            if parent is not None and parent.tag == "groepen" and parent.getparent().tag == "EDEX":
                groups[element.get("key", "")] = element.findtext("naam") or ""
        elif tag == "school":
            school = {child.tag: (child.text or "").strip() for child in element}
            element.clear()
    return school, groups, pupils


def read_consents(path: Path, schooljaar: str) -> set[tuple[str, str]]:
    """(leerlingkey, categorie) pairs whose latest row in this school year says ja."""
    latest: dict[tuple[str, str], tuple[str, bool]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle, delimiter=";")
        next(rows, None)
        for row in rows:
            if len(row) != 5 or row[1].strip() != schooljaar:
                continue
            key = (row[0].strip(), row[2].strip())
            moment = row[4].strip()
            if key not in latest or moment >= latest[key][0]:
                latest[key] = (moment, row[3].strip().lower() == "ja")
    return {key for key, (_, yes) in latest.items() if yes}


def _value(name: str, pupil: dict[str, str], school: dict[str, str], groups: dict[str, str]) -> str:
    if name == "pseudoniem":
        digest = hmac.new(_PSEUDONYM_KEY, pupil["leerlingkey"].encode(), hashlib.sha256)
        return digest.hexdigest()
    if name == "geboortejaar":
        return pupil.get("geboortedatum", "")[:4]
    if name == "groepsnaam":
        return groups.get(pupil.get("groepskey", ""), "")
    if name == "brincode":
        return school.get("brincode", "")
    return pupil.get(name, "")


def run(source: Path, out: Path, agreements_dir: Path = AGREEMENTS) -> int:
    """Write every school's CSV per agreement; returns the number of pupils read."""
    agreements = load_agreements(agreements_dir)
    for agreement in agreements:
        (out / agreement.id).mkdir(parents=True, exist_ok=True)
    read = 0
    for folder in sorted(p for p in source.iterdir() if (p / EXPORT).is_file()):
        school, groups, pupils = read_export(folder / EXPORT)
        read += len(pupils)
        consents = folder / CONSENTS
        yes = read_consents(consents, school.get("schooljaar", "")) if consents.is_file() else set()
        brin = school.get("brincode", folder.name)
        for agreement in agreements:
            target = out / agreement.id / f"{brin.lower()}.csv"
            with target.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, delimiter=";")
                writer.writerow(agreement.fields)
                years = agreement.jaargroepen
                for pupil in pupils:
                    if years and pupil.get("jaargroep") not in years:
                        continue
                    if not agreement.include_left and pupil.get("uitstroomdatum"):
                        continue
                    if agreement.consent and (pupil["leerlingkey"], agreement.consent) not in yes:
                        continue
                    writer.writerow([_value(f, pupil, school, groups) for f in agreement.fields])
    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--agreements", type=Path, default=AGREEMENTS)
    args = parser.parse_args()
    pupils = run(args.source, args.out, args.agreements)
    print(f"{pupils} pupils read")


if __name__ == "__main__":
    main()
