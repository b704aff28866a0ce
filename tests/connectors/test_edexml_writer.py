"""EDEXML 2.1 output and its UWLR 2.2 smalle-set profile: valid, minimal, deterministic."""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from connectors.errors import ConfigurationError, InputError
from connectors.formats.base import DataFile, RenderContext
from connectors.formats.edexml import UWLR_NAMESPACE, EdexmlFormat
from connectors.formats.registry import get_format

# The widened school-year list is the reader's own: the same patch, not a copy of the XSD.
from connectors.sources.edexml_xsd import _PatchedResolver, _widen_schoolyear, validate_with_xsd
from connectors.sources.registry import get_source

UWLR = "{" + UWLR_NAMESPACE + "}"
SMALLE_SET_SCHEMA = Path("Profiel smalle set") / "Profiel_Smalle_set_UWLR_Leerlinggegevens_v2p2.xsd"

SCHOOL: dict[str, str | None] = {
    "brincode": "07XY",
    "dependancecode": "00",
    "schooljaar": "2026-2027",
    "peildatum": "2026-10-01",
    "schoolkey": None,
}
CREATED_AT = "2026-11-28T02:00:00+00:00"
# contracts/suppliers/basispoort.yaml, as the lead switches it to edexml.
BASISPOORT_FIELDS = (
    "eckid",
    "roepnaam",
    "achternaam",
    "voorvoegsel",
    "geboortedatum",
    "leerlingkey",
    "groepskey",
    "groepsnaam",
    "jaargroep",
    "geslacht",
    "brincode",
)
SMALLE_SET_FIELDS = (
    "leerlingkey",
    "eckid",
    "achternaam",
    "voorvoegsel",
    "roepnaam",
    "geboortedatum",
    "jaargroep",
    "groepskey",
    "samengestelde_groepen",
)
# Every pupil field plain EDEXML writes.
ALL_FIELDS = (
    "leerlingkey",
    "eckid",
    "achternaam",
    "voorvoegsel",
    "voornamen",
    "voorletters",
    "roepnaam",
    "geboortedatum",
    "geslacht",
    "start_ondw_jgr3",
    "jaargroep",
    "groepskey",
    "groepsnaam",
    "samengestelde_groepen",
    "gebruikersnaam",
    "emailadres",
    "fotourl",
    "instroomdatum",
    "uitstroomdatum",
    "brincode",
    "dependancecode",
    "schooljaar",
)
TEACHER_FIELDS = (
    "leerkrachtkey",
    "eckid",
    "achternaam",
    "voorvoegsel",
    "voorletters",
    "roepnaam",
    "emailadres",
    "groepen",
)


# --- builders ----------------------------------------------------------------------------


def eckid(number: int, kind: str = "") -> str:
    return f"https://ketenid.nl/201703/{kind}{number:0128x}"[: 26 + 128]


def pupil(key: str | None, **values: str | None) -> dict[str, str | None]:
    """A pupil of groep 3 with every writable field set, unless overridden."""
    base: dict[str, str | None] = {
        "leerlingkey": key,
        "eckid": eckid(int(key)) if key and key.isdigit() else None,
        "achternaam": "Jansen",
        "voorvoegsel": None,
        "voornamen": "Sem Pieter",
        "voorletters": "SP",
        "roepnaam": "Sem",
        "geboortedatum": "2019-05-01",
        "geslacht": "1",
        "start_ondw_jgr3": "2025-08-25",
        "jaargroep": "3",
        "groepskey": "G3",
        "groepsnaam": "Groep 3 Vossen",
        "samengestelde_groepen": None,
        "gebruikersnaam": "sem.jansen",
        "emailadres": "sem.jansen@school.example",
        "fotourl": "https://school.example/foto/1.jpg",
        "instroomdatum": "2023-08-28",
        "uitstroomdatum": None,
        "brincode": "07XY",
        "dependancecode": "00",
        "schooljaar": "2026-2027",
    }
    base.update(values)
    return base


