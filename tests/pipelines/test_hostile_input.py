"""Hostile and broken exports: one clear line, exit 1, never a traceback, nothing delivered.

`sluis check` runs in-process here (it never starts Prefect), so many inputs are cheap to
try; a few cases also go through `sluis run` in test_sync_end_to_end.py.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.cli import main

REPO = Path(__file__).resolve().parents[2]
VALID = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<EDEX>\n<school><schooljaar>2026-2027</schooljaar><brincode>07XY</brincode></school>\n"
    b"<groepen><groep key='G3'><naam>Groep 3</naam><jaargroep>3</jaargroep></groep>"
    b"</groepen>\n<leerlingen>\n"
    b"<leerling key='1'><achternaam>Jansen</achternaam><roepnaam>Sem</roepnaam>"
    b"<geboortedatum>2019-05-01</geboortedatum><jaargroep>3</jaargroep><groep key='G3'/>"
    b"</leerling>\n"
    b"<leerling key='2'><roepnaam>Zo\xc3\xab</roepnaam><geboortedatum>2019-02-11"
    b"</geboortedatum><geslacht>2</geslacht><jaargroep>3</jaargroep></leerling>\n"
    b"</leerlingen>\n</EDEX>\n"
)

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE EDEX [\n<!ENTITY a "aaaaaaaaaa">\n'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">\n'
    b"]>\n<EDEX><school><schooljaar>&c;</schooljaar></school></EDEX>\n"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?>\n<!DOCTYPE EDEX [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    b"<EDEX><school><schooljaar>&x;</schooljaar></school></EDEX>\n"
)
WITH_DTD = b'<?xml version="1.0"?>\n<!DOCTYPE EDEX SYSTEM "edex.dtd">\n<EDEX/>\n'
EDEXML_1 = VALID.replace(b"</school>", b"<xsdversie>1.0.3</xsdversie></school>")
NOT_EDEXML = b'<?xml version="1.0"?>\n<html><body>export</body></html>\n'
NO_PUPILS = VALID.split(b"<leerlingen>")[0] + b"<leerlingen>\n</leerlingen>\n</EDEX>\n"
CSV_HEADER = b"Leerlingnummer;Achternaam;Roepnaam;Geboortedatum;Jaargroep;Schooljaar;BRIN\n"
SHIFTED_CSV = (
    CSV_HEADER
    + b"1;Jansen;Sem;01-05-2019;3;2026-2027;07XY\n"
    + (b";2;Vos;Noor;02-06-2019;3;2026-2027;07XY\n")
)
BINARY_CSV = bytes(range(256)) * 8


def check(path: Path, consents: Path | None = None) -> tuple[int, str, str]:
    """Run `sluis check --source PATH` in this process; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["sluis", "check", "--source", str(path)]
    if consents is not None:
        sys.argv += ["--consents", str(consents)]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("EDEX.XML", BILLION_LAUGHS, "DTD"),
        ("EDEX.XML", EXTERNAL_ENTITY, "DTD"),
        ("EDEX.XML", WITH_DTD, "DTD"),
        ("EDEX.XML", VALID[: len(VALID) // 2], "regel"),
        ("EDEX.XML", EDEXML_1, "1.0.3"),
        ("EDEX.XML", NOT_EDEXML, "EDEX"),
        ("EDEX.XML", b"", "leeg"),
        ("EDEX.XML", NO_PUPILS, "geen leerlingen"),
        ("export.csv", BINARY_CSV, "export.csv"),
        ("export.csv", SHIFTED_CSV, "regel 3"),
    ],
)
def test_each_broken_export_gives_one_line_naming_the_file(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    export = tmp_path / name
    export.write_bytes(content)
    code, out, err = check(export)
    assert code == 1
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert str(export) in lines[0]
    assert expected.lower() in lines[0].lower()
    assert "root:" not in lines[0]  # nothing of /etc/passwd


def mutated(base: bytes = VALID) -> st.SearchStrategy[bytes]:
    """`base` with one to four deletions, insertions, replacements, cuts or repeats."""
    return _mutated(base)


@st.composite
def _mutated(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "replace", "truncate", "duplicate"]))
        start = draw(st.integers(0, max(0, len(data) - 1)))
        end = draw(st.integers(start, min(len(data), start + 40)))
        if kind == "delete":
            del data[start:end]
        elif kind == "insert":
            data[start:start] = draw(st.binary(min_size=1, max_size=12))
        elif kind == "replace":
            data[start:end] = draw(st.binary(max_size=end - start + 2))
        elif kind == "truncate":
            del data[start:]
        else:
            data[start:start] = data[start:end]
    return bytes(data)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=mutated())
