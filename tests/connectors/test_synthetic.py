"""The synthetic export generator: deterministic, schema-valid, realistic where it matters."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from connectors.errors import ConfigurationError
from connectors.synthetic import CONSENT_CATEGORIES, write_samples

XS = "http://www.w3.org/2001/XMLSchema"
XSD_FILES = (
    "EDEXML.structuur.xsd",
    "EDEXML.elementen.xsd",
    "EDEXML.types.vast.xsd",
    "EDEXML.types.variabel.xsd",
)
SCHOOLJAAR = "2026-2027"
LAST_YEAR = "2025-2026"
MODERN_ECKID = re.compile(r"https://ketenid\.nl/201703/[0-9a-f]{128}")
LEGACY_ECKID = re.compile(r"https://id\.school/\S+")
HEADER = "leerlingkey;schooljaar;categorie;waarde;gewijzigd_op"


def _parse(path: Path) -> etree._ElementTree:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.parse(str(path), parser)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != "README.md"
    }


def _consent_rows(folder: Path) -> list[dict[str, str]]:
    text = (folder / "toestemmingen.csv").read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def _problems(doc: etree._ElementTree) -> dict[str, list[str]]:
    """Keys of the deliberately broken pupils, by business rule."""
    peil = date.fromisoformat(doc.findtext("school/peildatum") or "")
    combination = {
        group.get("key")
        for group in doc.iterfind("groepen/groep")
        if group.findtext("jaargroep") == "C"
    }
    found: dict[str, list[str]] = defaultdict(list)
    for pupil in doc.iterfind("leerlingen/leerling"):
        key = pupil.get("key") or ""
        achternaam = pupil.findtext("achternaam")
        if (
            achternaam is not None
            and not achternaam.strip()
            and pupil.find("voorvoegsel") is not None
        ):
            found["voorvoegsel_zonder_achternaam"].append(key)
        group = pupil.find("groep")
        if (
            pupil.find("jaargroep") is None
            and group is not None
            and group.get("key") in combination
        ):
            found["combinatiegroep_zonder_jaargroep"].append(key)
        if date.fromisoformat(pupil.findtext("geboortedatum") or "") > peil:
            found["geboortedatum_na_peildatum"].append(key)
    return dict(found)


def _elfproef(number: str) -> bool:
    digits = [int(d) for d in number]
    total = sum(weight * d for weight, d in zip(range(9, 1, -1), digits[:8], strict=True))
    return len(digits) == 9 and (total - digits[8]) % 11 == 0


@pytest.fixture
def edexml_schema(edexml_reference: Path, tmp_path: Path) -> etree.XMLSchema:
    """The official XSD with only EDEXSchooljaarType widened to any YYYY-YYYY."""
    folder = tmp_path / "xsd"
    folder.mkdir()
    for name in XSD_FILES:
        data = (edexml_reference / name).read_bytes()
        if name == "EDEXML.types.variabel.xsd":
            tree = etree.fromstring(data)
            restriction = tree.find(
                f"{{{XS}}}simpleType[@name='EDEXSchooljaarType']/{{{XS}}}restriction"
            )
            assert restriction is not None
            for enumeration in restriction.findall(f"{{{XS}}}enumeration"):
                restriction.remove(enumeration)
            etree.SubElement(restriction, f"{{{XS}}}pattern", value=r"\d{4}-\d{4}")
            data = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
        (folder / name).write_bytes(data)
    return etree.XMLSchema(_parse(folder / "EDEXML.structuur.xsd"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A larger run than the samples, so rarer cases show up too."""
    out = tmp_path_factory.mktemp("generated")
    return write_samples(out, schools=4, pupils_per_school=250, seed=7)


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    write_samples(tmp_path / "a", schools=3, pupils_per_school=80, seed=11)
    write_samples(tmp_path / "b", schools=3, pupils_per_school=80, seed=11)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_different_seed_gives_different_exports(tmp_path: Path) -> None:
    first = write_samples(tmp_path / "a", schools=2, pupils_per_school=80, seed=11)
    second = write_samples(tmp_path / "b", schools=2, pupils_per_school=80, seed=12)
    assert [p.name for p in first] != [p.name for p in second]
    assert (first[0] / "EDEX.XML").read_bytes() != (second[0] / "EDEX.XML").read_bytes()


def test_committed_samples_match_what_the_documented_command_writes(
    samples_dir: Path, tmp_path: Path
) -> None:
    # The arguments documented in data/samples/README.md.
    folders = write_samples(tmp_path, schools=2, pupils_per_school=60, seed=20261128)
    committed = sorted(p.name for p in samples_dir.iterdir() if p.is_dir())
    assert committed == sorted(p.name for p in folders)
    assert _files(samples_dir) == _files(tmp_path)