def pupils(rows: list[dict[str, str | None]], fields: tuple[str, ...]) -> pd.DataFrame:
    """The frame policy hands a format: exactly the agreement's fields, all strings."""
    return pd.DataFrame({name: pd.Series([r[name] for r in rows], dtype="str") for name in fields})


def three_pupils(fields: tuple[str, ...] = BASISPOORT_FIELDS) -> pd.DataFrame:
    return pupils(
        [
            pupil("1001", roepnaam="Zoë", achternaam="Vries", voorvoegsel="de"),
            pupil(
                "1002",
                roepnaam="Ümit",
                geslacht="2",
                groepskey="G12",
                jaargroep="2",
                groepsnaam="Groep 1/2 Egels",
                samengestelde_groepen="SG1",
            ),
            pupil("1003", geboortedatum=None, samengestelde_groepen="SG1;SG2"),
        ],
        fields,
    )


def groups() -> pd.DataFrame:
    """The school's groups; G5 and SG3 have no delivered pupil."""
    rows = [
        ("G3", "Groep 3 Vossen", "3", "groep"),
        ("G12", "Groep 1/2 Egels", "C", "groep"),
        ("G5", "Groep 5 Uilen", "5", "groep"),
        ("SG1", "Plusgroep rekenen", None, "samengestelde_groep"),
        ("SG2", "Leesclub", None, "samengestelde_groep"),
        ("SG3", "Schaakclub", None, "samengestelde_groep"),
    ]
    columns = ("groepskey", "groepsnaam", "jaargroep", "soort")
    return pd.DataFrame(rows, columns=list(columns)).astype("str")


def teachers(fields: tuple[str, ...] = TEACHER_FIELDS) -> pd.DataFrame:
    rows = [
        ("LK1", eckid(1, "f"), "Bemmel", "van", "J", "Joke", "joke@school.example", "G3;SG1"),
        ("LK2", None, None, None, None, "Lia", None, "G12"),
        ("LK3", None, "Veldman", None, "UGH", "Uilke", None, "G5"),  # only an undelivered group
    ]
    frame = pd.DataFrame(rows, columns=list(TEACHER_FIELDS)).astype("str")
    return frame.loc[:, list(fields)]


def context(**changes: object) -> RenderContext:
    base = RenderContext(school=SCHOOL, created_at=CREATED_AT, groups=groups())
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def render(frame: pd.DataFrame, **changes: object) -> DataFile:
    [data_file] = EdexmlFormat().render(
        frame, basename="basispoort-07xy", options={}, context=context(**changes)
    )
    return data_file


def write(tmp_path: Path, data_file: DataFile) -> Path:
    path = tmp_path / data_file.name
    path.write_bytes(data_file.content)
    return path


def parse(data_file: DataFile) -> etree._Element:
    return etree.fromstring(data_file.content)


def tags(data_file: DataFile) -> set[str]:
    return {etree.QName(element).localname for element in parse(data_file).iter()}


@cache
def smalle_set_schema(folder: Path) -> etree.XMLSchema:
    """The smalle-set message schema, with the school-year list widened like EDEXML's."""
    documents = {
        path.name: _widen_schoolyear(path.read_bytes()) for path in sorted(folder.rglob("*.xsd"))
    }
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parser.resolvers.add(_PatchedResolver(documents))
    root = folder / SMALLE_SET_SCHEMA
    return etree.XMLSchema(etree.fromstring(documents[root.name], parser, base_url=str(root)))


def assert_smalle_set_valid(data_file: DataFile, folder: Path) -> None:
    schema = smalle_set_schema(folder)
    document = etree.fromstring(data_file.content)
    assert schema.validate(document), str(schema.error_log)


# --- plain EDEXML: valid against the official XSD ---------------------------------------------


def test_a_basispoort_delivery_is_valid_edexml(edexml_reference: Path, tmp_path: Path) -> None:
    data_file = render(three_pupils(), teachers=teachers())
    assert data_file.name == "basispoort-07xy.xml"
    assert data_file.rows == 3
    validate_with_xsd(write(tmp_path, data_file), edexml_reference)