def test_random_mutations_never_crash_with_a_traceback(tmp_path: Path, content: bytes) -> None:
    export = tmp_path / "EDEX.XML"
    export.write_bytes(content)
    code, out, err = check(export)
    assert code in (0, 1)
    assert "Traceback" not in out + err
    if code == 1 and err.strip():
        assert len([line for line in err.splitlines() if line.strip()]) == 1
        assert err.startswith("sluis: ")


def test_a_huge_value_reaches_the_console_shortened_and_as_plain_text(tmp_path: Path) -> None:
    # A header of 100 KB: rich's highlighter took minutes on it, and markup in it would be
    # read as markup. The note naming the ignored column quotes it cut to 40 characters.
    huge = "[bold]x(" + "x(" * 50_000
    export = tmp_path / "export.csv"
    header = CSV_HEADER.rstrip(b"\n") + b";" + huge.encode() + b"\n"
    export.write_bytes(header + b"1;Jansen;Sem;01-05-2019;3;2026-2027;07XY;a\n")
    code, out, err = check(export)
    assert code in (0, 1)
    assert "Traceback" not in out + err
    assert "genegeerde kolommen: [bold]x(" in out  # as written: not read as markup
    assert "x(" * 20 not in out + err


# -- the other sources and the consent export, mutated the same way --------------------

CONSENTS = (
    b"leerlingkey;schooljaar;categorie;waarde;gewijzigd_op\n"
    b"1;2026-2027;beeldmateriaal_website;ja;2026-09-01T10:00:00\n"
    b"2;2026-2027;beeldmateriaal_website; Nee ;2026-09-02T10:00:00\n"
)


@dataclass(frozen=True)
class Exports:
    """VALID written in every source format Sluis reads, as bytes, and as package files."""

    csv: bytes
    xlsx: bytes
    oneroster: dict[str, bytes]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Exports:
    from oneroster_writer import write_oneroster
    from source_writers import write_parnassys_csv, write_parnassys_xlsx

    from connectors.sources.edexml import EdexmlSource

    folder = tmp_path_factory.mktemp("exports")
    (folder / "EDEX.XML").write_bytes(VALID)
    export = EdexmlSource().extract(folder / "EDEX.XML")
    write_parnassys_csv(export, folder / "export.csv")
    write_parnassys_xlsx(export, folder / "export.xlsx")
    write_oneroster(export, folder / "oneroster")
    return Exports(
        csv=(folder / "export.csv").read_bytes(),
        xlsx=(folder / "export.xlsx").read_bytes(),
        oneroster={p.name: p.read_bytes() for p in sorted((folder / "oneroster").iterdir())},
    )


def assert_one_clear_line_at_most(code: int, out: str, err: str) -> None:
    assert code in (0, 1), err
    assert "Traceback" not in out + err
    if code == 1 and err.strip():
        assert len([line for line in err.splitlines() if line.strip()]) == 1, err
        assert err.startswith("sluis: ")


MUTATIONS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@MUTATIONS
@given(data=st.data())
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_mutated_overzicht_exports_never_crash_with_a_traceback(
    tmp_path: Path, exports: Exports, kind: str, data: st.DataObject
) -> None:
    export = tmp_path / f"export.{kind}"
    export.write_bytes(data.draw(mutated(getattr(exports, kind))))
    assert_one_clear_line_at_most(*check(export))


@MUTATIONS
@given(data=st.data())
def test_mutated_oneroster_packages_never_crash_with_a_traceback(
    tmp_path: Path, exports: Exports, data: st.DataObject
) -> None:
    victim = data.draw(st.sampled_from(sorted(exports.oneroster)))
    package = tmp_path / "oneroster.zip"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in exports.oneroster.items():
            archive.writestr(name, data.draw(mutated(content)) if name == victim else content)
    if data.draw(st.booleans()):  # the zip itself damaged, too
        package.write_bytes(data.draw(mutated(package.read_bytes())))
    assert_one_clear_line_at_most(*check(package))


@MUTATIONS
@given(content=mutated(CONSENTS))
def test_mutated_consent_exports_never_crash_with_a_traceback(
    tmp_path: Path, content: bytes
) -> None:
    export = tmp_path / "EDEX.XML"
    export.write_bytes(VALID)
    consents = tmp_path / "toestemmingen.csv"
    consents.write_bytes(content)
    assert_one_clear_line_at_most(*check(export, consents))


@pytest.mark.parametrize("name", ["export.csv", "EDEX.XML", "export.zip"])
def test_a_pipe_as_the_source_is_one_line_not_a_traceback_or_a_wait(
    tmp_path: Path, name: str
) -> None:
    pipe = tmp_path / name
    os.mkfifo(pipe)
    code, out, err = check(pipe)
    assert code == 1
    assert "Traceback" not in out + err
    assert err.startswith(f"sluis: {pipe}: de bron is geen bestand en geen map")