def test_every_export_validates_against_the_official_xsd(
    edexml_schema: etree.XMLSchema, generated: list[Path], samples_dir: Path
) -> None:
    samples = [p for p in samples_dir.iterdir() if p.is_dir()]
    for folder in [*generated, *samples]:
        doc = _parse(folder / "EDEX.XML")
        assert edexml_schema.validate(doc), f"{folder.name}: {edexml_schema.error_log}"


def test_a_school_year_after_the_official_enumeration_is_what_the_widening_is_for(
    edexml_reference: Path, generated: list[Path]
) -> None:
    official = etree.XMLSchema(_parse(edexml_reference / "EDEXML.structuur.xsd"))
    assert not official.validate(_parse(generated[0] / "EDEX.XML"))
    errors = str(official.error_log).splitlines()
    assert errors
    assert all("schooljaar" in message for message in errors)


def test_each_school_has_its_own_well_formed_brin(tmp_path: Path) -> None:
    folders = write_samples(tmp_path, schools=60, pupils_per_school=5, seed=3)
    brins = [folder.name for folder in folders]
    assert len(set(brins)) == 60
    for folder in folders:
        doc = _parse(folder / "EDEX.XML")
        assert re.fullmatch(r"\d{2}[A-Z]{2}", folder.name)
        assert doc.findtext("school/brincode") == folder.name
        assert doc.findtext("school/dependancecode") == "00"


def test_header_is_derived_from_the_arguments_not_the_clock(tmp_path: Path) -> None:
    (folder,) = write_samples(
        tmp_path,
        schools=1,
        pupils_per_school=30,
        seed=1,
        schooljaar="2030-2031",
        peildatum="2030-10-01",
    )
    doc = _parse(folder / "EDEX.XML")
    assert doc.findtext("school/schooljaar") == "2030-2031"
    assert doc.findtext("school/peildatum") == "2030-10-01"
    assert (doc.findtext("school/aanmaakdatum") or "").startswith("2030-10-02T")


def test_bsns_pass_the_elfproef_and_are_never_shared(generated: list[Path]) -> None:
    bsns = [
        bsn.text or ""
        for folder in generated
        for bsn in _parse(folder / "EDEX.XML").iterfind("leerlingen/leerling/bsn")
    ]
    assert len(bsns) > 0.75 * 4 * 250
    assert all(_elfproef(bsn) for bsn in bsns)
    assert len(set(bsns)) == len(bsns)


def test_pupils_look_like_a_dutch_primary_school(generated: list[Path]) -> None:
    for folder in generated:
        doc = _parse(folder / "EDEX.XML")
        pupils = doc.findall("leerlingen/leerling")
        assert len(pupils) == 250
        broken = {key for keys in _problems(doc).values() for key in keys}
        groups = {g.get("key"): g.findtext("jaargroep") for g in doc.iterfind("groepen/groep")}
        assert "C" in groups.values()
        names = {g.findtext("naam") for g in doc.iterfind("groepen/samengestelde_groep")}
        assert names == {"Plusgroep rekenen", "Taalklas"}
        peil = date.fromisoformat(doc.findtext("school/peildatum") or "")
        eckids: Counter[str] = Counter()
        for pupil in pupils:
            key = pupil.get("key") or ""
            eckid = pupil.get("eckid")
            if eckid is None:
                eckids["missing"] += 1
            elif MODERN_ECKID.fullmatch(eckid):
                eckids["modern"] += 1
            else:
                assert LEGACY_ECKID.fullmatch(eckid), eckid
                eckids["legacy"] += 1
            if pupil.find("achternaam") is None:
                # Branch B: roepnaam only, none of the parts that need an achternaam.
                assert [child.tag for child in pupil][:1] == ["roepnaam"]
                assert pupil.find("voorvoegsel") is None
                assert pupil.find("voornamen") is None
            voorletters = pupil.findtext("voorletters-1")
            assert voorletters is None or "." not in voorletters
            if key in broken:
                continue
            jaargroep = int(pupil.findtext("jaargroep") or "")
            group = pupil.find("groep")
            assert group is not None
            assert groups[group.get("key")] in {"C", str(jaargroep)}
            born = date.fromisoformat(pupil.findtext("geboortedatum") or "")
            age = peil.year - born.year - ((peil.month, peil.day) < (born.month, born.day))
            assert jaargroep + 3 <= age <= jaargroep + 4, key
        assert eckids["modern"] > 0.8 * len(pupils)
        assert 1 <= eckids["legacy"] <= 2
        assert 0 < eckids["missing"] < 0.15 * len(pupils)