def test_every_field_edexml_writes_is_valid_and_in_xsd_order(
    edexml_reference: Path, tmp_path: Path
) -> None:
    data_file = render(three_pupils(ALL_FIELDS), teachers=teachers())
    validate_with_xsd(write(tmp_path, data_file), edexml_reference)
    first = parse(data_file).find("leerlingen/leerling")
    assert first is not None
    assert [child.tag for child in first] == [
        "achternaam",
        "voorvoegsel",
        "voornamen",
        "voorletters-1",
        "roepnaam",
        "geboortedatum",
        "geslacht",
        "start_ondw_jgr3",
        "jaargroep",
        "groep",
        "gebruikersnaam",
        "emailadres",
        "fotourl",
        "instroomdatum",
    ]


def test_a_listed_school_year_is_valid_against_the_untouched_official_xsd(
    edexml_reference: Path,
) -> None:
    school = {**SCHOOL, "schooljaar": "2024-2025"}
    data_file = render(three_pupils(ALL_FIELDS), teachers=teachers(), school=school)
    schema = etree.XMLSchema(etree.parse(str(edexml_reference / "EDEXML.structuur.xsd")))
    assert schema.validate(etree.fromstring(data_file.content)), str(schema.error_log)


def test_the_school_header_comes_from_the_context_and_the_run(tmp_path: Path) -> None:
    school = parse(render(three_pupils())).find("school")
    assert school is not None
    assert [(child.tag, child.text) for child in school] == [
        ("schooljaar", "2026-2027"),
        ("peildatum", "2026-10-01"),
        ("brincode", "07XY"),
        ("dependancecode", "00"),
        ("aanmaakdatum", CREATED_AT),
        ("auteur", "Sluis"),
        ("xsdversie", "2.1"),
    ]


def test_a_school_known_only_by_its_key_is_valid(edexml_reference: Path, tmp_path: Path) -> None:
    school = {**SCHOOL, "brincode": None, "schoolkey": "S-41323"}
    data_file = render(three_pupils(), school=school)
    validate_with_xsd(write(tmp_path, data_file), edexml_reference)
    header = parse(data_file).find("school")
    assert header is not None
    assert header.findtext("schoolkey") == "S-41323"
    assert header.find("dependancecode") is None  # it only goes with a brincode


# --- round trip through the repo's own reader ------------------------------------------------


def test_the_reader_gets_back_the_same_pupils_groups_and_teachers(tmp_path: Path) -> None:
    fields = (*BASISPOORT_FIELDS, "samengestelde_groepen")
    frame = three_pupils(fields)
    path = write(tmp_path, render(frame, teachers=teachers()))
    export = get_source("edexml").extract(path)

    pupil_fields = [name for name in fields if name not in ("groepsnaam", "brincode")]
    read = export.pupils.loc[:, pupil_fields]
    expected = frame.loc[:, pupil_fields]
    assert read.astype(object).where(read.notna(), None).values.tolist() == (
        expected.astype(object).where(expected.notna(), None).values.tolist()
    )
    assert export.school["brincode"] == "07XY"
    assert export.school["schooljaar"] == "2026-2027"

    read_groups = export.groups.loc[:, ["groepskey", "groepsnaam", "soort"]].values.tolist()
    assert read_groups == [
        ["G12", "Groep 1/2 Egels", "groep"],
        ["G3", "Groep 3 Vossen", "groep"],
        ["SG1", "Plusgroep rekenen", "samengestelde_groep"],
        ["SG2", "Leesclub", "samengestelde_groep"],
    ]
    read_teachers = export.teachers.loc[:, ["leerkrachtkey", "roepnaam", "groepen"]]
    assert read_teachers.values.tolist() == [["LK1", "Joke", "G3;SG1"], ["LK2", "Lia", "G12"]]


# --- only what the agreement allows ---------------------------------------------------------


