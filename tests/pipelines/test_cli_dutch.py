"""Typer's and Click's own words are Dutch too: help screens, usage lines, usage errors.

Issue 13 point 1: every message a person reads is Dutch; exit codes stay (2 for a usage
error, 1 for a wrong setting). Run in this process through `main`, as `sluis` runs it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sluis_cli import sluis_in_process as sluis

REPO = Path(__file__).resolve().parents[2]

# Click's and pydantic's English, as it showed before (issue 13 point 1).
_ENGLISH = (
    "Usage:",
    "Show this message",
    "Try '",
    "for help",
    "No such option",
    "No such command",
    "Missing argument",
    "Missing option",
    "Missing parameter",
    "Invalid value",
    "Got unexpected",
    "requires an argument",
    "does not take a value",
    "Did you mean",
    "is not one of",
    "Input should",
    "Field required",
    "[OPTIONS]",
    "COMMAND [ARGS]",
    "Traceback",
)


def no_english(text: str) -> None:
    found = [words for words in _ENGLISH if words in text]
    assert not found, f"English in what a person reads: {found}\n{text}"


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("sluis: ")
    return lines[0]


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    # A help screen wraps at the terminal's width; wide enough that words stay whole.
    monkeypatch.setenv("COLUMNS", "200")
    for name in [n for n in os.environ if n.startswith("SLUIS_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize(
    "args", [["--help"], ["run", "--help"], ["inzage", "--help"], ["audit", "--help"]]
)
def test_help_screens_are_dutch(args: list[str]) -> None:
    code, out, err = sluis(*args)
    assert code == 0, err
    assert "Gebruik: sluis" in out
    assert "[OPTIES]" in out
    assert "--help" in out and "Toon deze hulp en stop." in out
    no_english(out + err)


def test_a_group_without_a_command_shows_its_dutch_help_with_exit_2() -> None:
    code, out, err = sluis("audit")
    assert code == 2
    assert "Gebruik: sluis audit [OPTIES] COMMANDO [ARGUMENTEN]..." in out + err
    assert "verify" in out + err
    no_english(out + err)


def test_an_unknown_option_is_one_dutch_line_with_exit_2() -> None:
    code, out, err = sluis("run", "--bogus")
    assert code == 2
    assert one_line(err) == "sluis: onbekende optie --bogus; zie sluis run --help"
    no_english(out + err)


def test_a_missing_argument_is_one_dutch_line_with_exit_2() -> None:
    code, out, err = sluis("inzage")
    assert code == 2
    assert one_line(err) == ("sluis: het argument LEERLINGKEY ontbreekt; zie sluis inzage --help")
    no_english(out + err)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--sourc", "x"], "onbekende optie --sourc; bedoelde u --source?"),
        (["runn"], "onbekend commando 'runn'; bedoelde u run?"),
        (["audit", "x"], "onbekend commando 'x'; bekend zijn: verify"),
        (["run", "extra"], "onverwacht argument: extra"),
        (["run", "extra", "meer"], "onverwachte argumenten: extra meer"),
        (["run", "--source"], "de optie --source heeft een waarde nodig"),
        (["run", "--dry-run=ja"], "de optie --dry-run neemt geen waarde"),
        (["sample"], "de optie --out ontbreekt"),
        (
            ["sample", "--out", "x", "--schools", "veel"],
            "ongeldige waarde voor --schools: moet een geheel getal zijn",
        ),
        (
            ["sample", "--out", "x", "--schools", "0"],
            "ongeldige waarde voor --schools: moet minstens 1 zijn",
        ),
        (
            ["run", "--task-runner", "spark"],
            "ongeldige waarde voor --task-runner: moet een van 'threads', 'dask' zijn",
        ),
    ],
)
def test_every_kind_of_usage_error_is_one_dutch_line_with_exit_2(
    args: list[str], expected: str
) -> None:
    code, out, err = sluis(*args)
    assert code == 2
    assert expected in one_line(err)
    no_english(out + err)


def test_a_wrong_setting_is_one_dutch_line_naming_it_with_exit_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLUIS_BATCH_SIZE", "veel")
    code, out, err = sluis("check", "--source", str(REPO / "data" / "samples"))
    assert code == 1
    assert one_line(err) == "sluis: instelling SLUIS_BATCH_SIZE: moet een geheel getal zijn"
    no_english(out + err)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            '{"rekenapp": ["geheim-1234"]}',
            "instelling SLUIS_PSEUDONYM_KEYS.rekenapp: moet tekst zijn",
        ),
        ("geheim-1234", "instelling SLUIS_PSEUDONYM_KEYS: is geen geldige JSON"),
    ],
)
def test_a_wrong_secret_setting_never_shows_its_value(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv("SLUIS_PSEUDONYM_KEYS", value)
    code, out, err = sluis("check", "--source", str(REPO / "data" / "samples"))
    assert code == 1
    assert expected in one_line(err)
    assert "geheim" not in out + err
    no_english(out + err)
