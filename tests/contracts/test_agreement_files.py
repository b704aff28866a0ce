"""Agreement files are plain data, and a bad one is reported without hiding the good ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from connectors.errors import AgreementError, UsageError
from contracts.agreements import load_agreement, load_agreement_set, load_agreements

GOOD = """\
id: {id}
name: Acme Leermiddelen
role: verwerker
legal_basis: {{type: overeenkomst}}
agreement: {{reference: VO-1, valid_from: 2025-08-01}}
purpose: Toegang tot rekenmethode
identifier: eckid
fields:
  - {{name: eckid, purpose: koppelen}}
"""


def _bsn(supplier: str) -> str:
    """An agreement asking for the BSN: the deny-list refuses it."""
    return GOOD.format(id=supplier).replace("name: eckid", "name: bsn")


def _file(folder: Path, supplier: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{supplier}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _message(path: Path) -> str:
    with pytest.raises(AgreementError) as caught:
        load_agreement(path)
    return str(caught.value)


# -- plain data --------------------------------------------------------------------------


def test_a_second_fields_key_is_refused_with_its_line(tmp_path: Path) -> None:
    text = GOOD.format(id="acme") + "fields:\n  - {name: roepnaam, purpose: tonen}\n"
    message = _message(_file(tmp_path, "acme", text))
    assert "acme.yaml: regel 10: dubbele sleutel 'fields' (eerst op regel 8)" in message


def test_an_alias_bomb_as_a_field_name_is_refused_with_a_short_message(tmp_path: Path) -> None:
    bomb = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol]"]
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 8)}]" for i in range(1, 6)]
    text = "\n".join(bomb) + "\n" + GOOD.format(id="acme").replace("name: eckid", "name: *a5")
    message = _message(_file(tmp_path, "acme", text))
    assert "acme.yaml: regel 1: een anker (&naam) is hier niet toegestaan" in message
    assert len(message) < 400


def test_an_anchor_is_refused_even_when_it_is_not_used(tmp_path: Path) -> None:
    text = GOOD.format(id="acme").replace("purpose: Toegang", "purpose: &p Toegang")
    assert "regel 6: een anker" in _message(_file(tmp_path, "acme", text))


# -- every quoted value is short ----------------------------------------------------------

LONG = "x" * 5000


@pytest.mark.parametrize(
    "change",
    [
        {"fields": [{"name": LONG, "purpose": "koppelen"}]},  # unknown field
        {"fields": [{"name": ["a"] * 5000, "purpose": "koppelen"}]},  # not a string
        {LONG: 1},  # unknown key
        {"scope": {"jaargroepen": [LONG]}},  # unknown jaargroep
        {"format": {"type": "edexml", "profile": LONG}},  # unknown profile
        {"id": LONG},  # id differs from the file name
        {"role": LONG},  # not one of the roles
    ],
)
def test_a_value_quoted_in_an_error_is_shortened(tmp_path: Path, change: dict[str, object]) -> None:
    data = yaml.safe_load(GOOD.format(id="acme"))
    data.update(change)
    message = _message(_file(tmp_path, "acme", yaml.safe_dump(data)))
    assert "xxxxxxxxxx" * 5 not in message
    assert len(message) < 1000
    assert "acme.yaml: " in message


# -- a bad file is one problem line; the others still load ---------------------------------


def test_a_bad_agreement_is_a_problem_line_and_the_others_load(tmp_path: Path) -> None:
    folder = tmp_path / "suppliers"
    _file(folder, "basispoort", GOOD.format(id="basispoort"))
    bad = _file(folder, "leesapp", _bsn("leesapp"))
    _file(folder, "rekenapp", GOOD.format(id="rekenapp"))

    found = load_agreement_set(folder)

    assert [a.agreement.id for a in found.agreements] == ["basispoort", "rekenapp"]
    [problem] = found.problems
    assert problem.supplier == "leesapp"
    assert problem.path == bad
    assert re.fullmatch(rf"{re.escape(str(bad))}: fields\[bsn\]: geweigerd: .+", problem.message)
    assert "\n" not in problem.message
    assert problem.sha256 is not None and len(problem.sha256) == 64
    # The strict loader, for callers that need every file good, still refuses.
    with pytest.raises(AgreementError, match=r"leesapp.yaml: fields\[bsn\]"):
        load_agreements(folder)


def test_selecting_suppliers_keeps_their_problems_only(tmp_path: Path) -> None:
    folder = tmp_path / "suppliers"
    _file(folder, "basispoort", GOOD.format(id="basispoort"))
    _file(folder, "leesapp", _bsn("leesapp"))

    only_good = load_agreement_set(folder, ["basispoort"])
    assert [a.agreement.id for a in only_good.agreements] == ["basispoort"]
    assert only_good.problems == []

    only_bad = load_agreement_set(folder, ["leesapp"])
    assert only_bad.agreements == []
    assert [p.supplier for p in only_bad.problems] == ["leesapp"]

    assert load_agreements(folder, ["basispoort"])[0].agreement.id == "basispoort"
    with pytest.raises(UsageError, match="bekende leveranciers: basispoort, leesapp"):
        load_agreement_set(folder, ["nobody"])


def test_an_unreadable_agreement_is_a_problem_without_a_hash(tmp_path: Path) -> None:
    folder = tmp_path / "suppliers"
    _file(folder, "basispoort", GOOD.format(id="basispoort"))
    (folder / "kapot.yaml").mkdir()  # a folder where a file should be: cannot be read

    found = load_agreement_set(folder)

    assert [a.agreement.id for a in found.agreements] == ["basispoort"]
    [problem] = found.problems
    assert (problem.supplier, problem.sha256) == ("kapot", None)
    assert "overeenkomst niet te lezen" in problem.message