def test_a_field_the_agreement_does_not_list_never_appears() -> None:
    fields = tuple(name for name in BASISPOORT_FIELDS if name not in ("geboortedatum", "geslacht"))
    data_file = render(three_pupils(fields))
    assert "geboortedatum" not in tags(data_file)
    assert "geslacht" not in tags(data_file)
    assert b"2019-05-01" not in data_file.content


def test_no_leerkrachten_without_teachers_in_the_context() -> None:
    data_file = render(three_pupils())
    assert "leerkrachten" not in tags(data_file)
    assert "leerkracht" not in tags(data_file)


def test_teachers_carry_only_their_listed_fields() -> None:
    data_file = render(three_pupils(), teachers=teachers(("leerkrachtkey", "roepnaam", "groepen")))
    teacher = parse(data_file).find("leerkrachten/leerkracht")
    assert teacher is not None
    assert teacher.attrib == {"key": "LK1"}
    assert [child.tag for child in teacher] == ["roepnaam", "groepen"]
    assert b"Bemmel" not in data_file.content
    assert b"joke@school.example" not in data_file.content


def test_only_the_groups_of_delivered_pupils_are_written() -> None:
    data_file = render(three_pupils(), teachers=teachers())
    root = parse(data_file)
    written = [(element.tag, element.get("key")) for element in root.iterfind("groepen/*")]
    # samengestelde_groepen is not in basispoort's fields: no composite groups either.
    assert written == [("groep", "G12"), ("groep", "G3")]
    # A teacher whose groups are not in the file is not passed on; links to groups that
    # are not written are left out.
    teacher_links = {
        teacher.get("key"): [link.get("key") for link in teacher.iterfind("groepen/*")]
        for teacher in root.iterfind("leerkrachten/leerkracht")
    }
    assert teacher_links == {"LK1": ["G3"], "LK2": ["G12"]}


def test_group_names_are_keys_when_the_agreement_has_no_groepsnaam(
    edexml_reference: Path, tmp_path: Path
) -> None:
    fields = tuple(name for name in BASISPOORT_FIELDS if name != "groepsnaam")
    data_file = render(three_pupils(fields))
    validate_with_xsd(write(tmp_path, data_file), edexml_reference)
    names = [element.findtext("naam") for element in parse(data_file).iterfind("groepen/groep")]
    assert names == ["G12", "G3"]
    assert b"Vossen" not in data_file.content


def test_toevoegingen_are_never_written() -> None:
    assert "toevoegingen" not in tags(render(three_pupils(ALL_FIELDS), teachers=teachers()))


def test_a_pupil_without_achternaam_keeps_only_the_roepnaam(
    edexml_reference: Path, tmp_path: Path
) -> None:
    frame = pupils([pupil("1001", achternaam=None, voorvoegsel="van")], ALL_FIELDS)
    data_file = render(frame)
    validate_with_xsd(write(tmp_path, data_file), edexml_reference)
    leerling = parse(data_file).find("leerlingen/leerling")
    assert leerling is not None
    assert [child.tag for child in leerling][:2] == ["roepnaam", "geboortedatum"]


# --- keys ---------------------------------------------------------------------------------


def test_a_pupil_without_a_persistent_key_gets_a_hash_key_by_row(
    edexml_reference: Path, tmp_path: Path
) -> None:
    frame = pupils(
        [pupil("1001"), pupil(None, eckid=eckid(2)), pupil("#tmp", eckid=eckid(3))],
        BASISPOORT_FIELDS,
    )
    data_file = render(frame)
    validate_with_xsd(write(tmp_path, data_file), edexml_reference)
    keys = [element.get("key") for element in parse(data_file).iterfind("leerlingen/leerling")]
    assert keys == ["1001", "#2", "#3"]


