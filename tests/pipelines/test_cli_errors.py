"""User errors end as one line on stderr with a non-zero exit, never a traceback.

These are caught before Prefect starts, so they answer in seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def sluis(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SLUIS_")}
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sluis: ")
    return lines[0]


def test_missing_source_names_the_path(tmp_path: Path) -> None:
    result = sluis("run", "--source", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert str(tmp_path / "nope") in one_line_error(result)


def test_missing_consent_file_names_the_path(tmp_path: Path) -> None:
    export = tmp_path / "EDEX.XML"
    export.write_text("<EDEX/>", encoding="utf-8")
    result = sluis("run", "--source", str(export), "--consents", str(tmp_path / "t.csv"))
    assert result.returncode == 1
    assert "t.csv" in one_line_error(result)


def test_unknown_supplier_is_a_usage_error_listing_the_known_ones() -> None:
    result = sluis("run", "--supplier", "basisport")
    assert result.returncode == 2
    line = one_line_error(result)
    known = (
        "basispoort, bestuur, leerplicht, nieuwsbrief, onderzoek, parro, rekenapp, schoolwebsite"
    )
    assert f"bekende leveranciers: {known}" in line


def test_malformed_agreement_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text("id: acme\nrole: baas\n", encoding="utf-8")
    result = sluis("run", env={"SLUIS_AGREEMENTS_DIR": str(tmp_path)})
    assert result.returncode == 1
    line = one_line_error(result)
    assert "acme.yaml: role: moet 'verwerker', 'derde' of 'overheid' zijn" in line


def test_an_unknown_option_is_a_usage_error() -> None:
    result = sluis("run", "--bogus")
    assert result.returncode == 2
    assert "onbekende optie --bogus" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "leeg"),
        (b"\xff\xfe\x00garbage\x00\x01", "EDEX.XML"),
        (
            b"<EDEX><school><schooljaar>2026-2027</schooljaar></school><leerlingen/></EDEX>",
            "geen leerlingen",
        ),
    ],
)
def test_bad_exports_fail_with_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    """Run through the checker the flow uses, without Prefect: the same one-line errors."""
    from connectors.errors import InputError
    from connectors.sources.edexml import EdexmlSource

    export = tmp_path / "EDEX.XML"
    export.write_bytes(content)
    with pytest.raises(InputError) as caught:
        EdexmlSource().extract(export)
    message = str(caught.value)
    assert "\n" not in message
    assert str(export) in message
    assert expected in message


def test_check_validates_without_delivering_and_exits_1_on_quarantine(tmp_path: Path) -> None:
    result = sluis("check", "--source", "data/samples", "--report", str(tmp_path / "rapport"))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "name_rule" in result.stdout
    assert "jaargroep_required" in result.stdout
    assert (tmp_path / "rapport" / "quarantine.html").is_file()
    # check never imports the flow, the drops or Prefect: it cannot deliver.
    assert "Starting temporary server" not in result.stdout + result.stderr


def test_check_exits_0_on_a_clean_export(tmp_path: Path) -> None:
    export = tmp_path / "EDEX.XML"
    export.write_text(
        "<EDEX><school><schooljaar>2026-2027</schooljaar><brincode>07XY</brincode></school>"
        "<groepen><groep key='G3'><naam>Groep 3</naam><jaargroep>3</jaargroep></groep></groepen>"
        "<leerlingen><leerling key='1'><achternaam>Jansen</achternaam><roepnaam>Sem</roepnaam>"
        "<geboortedatum>2019-05-01</geboortedatum><jaargroep>3</jaargroep><groep key='G3'/>"
        "</leerling></leerlingen></EDEX>",
        encoding="utf-8",
    )
    result = sluis("check", "--source", str(export))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Geen problemen gevonden" in result.stdout
    assert "Jansen" not in result.stdout


@pytest.mark.parametrize(
    "content",
    [bytes(range(256)) * 20, b"SQLite format 3\x00" + b"\x10\x00\x01\x01" + b"\xff" * 4000],
    ids=["not-sqlite", "damaged-header"],
)
def test_a_damaged_lineage_database_is_one_line_naming_the_file(
    tmp_path: Path, content: bytes
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "lineage.db").write_bytes(content)
    result = sluis("run", "--state", str(state), "--drop", str(tmp_path / "drop"))
    assert result.returncode == 1
    line = one_line_error(result)
    assert str(state / "lineage.db") in line
    assert "damaged" in line
    assert "password" not in line
    assert "Starting temporary server" not in result.stdout + result.stderr


def test_an_unreachable_lineage_server_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    result = sluis(
        "run",
        "--state",
        str(tmp_path / "state"),
        "--db",
        "postgresql+psycopg://nobody:geheim@127.0.0.1:1/x",
    )
    assert result.returncode == 1
    line = one_line_error(result)
    assert "postgresql op 127.0.0.1:1" in line
    assert "--db" in line
    assert "geheim" not in line and "nobody" not in line
    assert "Starting temporary server" not in result.stdout + result.stderr


def test_a_prefect_home_that_cannot_be_created_is_refused_at_once(tmp_path: Path) -> None:
    # Prefect only warned, then its server failed to open its database for minutes.
    home = tmp_path / "not-there" / "prefect"
    result = sluis(
        "run",
        "--state",
        str(tmp_path / "state"),
        "--drop",
        str(tmp_path / "drop"),
        env={"PREFECT_HOME": str(home)},
    )
    assert result.returncode == 1
    line = one_line_error(result)
    assert f"PREFECT_HOME {home} kan niet gemaakt worden" in line
    assert "Starting temporary server" not in result.stdout + result.stderr