def test_awkward_but_legal_pupils_are_present(samples_dir: Path) -> None:
    for folder in (p for p in samples_dir.iterdir() if p.is_dir()):
        doc = _parse(folder / "EDEX.XML")
        peil = doc.findtext("school/peildatum") or ""
        pupils = doc.findall("leerlingen/leerling")
        keys = [pupil.get("key") or "" for pupil in pupils]
        assert 1 <= sum(key.startswith("#") for key in keys) <= 2
        assert all(key.isdigit() for key in keys if not key.startswith("#"))
        assert any(pupil.find("achternaam") is None for pupil in pupils)
        assert any((pupil.findtext("uitstroomdatum") or "9") < peil for pupil in pupils)
        assert any(pupil.find("voorvoegsel") is not None for pupil in pupils)
        assert any(pupil.find("toevoegingen/blok/opmerking") is not None for pupil in pupils)
        assert any(pupil.find("samengestelde_groepen") is not None for pupil in pupils)
        stamgroepen = doc.findall("groepen/groep")
        for group in stamgroepen:
            links = doc.findall(f"leerkrachten/leerkracht/groepen/groep[@key='{group.get('key')}']")
            assert len(links) == 2
        assert {rol.text for rol in doc.iterfind("leerkrachten/leerkracht/rol")} >= {"LRK"}
    names = " ".join(
        name.text or ""
        for folder in samples_dir.iterdir()
        if folder.is_dir()
        for name in _parse(folder / "EDEX.XML").iterfind("leerlingen/leerling/roepnaam")
    )
    # Diacritics must survive every stage, so the samples carry them.
    assert re.search(r"[ëïüèçÇÜğ]", names)


def test_each_sample_school_has_one_pupil_per_deliberate_problem(samples_dir: Path) -> None:
    readme = (samples_dir / "README.md").read_text(encoding="utf-8")
    for folder in (p for p in samples_dir.iterdir() if p.is_dir()):
        problems = _problems(_parse(folder / "EDEX.XML"))
        assert sorted(problems) == [
            "combinatiegroep_zonder_jaargroep",
            "geboortedatum_na_peildatum",
            "voorvoegsel_zonder_achternaam",
        ]
        for keys in problems.values():
            assert len(keys) == 1
            # The README names each broken pupil so a reader can find it in the quarantine.
            assert keys[0] in readme, f"{folder.name}/{keys[0]} missing from README.md"


def test_about_one_percent_is_broken_in_a_larger_school(generated: list[Path]) -> None:
    for folder in generated:
        problems = _problems(_parse(folder / "EDEX.XML"))
        assert len(problems) == 3
        assert sum(len(keys) for keys in problems.values()) == 3


def test_consent_file_is_what_excel_writes(samples_dir: Path, generated: list[Path]) -> None:
    for folder in [*generated, *(p for p in samples_dir.iterdir() if p.is_dir())]:
        raw = (folder / "toestemmingen.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n")
        rows = _consent_rows(folder)
        assert {row["categorie"] for row in rows} == set(CONSENT_CATEGORIES)
        assert {row["waarde"].strip().lower() for row in rows} == {"ja", "nee"}
        assert {row["schooljaar"] for row in rows} == {SCHOOLJAAR, LAST_YEAR}
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", r["gewijzigd_op"]) for r in rows)


def test_consent_edge_cases_are_in_every_school(samples_dir: Path) -> None:
    for folder in (p for p in samples_dir.iterdir() if p.is_dir()):
        doc = _parse(folder / "EDEX.XML")
        keys = {pupil.get("key") or "" for pupil in doc.iterfind("leerlingen/leerling")}
        rows = _consent_rows(folder)
        current = [row for row in rows if row["schooljaar"] == SCHOOLJAAR]
        with_current = {row["leerlingkey"] for row in current}
        with_last = {row["leerlingkey"] for row in rows if row["schooljaar"] == LAST_YEAR}

        assert {key for key in keys - with_current - with_last if key.isdigit()}, "no rows at all"
        assert (with_last - with_current) & keys, "only last year's rows"
        assert with_last - keys, "rows of pupils no longer in the export"

        values: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
        for row in current:
            values[row["leerlingkey"], row["categorie"]].append(
                (row["gewijzigd_op"], row["waarde"].strip().lower())
            )
        changed = [v for v in values.values() if len({waarde for _, waarde in v}) > 1]
        assert changed, "a change of mind"
        assert any(v != sorted(v) for v in changed), "a change of mind listed newest first"

        spellings = {row["waarde"] for row in rows}
        assert any(s != s.strip() for s in spellings), "stray spaces"
        assert any(s.strip() not in {"ja", "nee"} for s in spellings), "mixed case"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"schools": 0}, "schools"),
        ({"pupils_per_school": 0}, "pupils_per_school"),
        ({"schooljaar": "2026/2027"}, "schooljaar"),
        ({"schooljaar": "2026-2028"}, "schooljaar"),
        ({"peildatum": "01-10-2026"}, "peildatum"),
    ],
)
def test_bad_arguments_are_a_configuration_error(
    tmp_path: Path, overrides: dict[str, object], fragment: str
) -> None:
    arguments: dict[str, object] = {"schools": 1, "pupils_per_school": 10, "seed": 1, **overrides}
    with pytest.raises(ConfigurationError, match=fragment):
        write_samples(tmp_path, **arguments)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())