def test_identifier_eckid_without_leerlingkey_writes_only_hash_keys(
    edexml_reference: Path, tmp_path: Path
) -> None:
    fields = tuple(name for name in BASISPOORT_FIELDS if name != "leerlingkey")
    data_file = render(three_pupils(fields), identifier="eckid")
    validate_with_xsd(write(tmp_path, data_file), edexml_reference)
    leerlingen = list(parse(data_file).iterfind("leerlingen/leerling"))
    assert [element.get("key") for element in leerlingen] == ["#1", "#2", "#3"]
    assert [element.get("eckid") for element in leerlingen] == [
        eckid(1001),
        eckid(1002),
        eckid(1003),
    ]
    assert b">1001<" not in data_file.content


# --- deterministic --------------------------------------------------------------------------


def test_the_same_input_gives_the_same_bytes_and_the_frame_is_not_changed() -> None:
    frame = three_pupils(ALL_FIELDS).set_axis([7, 3, 5])
    before = frame.copy(deep=True)
    first = render(frame, teachers=teachers())
    second = render(frame.copy(deep=True), teachers=teachers())
    shuffled_groups = render(frame, teachers=teachers(), groups=groups().iloc[::-1])
    assert first.content == second.content == shuffled_groups.content
    assert first.sha256 == second.sha256
    pd.testing.assert_frame_equal(frame, before)


def test_missing_values_may_be_pd_na_in_object_columns(
    edexml_reference: Path, tmp_path: Path
) -> None:
    frame = three_pupils().astype(object)
    frame.loc[0, "voorvoegsel"] = pd.NA
    frame.loc[1, "geboortedatum"] = pd.NA
    data_file = render(frame)
    validate_with_xsd(write(tmp_path, data_file), edexml_reference)
    assert data_file.content.count(b"<voorvoegsel>") == 0


# --- UWLR 2.2 smalle set ----------------------------------------------------------------------


def test_the_smalle_set_is_a_valid_uwlr_answer(uwlr_reference: Path) -> None:
    teacher_fields = ("leerkrachtkey", "eckid", "achternaam", "voorvoegsel", "roepnaam", "groepen")
    data_file = render(
        three_pupils((*SMALLE_SET_FIELDS, "groepsnaam")),
        teachers=teachers((*teacher_fields, "emailadres")),
        profile="uwlr-smalle-set",
    )
    assert_smalle_set_valid(data_file, uwlr_reference)
    root = parse(data_file)
    assert root.tag == UWLR + "leerlinggegevens_antwoord"
    assert [child.tag for child in root] == [UWLR + "leerlinggegevens"]
    body = root[0]
    assert [etree.QName(child).localname for child in body] == [
        "school",
        "groepen",
        "leerlingen",
        "leerkrachten",
    ]
    assert body.findtext(f"{UWLR}school/{UWLR}xsdversie") == "2.2"
    composites = body.findall(f"{UWLR}groepen/{UWLR}samengestelde_groep")
    assert [element.get("key") for element in composites] == ["SG1", "SG2"]


def test_the_smalle_set_with_only_a_roepnaam_is_valid(uwlr_reference: Path) -> None:
    fields = ("leerlingkey", "roepnaam", "jaargroep", "groepskey")
    assert_smalle_set_valid(render(three_pupils(fields), profile="uwlr-smalle-set"), uwlr_reference)


def test_the_smalle_set_answers_geengegevens_when_no_pupil_is_delivered(
    uwlr_reference: Path,
) -> None:
    frame = three_pupils(SMALLE_SET_FIELDS).iloc[0:0]
    data_file = render(frame, profile="uwlr-smalle-set")
    assert data_file.rows == 0
    assert_smalle_set_valid(data_file, uwlr_reference)
    root = parse(data_file)
    assert [child.tag for child in root] == [UWLR + "geengegevens"]


def test_the_smalle_set_refuses_a_column_outside_the_profile() -> None:
    with pytest.raises(ConfigurationError, match="uwlr-smalle-set kan fields geslacht"):
        render(three_pupils((*SMALLE_SET_FIELDS, "geslacht")), profile="uwlr-smalle-set")
    with pytest.raises(ConfigurationError, match="teacher_fields voorletters"):
        render(
            three_pupils(SMALLE_SET_FIELDS),
            teachers=teachers(("leerkrachtkey", "roepnaam", "voorletters")),
            profile="uwlr-smalle-set",
        )


