"""EDEXML source: official samples, generated files, hostile and broken input."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.errors import ConfigurationError, SourceFormatError, UnsafeInputError
from connectors.sources.base import (
    GROUP_COLUMNS,
    PROVENANCE_COLUMNS,
    PUPIL_COLUMNS,
    SCHOOL_FIELDS,
    TEACHER_COLUMNS,
    SchoolExport,
    Source,
    sha256_of_file,
)
from connectors.sources.edexml import EDEXML_SOURCE, EdexmlSource
from connectors.sources.edexml_reader import EdexmlReader as _Reader

DUTCH_SAMPLE = "EDEXML.Voorbeeld.2.1.xml"
FLEMISH_SAMPLE = "EDEXML.Voorbeeld.2.1-Vla.xml"

# A synthetic name used to check that no pupil value ever reaches an error message.
SECRET_NAME = "Zwanenburg"

SCHOOL_BLOCK = """\
  <school>
    <schooljaar>{schooljaar}</schooljaar>
    <peildatum>2026-10-01</peildatum>
    <brincode>99ZZ</brincode>
    <dependancecode>00</dependancecode>
    <xsdversie>{xsdversie}</xsdversie>
  </school>
"""


# -- helpers -----------------------------------------------------------------------------


def pupil_xml(key: str, *, achternaam: str = SECRET_NAME, jaargroep: str = "5") -> str:
    return (
        f'    <leerling key="{key}">\n'
        f"      <achternaam>{achternaam}</achternaam>\n"
        f"      <roepnaam>Kim</roepnaam>\n"
        f"      <geboortedatum>2017-03-04</geboortedatum>\n"
        f"      <jaargroep>{jaargroep}</jaargroep>\n"
        f'      <groep key="G5"/>\n'
        f"    </leerling>\n"
    )


def edexml_text(
    *,
    pupils: str | None = None,
    schooljaar: str = "2026-2027",
    xsdversie: str = "2.1",
    prolog: str = '<?xml version="1.0" encoding="UTF-8"?>\n',
    root_attributes: str = "",
) -> str:
    body = pupils if pupils is not None else pupil_xml("L1") + pupil_xml("L2")
    return (
        f"{prolog}<EDEX{root_attributes}>\n"
        + SCHOOL_BLOCK.format(schooljaar=schooljaar, xsdversie=xsdversie)
        + '  <groepen>\n    <groep key="G5"><naam>5a</naam><jaargroep>5</jaargroep></groep>\n'
        + "  </groepen>\n"
        + f"  <leerlingen>\n{body}  </leerlingen>\n"
        + "</EDEX>\n"
    )


def write(tmp_path: Path, text: str | bytes, name: str = "EDEX.XML") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def assert_clean_message(exc: pytest.ExceptionInfo[Exception], path: Path) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message
    assert SECRET_NAME not in message
    return message


def billion_laughs(levels: int = 10) -> str:
    entities = ['<!ENTITY lol0 "lol">']
    for level in range(1, levels):
        entities.append(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">')
    return "<!DOCTYPE EDEX [\n" + "\n".join(entities) + "\n]>\n"


# -- official samples --------------------------------------------------------------------


def test_source_protocol_is_satisfied() -> None:
    source: Source = EDEXML_SOURCE
    assert isinstance(source, EdexmlSource)


def test_dutch_sample_reads_school_header(edexml_reference: Path) -> None:
    path = edexml_reference / DUTCH_SAMPLE
    export = EDEXML_SOURCE.extract(path)

    assert export.format == "edexml"
    assert export.path == path
    assert export.sha256 == sha256_of_file(path)
    assert export.encoding == "utf-8"
    assert set(export.school) == set(SCHOOL_FIELDS)
    assert export.school["brincode"] == "99ZZ"
    assert export.school["schooljaar"] == "2014-2015"
    assert export.school["peildatum"] == "2014-10-01"
    assert export.school["dependancecode"] == "00"
    assert export.school["schoolkey"] == "41323"
    assert export.school["xsdversie"] == "2.1"
    assert export.school["instellingsnummer"] is None
    assert export.school_line == 14
    assert export.notes


def test_dutch_sample_pupils(edexml_reference: Path) -> None:
    path = edexml_reference / DUTCH_SAMPLE
    pupils = EDEXML_SOURCE.extract(path).pupils

    assert list(pupils.columns) == [*PUPIL_COLUMNS, *PROVENANCE_COLUMNS]
    assert pupils["leerlingkey"].tolist() == ["00001", "00002", "12345"]
    assert pupils["source_line"].tolist() == [77, 91, 105]
    assert (pupils["source_file"] == str(path)).all()

    wimpie = pupils.set_index("leerlingkey").loc["00001"]
    assert wimpie["source_line"] == line_of(path, '<leerling key="00001"')
    assert wimpie["roepnaam"] == "Wimpie"
    assert pd.isna(wimpie["achternaam"])
    assert wimpie["samengestelde_groepen"] == "sg1;sg2"
    assert wimpie["groepskey"] == "GRP4B"
    assert wimpie["vestiging"] == "VH"
    assert wimpie["eckid"].startswith("https://id.school/LL_")

    by_key = pupils.set_index("leerlingkey")
    # Sensitive fields are read so that the deny-list can see them and drop them.
    assert by_key.loc["00002", "bsn"] == "133456785"
    assert by_key.loc["00002", "postcode"] == "6971VB"
    assert by_key.loc["00002", "gewicht_nieuw"] == "0,3"
    assert by_key.loc["00002", "voorletters"] == "IH"
    assert by_key.loc["00002", "voornamen"] == "Ismaël Hassan"
    assert by_key.loc["12345", "bsn_ondwnr4"] == "2731"
    assert by_key.loc["12345", "voorvoegsel"] == "van 't"
    assert by_key.loc["12345", "uitstroomdatum"] == "2014-07-18"
    assert by_key.loc["12345", "toevoegingen"] == "Opmerking X Opmerking Y"
    assert pd.isna(by_key.loc["00001", "toevoegingen"])


def test_dutch_sample_groups(edexml_reference: Path) -> None:
    groups = EDEXML_SOURCE.extract(edexml_reference / DUTCH_SAMPLE).groups

    assert list(groups.columns) == [*GROUP_COLUMNS, *PROVENANCE_COLUMNS]
    # Five stamgroepen and three samengestelde groepen, in document order.
    assert groups["groepskey"].tolist() == [
        "001",
        "sg3",
        "002",
        "003",
        "GRP4A",
        "GRP4B",
        "sg1",
        "sg2",
    ]
    assert groups["soort"].value_counts().to_dict() == {"groep": 5, "samengestelde_groep": 3}
    composite = groups[groups["soort"] == "samengestelde_groep"]
    assert composite["jaargroep"].isna().all()
    assert composite["groepsnaam"].tolist() == ["Samgroep 3", "Samgroep 1", "Samgroep 2"]
    kabouters = groups.set_index("groepskey").loc["001"]
    assert (kabouters["groepsnaam"], kabouters["jaargroep"], kabouters["source_line"]) == (
        "Kabouters",
        "0",
        34,
    )


def test_dutch_sample_teachers(edexml_reference: Path) -> None:
    teachers = EDEXML_SOURCE.extract(edexml_reference / DUTCH_SAMPLE).teachers

    assert list(teachers.columns) == [*TEACHER_COLUMNS, *PROVENANCE_COLUMNS]
    by_key = teachers.set_index("leerkrachtkey")
    assert by_key.index.tolist() == ["LK1", "LK2", "LK3"]
    assert by_key.loc["LK1", "rollen"] == "TAL"
    assert by_key.loc["LK1", "groepen"] == "GRP4A"
    assert by_key.loc["LK1", "voorvoegsel"] == "van"
    assert pd.isna(by_key.loc["LK2", "rollen"])  # only a free-text rolomschrijving
    assert by_key.loc["LK2", "groepen"] == "002;sg1;001;sg2;sg3"
    # Roles given per group link count as the teacher's roles, sorted and distinct.
    assert by_key.loc["LK3", "rollen"] == "OWA;STA"
    assert pd.isna(by_key.loc["LK3", "eckid"])
    assert by_key.loc["LK3", "source_line"] == 155


def test_flemish_sample(edexml_reference: Path) -> None:
    export = EDEXML_SOURCE.extract(edexml_reference / FLEMISH_SAMPLE)

    assert export.school["instellingsnummer"] == "1234"
    assert export.school["brincode"] is None
    assert export.school["schooljaar"] == "2014-2015"
    assert export.school_line == 3
    assert len(export.pupils) == 3
    assert len(export.groups) == 7
    assert export.groups["soort"].value_counts().to_dict() == {
        "groep": 5,
        "samengestelde_groep": 2,
    }
    assert len(export.teachers) == 3
    by_key = export.pupils.set_index("leerlingkey")
    assert by_key.loc["00002", "rijksregisternummer"] == "13345678512"
    assert by_key.loc["00002", "postcode"] == "6971"
    assert by_key.loc["00001", "samengestelde_groepen"] == "sg1;sg2"
    assert pd.isna(export.teachers.set_index("leerkrachtkey").loc["LK3", "groepen"])


def test_frames_are_raw_strings_with_provenance(edexml_reference: Path) -> None:
    export = EDEXML_SOURCE.extract(edexml_reference / DUTCH_SAMPLE)
    for frame in (export.pupils, export.groups, export.teachers):
        *values, source_line = frame.columns
        assert source_line == "source_line"
        assert frame["source_line"].dtype == "int64"
        for column in values:
            assert frame[column].dtype == "str", column


# -- generated files ---------------------------------------------------------------------


def test_current_school_year_beyond_the_official_code_list(tmp_path: Path) -> None:
    path = write(tmp_path, edexml_text(schooljaar="2026-2027"))
    export = EDEXML_SOURCE.extract(path)
    assert export.school["schooljaar"] == "2026-2027"
    assert len(export.pupils) == 2
    assert export.pupils["source_line"].tolist() == [
        line_of(path, '<leerling key="L1"'),
        line_of(path, '<leerling key="L2"'),
    ]


def test_keys_and_values_are_stripped(tmp_path: Path) -> None:
    pupil = (
        '    <leerling key="  K 1  " eckid=" https://id.school/x ">\n'
        "      <achternaam>\n        Jansen\n      </achternaam>\n"
        "      <roepnaam>   </roepnaam>\n"
        '      <groep key=" G5 "/>\n'
        '      <samengestelde_groepen><samengestelde_groep key=" s1 "/>'
        '<samengestelde_groep key="s2  "/></samengestelde_groepen>\n'
        "    </leerling>\n"
    )
    path = write(tmp_path, edexml_text(pupils=pupil))
    row = EDEXML_SOURCE.extract(path).pupils.iloc[0]
    assert row["leerlingkey"] == "K 1"
    assert row["eckid"] == "https://id.school/x"
    assert row["achternaam"] == "Jansen"
    assert pd.isna(row["roepnaam"])
    assert row["groepskey"] == "G5"
    assert row["samengestelde_groepen"] == "s1;s2"


def test_declared_encoding_is_reported_and_used(tmp_path: Path) -> None:
    text = edexml_text(
        pupils=pupil_xml("L1", achternaam="Müller"),
        prolog='<?xml version="1.0" encoding="ISO-8859-1"?>\n',
    )
    path = write(tmp_path, text.encode("iso-8859-1"))
    export = EDEXML_SOURCE.extract(path)
    assert export.encoding == "iso-8859-1"
    assert export.pupils.loc[0, "achternaam"] == "Müller"


@pytest.mark.parametrize(
    ("prefix", "newline"), [(b"", "\n"), (b"\xef\xbb\xbf", "\n"), (b"", "\r\n")]
)
def test_byte_order_mark_and_line_endings(tmp_path: Path, prefix: bytes, newline: str) -> None:
    text = edexml_text()
    path = write(tmp_path, prefix + text.replace("\n", newline).encode("utf-8"))
    export = EDEXML_SOURCE.extract(path)
    expected = [n for n, row in enumerate(text.splitlines(), 1) if "<leerling key=" in row]
    assert export.pupils["source_line"].tolist() == expected
    assert export.encoding == "utf-8"


def test_file_without_xml_declaration(tmp_path: Path) -> None:
    path = write(tmp_path, edexml_text(prolog=""))
    export = EDEXML_SOURCE.extract(path)
    assert export.encoding == "utf-8"
    assert export.school_line == 2


@pytest.mark.parametrize("schooljaar", ["2026/2027", "2026-2028", "2026", "", "26-27"])
def test_malformed_school_year_is_rejected(tmp_path: Path, schooljaar: str) -> None:
    path = write(tmp_path, edexml_text(schooljaar=schooljaar))
    with pytest.raises(SourceFormatError, match="schooljaar") as exc:
        EDEXML_SOURCE.extract(path)
    message = assert_clean_message(exc, path)
    assert f"regel {line_of(path, '<schooljaar>')}" in message


def test_missing_school_year_is_rejected(tmp_path: Path) -> None:
    text = edexml_text().replace("    <schooljaar>2026-2027</schooljaar>\n", "")
    path = write(tmp_path, text)
    with pytest.raises(SourceFormatError, match="geen <schooljaar>") as exc:
        EDEXML_SOURCE.extract(path)
    assert f"regel {line_of(path, '<school>')}" in assert_clean_message(exc, path)


def test_missing_school_block_is_rejected(tmp_path: Path) -> None:
    text = edexml_text()
    start, end = text.index("  <school>"), text.index("</school>\n") + len("</school>\n")
    path = write(tmp_path, text[:start] + text[end:])
    with pytest.raises(SourceFormatError, match="<school>") as exc:
        EDEXML_SOURCE.extract(path)
    assert_clean_message(exc, path)


@pytest.mark.parametrize("version", ["1.0.3", "1.03", "3.0", "onbekend"])
def test_other_edexml_versions_are_rejected(tmp_path: Path, version: str) -> None:
    path = write(tmp_path, edexml_text(xsdversie=version))
    with pytest.raises(SourceFormatError, match="version") as exc:
        EDEXML_SOURCE.extract(path)
    message = assert_clean_message(exc, path)
    assert repr(version) in message


def test_version_2_0_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, edexml_text(xsdversie="2.0"))
    assert EDEXML_SOURCE.extract(path).school["xsdversie"] == "2.0"


def test_zero_pupils_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, edexml_text(pupils=""))
    with pytest.raises(SourceFormatError, match="geen leerlingen") as exc:
        EDEXML_SOURCE.extract(path)
    assert_clean_message(exc, path)


def test_groups_and_teachers_are_optional(tmp_path: Path) -> None:
    text = edexml_text()
    start = text.index("  <groepen>")
    end = text.index("  </groepen>\n") + len("  </groepen>\n")
    path = write(tmp_path, text[:start] + text[end:])
    export = EDEXML_SOURCE.extract(path)
    assert export.groups.empty
    assert list(export.groups.columns) == [*GROUP_COLUMNS, *PROVENANCE_COLUMNS]
    assert export.groups["source_line"].dtype == "int64"
    assert export.teachers.empty
    assert export.teachers["leerkrachtkey"].dtype == "str"


def test_truncated_file_names_the_line(tmp_path: Path) -> None:
    text = edexml_text(pupils="".join(pupil_xml(f"L{n}") for n in range(40)))
    path = write(tmp_path, text[: len(text) // 2])
    with pytest.raises(SourceFormatError, match=r"regel \d+: geen goedgevormde XML") as exc:
        EDEXML_SOURCE.extract(path)
    assert_clean_message(exc, path)


def test_mismatched_tags_are_reported_without_values(tmp_path: Path) -> None:
    broken = edexml_text().replace(f"<achternaam>{SECRET_NAME}</achternaam>", "<achternaam>x")
    path = write(tmp_path, broken)
    with pytest.raises(SourceFormatError, match="geen goedgevormde XML") as exc:
        EDEXML_SOURCE.extract(path)
    assert_clean_message(exc, path)


@pytest.mark.parametrize("broken", ["Van&nbsp;Dijk", "Smit & Zn"])
def test_stray_ampersand_reports_its_own_line(tmp_path: Path, broken: str) -> None:
    text = edexml_text(pupils=pupil_xml("L1") + pupil_xml("L2", achternaam=broken))
    path = write(tmp_path, text)
    with pytest.raises(SourceFormatError, match="geen goedgevormde XML") as exc:
        EDEXML_SOURCE.extract(path)
    message = assert_clean_message(exc, path)
    assert f"regel {line_of(path, broken)}:" in message
    assert broken not in message


def test_wrong_encoding_does_not_quote_bytes(tmp_path: Path) -> None:
    text = edexml_text(pupils=pupil_xml("L1", achternaam=SECRET_NAME + "é"))
    path = write(tmp_path, text.encode("iso-8859-1"))  # declared UTF-8, is not
    with pytest.raises(SourceFormatError, match="geen goedgevormde XML") as exc:
        EDEXML_SOURCE.extract(path)
    message = assert_clean_message(exc, path)
    assert "0xE9" not in message


def test_other_xml_is_not_edexml(tmp_path: Path) -> None:
    path = write(tmp_path, '<?xml version="1.0"?>\n<rss version="2.0"><channel/></rss>\n')
    with pytest.raises(SourceFormatError) as exc:
        EDEXML_SOURCE.extract(path)
    message = assert_clean_message(exc, path)
    assert "is geen EDEXML-bestand: het hoofdelement is <rss>, verwacht was <EDEX>" in message


def test_namespaced_edex_is_not_edexml(tmp_path: Path) -> None:
    path = write(tmp_path, '<EDEX xmlns="http://example.org/uwlr"><school/></EDEX>')
    with pytest.raises(SourceFormatError, match="namespace") as exc:
        EDEXML_SOURCE.extract(path)
    assert_clean_message(exc, path)


@pytest.mark.parametrize("content", [b"", b"   \n\n", b"\xef\xbb\xbf"])
def test_empty_file_is_rejected(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, content)
    with pytest.raises(SourceFormatError, match=r"empty|no XML content") as exc:
        EDEXML_SOURCE.extract(path)
    assert_clean_message(exc, path)


def test_plain_text_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "leerlingkey;achternaam\n1;Jansen\n", name="EDEX.csv")
    with pytest.raises(SourceFormatError, match="geen XML-inhoud") as exc:
        EDEXML_SOURCE.extract(path)
    assert "Jansen" not in assert_clean_message(exc, path)


def test_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "EDEX.XML"
    with pytest.raises(ConfigurationError, match="bestaat niet") as exc:
        EDEXML_SOURCE.extract(path)
    assert_clean_message(exc, path)


def test_folder_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is geen bestand"):
        EDEXML_SOURCE.extract(tmp_path)


# XML 1.0 text: no control characters except tab and line feed; CR is normalised away.
xml_text = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc", "Co"), include_characters="\t\n"
    ),
    max_size=30,
)


@given(key=xml_text, achternaam=xml_text, roepnaam=xml_text)
def test_any_text_value_reads_back_stripped(
    tmp_path_factory: pytest.TempPathFactory, key: str, achternaam: str, roepnaam: str
) -> None:
    pupil = (
        f"    <leerling key={quoteattr(key)}>\n"
        f"      <achternaam>{escape(achternaam)}</achternaam>\n"
        f"      <roepnaam>{escape(roepnaam)}</roepnaam>\n"
        "    </leerling>\n"
    )
    path = tmp_path_factory.mktemp("edexml") / "EDEX.XML"
    path.write_text(edexml_text(pupils=pupil), encoding="utf-8")

    row = EDEXML_SOURCE.extract(path).pupils.iloc[0]

    for column, expected in (
        ("leerlingkey", key.strip()),
        ("achternaam", achternaam.strip()),
        ("roepnaam", roepnaam.strip()),
    ):
        value = row[column]
        assert (None if pd.isna(value) else value) == (expected or None), column


# -- hostile input -----------------------------------------------------------------------


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("SECRET-CONTENT-4711\n", encoding="utf-8")
    return path


def assert_refused(path: Path) -> None:
    with pytest.raises(UnsafeInputError) as exc:
        EDEXML_SOURCE.extract(path)
    message = assert_clean_message(exc, path)
    assert "SECRET-CONTENT" not in message
    assert "root:" not in message  # /etc/passwd


def test_internal_dtd_subset_is_refused(tmp_path: Path) -> None:
    prolog = '<?xml version="1.0"?>\n<!DOCTYPE EDEX [\n<!ELEMENT EDEX ANY>\n]>\n'
    assert_refused(write(tmp_path, edexml_text(prolog=prolog)))


def test_bare_doctype_is_refused(tmp_path: Path) -> None:
    assert_refused(write(tmp_path, edexml_text(prolog="<!DOCTYPE EDEX>\n")))


def test_external_dtd_is_refused(tmp_path: Path, secret_file: Path) -> None:
    prolog = f'<!DOCTYPE EDEX SYSTEM "{secret_file.as_uri()}">\n'
    assert_refused(write(tmp_path, edexml_text(prolog=prolog)))


@pytest.mark.parametrize("target", ["passwd", "secret"])
def test_external_entity_in_content_is_refused(
    tmp_path: Path, secret_file: Path, target: str
) -> None:
    uri = "file:///etc/passwd" if target == "passwd" else secret_file.as_uri()
    prolog = f'<?xml version="1.0"?>\n<!DOCTYPE EDEX [<!ENTITY xxe SYSTEM "{uri}">]>\n'
    text = edexml_text(prolog=prolog, pupils=pupil_xml("L1", achternaam="&xxe;"))
    assert_refused(write(tmp_path, text))


def test_external_entity_in_root_attribute_is_refused(tmp_path: Path, secret_file: Path) -> None:
    prolog = f'<!DOCTYPE EDEX [<!ENTITY xxe SYSTEM "{secret_file.as_uri()}">]>\n'
    text = edexml_text(prolog=prolog, root_attributes=' note="&xxe;"')
    assert_refused(write(tmp_path, text))


def test_external_parameter_entity_is_refused(tmp_path: Path, secret_file: Path) -> None:
    prolog = f'<!DOCTYPE EDEX [<!ENTITY % ext SYSTEM "{secret_file.as_uri()}"> %ext;]>\n'
    assert_refused(write(tmp_path, edexml_text(prolog=prolog)))


def test_billion_laughs_in_content_is_refused(tmp_path: Path) -> None:
    text = edexml_text(prolog=billion_laughs(), pupils=pupil_xml("L1", achternaam="&lol9;"))
    assert_refused(write(tmp_path, text))


def test_billion_laughs_in_root_attribute_is_refused(tmp_path: Path) -> None:
    text = edexml_text(prolog=billion_laughs(), root_attributes=' x="&lol9;"')
    assert_refused(write(tmp_path, text))


def test_utf16_doctype_is_refused(tmp_path: Path) -> None:
    prolog = '<?xml version="1.0" encoding="UTF-16"?>\n' + billion_laughs()
    text = edexml_text(prolog=prolog, root_attributes=' x="&lol9;"')
    assert_refused(write(tmp_path, text.encode("utf-16")))


# -- scale -------------------------------------------------------------------------------


def test_large_file_is_streamed(tmp_path: Path) -> None:
    count = 20_000
    path = tmp_path / "EDEX.XML"
    head, tail = edexml_text(pupils="@@PUPILS@@").split("@@PUPILS@@")
    expected_lines = []
    line = head.count("\n") + 1
    with path.open("w", encoding="utf-8") as handle:
        handle.write(head)
        for number in range(count):
            pupil = pupil_xml(f"{number:06d}", jaargroep=str(1 + number % 8))
            handle.write(pupil)
            expected_lines.append(line)
            line += pupil.count("\n")
        handle.write(tail)

    pupils = EDEXML_SOURCE.extract(path).pupils

    assert len(pupils) == count
    assert pupils["leerlingkey"].is_unique
    assert pupils["leerlingkey"].iloc[-1] == f"{count - 1:06d}"
    # Exact past line 65,535, where libxml2's own element line numbers run out.
    assert expected_lines[-1] > 65_535
    assert pupils["source_line"].tolist() == expected_lines
    assert pupils["source_line"].iloc[-1] == line_of(path, f'<leerling key="{count - 1:06d}"')
    assert pupils["jaargroep"].value_counts().to_dict() == {str(g): count // 8 for g in range(1, 9)}


# -- fast and exact readers --------------------------------------------------------------
#
# `extract` first tries the fast reader (large chunks, lines counted from the raw bytes)
# and reads the file again with the exact reader (line by line) whenever the fast one
# cannot vouch for it. These tests drive both readers directly: the fast reader must give
# the exact reader's frames, and must be the one that ran where it is meant to.


def read_both(path: Path) -> tuple[bool, SchoolExport, SchoolExport]:
    fast = _Reader(path)
    with path.open("rb") as handle:
        used_fast = fast.read_fast(handle)
    exact = _Reader(path)
    with path.open("rb") as handle:
        exact.read(handle)
    return used_fast, fast.export("digest"), exact.export("digest")


def assert_same_export(fast: SchoolExport, exact: SchoolExport) -> None:
    assert (fast.school, fast.school_line, fast.encoding, fast.notes) == (
        exact.school,
        exact.school_line,
        exact.encoding,
        exact.notes,
    )
    for name in ("pupils", "groups", "teachers"):
        pd.testing.assert_frame_equal(getattr(fast, name), getattr(exact, name), check_exact=True)


def test_lines_stay_exact_past_65535_around_awkward_markup(tmp_path: Path) -> None:
    # Past line 65,535 libxml2 cannot be asked, so the fast reader counts lines from the
    # bytes itself: through start tags over several lines, ">" and line breaks in
    # attribute values, and tag-like text in comments, CDATA sections and processing
    # instructions. Groups and a teacher come after the pupils, so they are past it too.
    parts: list[str] = []
    line = 1
    expected: dict[str, list[int]] = {"pupils": [], "groups": [], "teachers": []}

    def add(kind: str, before: str, start_tag: str, rest: str) -> None:
        # The expected line is that of the ">" ending the start tag.
        nonlocal line
        parts.append(before + start_tag + rest)
        expected[kind].append(line + before.count("\n") + start_tag.count("\n"))
        line += (before + start_tag + rest).count("\n")

    def add_text(text: str) -> None:
        nonlocal line
        parts.append(text)
        line += text.count("\n")

    head, tail = edexml_text(pupils="@@").split("@@")
    head = head.replace(
        '  <groepen>\n    <groep key="G5"><naam>5a</naam><jaargroep>5</jaargroep></groep>\n'
        "  </groepen>\n",
        "",
    )
    add_text(head)
    body = '\n      <achternaam>{name}</achternaam>\n      <groep key="G5"/>\n    </leerling>\n'
    for number in range(14_000):
        key = f"{number:05d}"
        name = SECRET_NAME
        before, start_tag = "    ", f'<leerling key="{key}">'
        match number % 6:
            case 1:
                start_tag = f'<leerling\n      key="{key}"\n    >'
            case 2:
                start_tag = f'<leerling note="a > b\n  c" key="{key}">'
            case 3:
                before = '    <!-- <leerling key="fake">\n    -->\n    '
            case 4:
                name = '<![CDATA[<leerling key="cdata">\n]]>Jansen'
            case 5:
                before, start_tag = "    <?sluis <leerling ?>\n    ", f'<leerling\tkey="{key}">'
        add("pupils", before, start_tag, body.format(name=name))
    add_text(tail.replace("</EDEX>\n", "") + "  <groepen>\n")
    add("groups", "    ", '<groep\n      key="G5">', "<naam>5a</naam></groep>\n")
    add("groups", "    <!-- <groep key='x'/> -->\n    ", '<samengestelde_groep key="S1">', "")
    add_text("<naam>sg</naam></samengestelde_groep>\n  </groepen>\n  <leerkrachten>\n")
    add(
        "teachers",
        "    ",
        '<leerkracht key="T1">',
        '<groepen><groep key="G5"/></groepen></leerkracht>\n  </leerkrachten>\n</EDEX>\n',
    )
    path = tmp_path / "EDEX.XML"
    path.write_text("".join(parts), encoding="utf-8")

    used_fast, fast, exact = read_both(path)

    assert used_fast
    assert_same_export(fast, exact)
    assert expected["pupils"][-1] > 65_535
    assert expected["groups"][0] > 65_535
    assert fast.pupils["source_line"].tolist() == expected["pupils"]
    assert fast.groups["source_line"].tolist() == expected["groups"]
    assert fast.teachers["source_line"].tolist() == expected["teachers"]
    assert fast.groups["soort"].tolist() == ["groep", "samengestelde_groep"]
    assert fast.teachers.loc[0, "groepen"] == "G5"
    by_key = fast.pupils.set_index("leerlingkey")
    assert by_key.loc["13996", "achternaam"] == '<leerling key="cdata">\nJansen'
    assert (by_key["groepskey"] == "G5").all()


def _comment_with_tags(text: str) -> str:
    return text.replace("    <leerling", '    <!-- <leerling key="x"> --><leerling', 1)


def _unknown_block(text: str) -> str:
    return text.replace("  <leerlingen>", '  <extra><leerling key="E"/></extra>\n  <leerlingen>')


def _nested_pupil(text: str) -> str:
    return text.replace("    </leerling>", '      <leerling key="inner"/>\n    </leerling>', 1)


def _groups_last(text: str) -> str:
    start, end = text.index("  <groepen>"), text.index("  </groepen>\n") + len("  </groepen>\n")
    groups = text[start:end]
    return (text[:start] + text[end:]).replace("</EDEX>", groups + "</EDEX>")


def _pupil_in_groups(text: str) -> str:
    return text.replace("  </groepen>", '    <leerling key="G"/>\n  </groepen>')


@pytest.mark.parametrize(
    ("change", "encoding", "prefix", "fast_expected"),
    [
        (lambda text: text, "utf-8", b"", True),
        (lambda text: text.replace("\n", "\r\n"), "utf-8", b"", True),
        (lambda text: text, "utf-8", b"\xef\xbb\xbf", True),
        (lambda text: text.replace("UTF-8", "ISO-8859-1"), "iso-8859-1", b"", True),
        (_comment_with_tags, "utf-8", b"", True),
        (_unknown_block, "utf-8", b"", True),
        (_nested_pupil, "utf-8", b"", True),
        (_groups_last, "utf-8", b"", True),
        (_pupil_in_groups, "utf-8", b"", False),
        (lambda text: text.replace("UTF-8", "UTF-16"), "utf-16", b"", False),
    ],
    ids=[
        "plain",
        "crlf",
        "bom",
        "latin-1",
        "comment-with-tags",
        "unknown-block",
        "nested-pupil",
        "groups-last",
        "pupil-in-groups",
        "utf-16",
    ],
)
def test_fast_reader_matches_exact_reader(
    tmp_path: Path, change: Any, encoding: str, prefix: bytes, fast_expected: bool
) -> None:
    text = change(edexml_text(pupils=pupil_xml("L1", achternaam="Müller") + pupil_xml("L2")))
    path = write(tmp_path, prefix + text.encode(encoding))

    used_fast, fast, exact = read_both(path)

    assert used_fast is fast_expected
    if used_fast:
        assert_same_export(fast, exact)
    extracted = EDEXML_SOURCE.extract(path)
    assert_same_export(extracted, exact)


# -- elements in a foreign namespace -----------------------------------------------------

XSI = ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


@pytest.mark.parametrize(
    ("pupils", "needle", "root_attributes"),
    [
        # A pupil in another namespace was skipped: "1 pupil read", exit 0.
        (
            pupil_xml("L1") + pupil_xml("L2").replace("<leerling ", '<leerling xmlns="urn:other" '),
            'xmlns="urn:other"',
            "",
        ),
        # A value in another namespace was skipped too: the pupil lost its surname.
        (
            pupil_xml("L1").replace("<achternaam>", '<achternaam xmlns="urn:x">'),
            'xmlns="urn:x"',
            "",
        ),
        # With the schema-instance prefix every export declares on its root.
        (pupil_xml("L1") + "    <xsi:leerling key='L9'/>\n", "<xsi:leerling", XSI),
        (
            pupil_xml("L1").replace('<groep key="G5"/>', '<o:groep xmlns:o="urn:o" key="G5"/>'),
            "<o:groep",
            XSI,
        ),
    ],
)
def test_an_element_in_a_foreign_namespace_is_refused_with_its_line(
    tmp_path: Path, pupils: str, needle: str, root_attributes: str
) -> None:
    path = write(tmp_path, edexml_text(pupils=pupils, root_attributes=root_attributes))
    with pytest.raises(SourceFormatError) as caught:
        EdexmlSource().extract(path)
    message = assert_clean_message(caught, path)
    assert f"regel {line_of(path, needle)}:" in message
    assert "namespace" in message
    # The exact reader, which reads whatever the fast one gives up on, refuses it itself.
    with pytest.raises(SourceFormatError, match="namespace"), path.open("rb") as handle:
        _Reader(path).read(handle)
    with path.open("rb") as handle:
        assert _Reader(path).read_fast(handle) is False


def test_the_schema_instance_namespace_on_the_root_is_read_by_the_fast_reader(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        edexml_text(root_attributes=XSI + ' xsi:noNamespaceSchemaLocation="EDEXML.structuur.xsd"'),
    )
    used_fast, fast, exact = read_both(path)
    assert used_fast
    assert_same_export(fast, exact)
    assert len(fast.pupils) == 2