# --- refused ----------------------------------------------------------------------------------


def test_plain_edexml_with_no_pupils_is_refused_as_the_xsd_requires_one_leerling() -> None:
    # EDEXMLType: leerlingen/leerling has minOccurs 1, so there is no valid empty file.
    with pytest.raises(ConfigurationError, match="minstens één leerling"):
        render(three_pupils().iloc[0:0])


def test_render_needs_a_context() -> None:
    with pytest.raises(ConfigurationError, match="heeft een RenderContext nodig"):
        EdexmlFormat().render(three_pupils(), basename="x", options={})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mode": "delta"}, "volledige momentopname"),
        ({"profile": "uwlr-lvs-set"}, "onbekend profiel"),
        ({"groups": None}, "context heeft er geen"),
        ({"groups": groups().iloc[1:]}, "niet in context.groups"),
        ({"school": {**SCHOOL, "schooljaar": None}}, "heeft een schooljaar zoals"),
        ({"created_at": "gisteren"}, "ISO 8601"),
    ],
)
def test_a_context_edexml_cannot_use_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        render(three_pupils(), **changes)


def test_a_duplicate_group_key_in_the_context_is_refused() -> None:
    doubled = pd.concat([groups(), groups().iloc[:1]], ignore_index=True)
    with pytest.raises(ConfigurationError, match="meer dan eens"):
        render(three_pupils(), groups=doubled)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"groepsnaam": "Groep " + "x" * 70}, "groepsnaam die EDEXML niet kan bevatten"),
        ({"jaargroep": None}, "hebben geen jaargroep"),
    ],
)
def test_a_group_edexml_cannot_hold_stops_the_file(
    change: dict[str, str | None], message: str
) -> None:
    school_groups = groups()
    for column, value in change.items():
        school_groups.loc[0, column] = value
    with pytest.raises(InputError, match=message):
        render(three_pupils(), groups=school_groups)


def test_a_school_header_edexml_cannot_hold_is_refused_without_quoting_it() -> None:
    with pytest.raises(
        InputError, match="brincode van de school is niet 2 cijfers en 2 hoofdletters"
    ) as caught:
        render(three_pupils(), school={**SCHOOL, "brincode": "07XY01"})
    assert "07XY01" not in str(caught.value)


def test_an_empty_teachers_frame_writes_no_leerkrachten(
    edexml_reference: Path, tmp_path: Path
) -> None:
    data_file = render(three_pupils(), teachers=teachers().iloc[0:0])
    validate_with_xsd(write(tmp_path, data_file), edexml_reference)
    assert "leerkrachten" not in tags(data_file)


def test_teachers_without_groepen_are_all_written_without_links(
    edexml_reference: Path, tmp_path: Path
) -> None:
    data_file = render(
        three_pupils(), teachers=teachers(("leerkrachtkey", "achternaam", "roepnaam"))
    )
    validate_with_xsd(write(tmp_path, data_file), edexml_reference)
    written = list(parse(data_file).iterfind("leerkrachten/leerkracht"))
    assert [teacher.get("key") for teacher in written] == ["LK1", "LK2", "LK3"]
    assert "groepen" not in {child.tag for teacher in written for child in teacher}


def test_a_teacher_without_a_key_gets_a_hash_key_by_row(
    edexml_reference: Path, tmp_path: Path
) -> None:
    data_file = render(three_pupils(), teachers=teachers(("roepnaam", "groepen")))
    validate_with_xsd(write(tmp_path, data_file), edexml_reference)
    keys = [teacher.get("key") for teacher in parse(data_file).iterfind("leerkrachten/leerkracht")]
    assert keys == ["#1", "#2"]


def test_a_column_edexml_cannot_carry_is_refused() -> None:
    frame = three_pupils().assign(pseudoniem="abc")
    with pytest.raises(ConfigurationError, match="kan fields pseudoniem"):
        render(frame)


def test_an_option_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="onbekende edexml-optie"):
        EdexmlFormat().render(
            three_pupils(), basename="x", options={"separator": ";"}, context=context()
        )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"voorletters": "ABCDEFGH"}, "voorletters die EDEXML niet kan bevatten"),
        ({"geboortedatum": "2019-02-30"}, "geboortedatum die EDEXML niet kan bevatten"),
        ({"geslacht": "Meisje"}, "geslacht die EDEXML niet kan bevatten"),
        ({"jaargroep": "9"}, "jaargroep die EDEXML niet kan bevatten"),
        ({"roepnaam": "Xan\x07der"}, "stuurteken"),
        ({"achternaam": None, "roepnaam": None}, "achternaam noch roepnaam"),
        ({"leerlingkey": "1001"}, "een leerlingkey met een ander gemeen"),
    ],
)
def test_a_value_edexml_cannot_hold_stops_the_file_without_quoting_it(
    values: dict[str, str | None], message: str
) -> None:
    frame = pupils([pupil("1001"), pupil("1002", **values)], ALL_FIELDS)
    with pytest.raises(InputError, match=message) as caught:
        render(frame)
    for value in values.values():
        if value is not None:
            assert value not in str(caught.value)


def test_a_lone_surrogate_is_refused_without_quoting_it() -> None:
    frame = three_pupils().astype(object)
    frame.loc[0, "roepnaam"] = "Zo\ud800"
    with pytest.raises(InputError, match="geen geldige Unicode") as caught:
        render(frame)
    assert "Zo" not in str(caught.value)


# --- agreement problems -----------------------------------------------------------------------


def problems(
    fields: tuple[str, ...],
    *,
    teacher_fields: tuple[str, ...] = (),
    identifier: str = "eckid_or_key",
    profile: str | None = None,
) -> list[str]:
    return EdexmlFormat().agreement_problems(
        fields, teacher_fields=teacher_fields, identifier=identifier, mode="full", profile=profile
    )


def test_the_registry_gives_the_edexml_writer() -> None:
    writer = get_format("edexml")
    assert isinstance(writer, EdexmlFormat)
    assert writer.expresses_deletions is False
    assert writer.profiles == ("uwlr-smalle-set",)


def test_basispoorts_fields_are_accepted() -> None:
    assert problems(BASISPOORT_FIELDS) == []
    assert problems(BASISPOORT_FIELDS, teacher_fields=TEACHER_FIELDS) == []


def test_the_smalle_set_fields_are_accepted_by_the_profile() -> None:
    teacher_fields = ("leerkrachtkey", "eckid", "achternaam", "voorvoegsel", "roepnaam")
    assert (
        problems(
            (*SMALLE_SET_FIELDS, "groepsnaam", "brincode", "dependancecode", "schooljaar"),
            teacher_fields=(*teacher_fields, "emailadres", "groepen"),
            profile="uwlr-smalle-set",
        )
        == []
    )


def test_identifier_pseudoniem_is_refused() -> None:
    found = problems(("pseudoniem", "roepnaam", "jaargroep"), identifier="pseudoniem")
    assert found == [
        "fields[pseudoniem]: edexml heeft er geen element voor; gebruik format "
        "csv/parquet/oneroster of verwijder het",
        "identifier: edexml herkent leerlingen aan de sleutel van de administratie "
        "(leerling/@key) en het ECK iD, nooit aan een pseudoniem; gebruik identifier key, "
        "eckid of eckid_or_key, of format csv/parquet/oneroster",
    ]


@pytest.mark.parametrize("name", ["geboortejaar", "toestemming_beeldmateriaal", "pseudoniem"])
def test_a_derived_field_has_no_element(name: str) -> None:
    assert problems((*BASISPOORT_FIELDS, name)) == [
        f"fields[{name}]: edexml heeft er geen element voor; gebruik format "
        "csv/parquet/oneroster of verwijder het"
    ]


def test_an_edexml_element_sluis_never_writes_says_why() -> None:
    [problem] = problems((*BASISPOORT_FIELDS, "bsn"))
    assert problem.startswith("fields[bsn]: Sluis schrijft dit element niet in edexml")


def test_the_profile_refuses_fields_and_teacher_fields_outside_the_smalle_set() -> None:
    found = problems(
        (*SMALLE_SET_FIELDS, "geslacht", "pseudoniem"),
        teacher_fields=("leerkrachtkey", "achternaam", "voorletters"),
        profile="uwlr-smalle-set",
    )
    assert len(found) == 3
    assert found[0].startswith(
        "fields[geslacht]: het profiel uwlr-smalle-set heeft er geen element voor; toegestaan: "
        "achternaam, brincode, "
    )
    assert found[1].startswith("fields[pseudoniem]: edexml heeft er geen element voor")
    assert found[2].startswith(
        "teacher_fields[voorletters]: het profiel uwlr-smalle-set heeft er geen element voor; "
        "toegestaan: achternaam, eckid, emailadres, groepen, leerkrachtkey, roepnaam, voorvoegsel"
    )


def test_missing_groepskey_alone_is_no_problem_as_the_xsd_makes_groep_optional() -> None:
    fields = ("leerlingkey", "roepnaam", "jaargroep")
    assert problems(fields) == []
    assert problems((*fields, "groepsnaam"), teacher_fields=("roepnaam", "groepen")) == [
        "fields[groepsnaam]: edexml schrijft groepsnamen alleen in het groepenblok, en dat "
        "vraagt groepskey of samengestelde_groepen; voeg er een toe of verwijder groepsnaam",
        "teacher_fields[groepen]: edexml kan alleen verwijzen naar groepen die het schrijft, "
        "en het schrijft ze alleen met groepskey of samengestelde_groepen in fields; voeg er "
        "een toe of verwijder groepen",
    ]


def test_groepskey_needs_jaargroep() -> None:
    assert problems(("leerlingkey", "roepnaam", "groepskey")) == [
        "fields: edexml schrijft elke groep met haar jaargroep (de XSD eist het), dus "
        "groepskey vraagt jaargroep; voeg jaargroep toe of verwijder groepskey"
    ]


@pytest.mark.parametrize(
    ("identifier", "fields", "expected"),
    [
        ("key", ("eckid", "roepnaam"), "fields: identifier key vraagt leerlingkey"),
        (
            "eckid_or_key",
            ("eckid", "roepnaam"),
            "fields: identifier eckid_or_key vraagt leerlingkey",
        ),
        ("eckid", ("leerlingkey", "roepnaam"), "fields: identifier eckid vraagt eckid"),
    ],
)
def test_the_identifier_needs_its_field(
    identifier: str, fields: tuple[str, ...], expected: str
) -> None:
    [problem] = problems(fields, identifier=identifier)
    assert problem.startswith(expected)


def test_every_leerling_and_leerkracht_needs_a_name() -> None:
    found = problems(
        ("leerlingkey", "voorvoegsel", "jaargroep"), teacher_fields=("leerkrachtkey", "voorletters")
    )
    assert found == [
        "fields: edexml vraagt achternaam of roepnaam (de XSD geeft elke leerling een naam); "
        "voeg er een toe",
        "fields[voorvoegsel]: edexml schrijft voorvoegsel alleen naast achternaam; voeg "
        "achternaam toe of verwijder voorvoegsel",
        "teacher_fields: edexml vraagt achternaam of roepnaam (de XSD geeft elke leerkracht "
        "een naam); voeg er een toe",
        "teacher_fields[voorletters]: edexml schrijft voorletters alleen naast achternaam; voeg "
        "achternaam toe of verwijder voorletters",
    ]


def test_an_unknown_profile_is_named() -> None:
    assert problems(BASISPOORT_FIELDS, profile="uwlr-lvs-set") == [
        "format.profile: onbekend profiel 'uwlr-lvs-set' voor edexml; toegestaan: uwlr-smalle-set"
    ]
