"""The agreement modules fit in a head and answer to the old import path (issue 14, point 2)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import contracts.agreements

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 600
ROOMS = ["agreements", "agreement_model", "agreement_checks", "agreement_loading"]
# Every public name contracts.agreements had before it was split.
PUBLIC = [
    "BUNDLED_AGREEMENTS",
    "Agreement",
    "AgreementProblem",
    "AgreementSet",
    "AgreementTerms",
    "DropSettings",
    "Encryption",
    "FolderDropSettings",
    "HoldThresholds",
    "IdentifierPolicy",
    "LegalBasis",
    "LegalBasisType",
    "LoadedAgreement",
    "OutputFormat",
    "Role",
    "Schedule",
    "Scope",
    "SftpDropSettings",
    "SharedField",
    "classification_of",
    "load_agreement",
    "load_agreement_set",
    "load_agreements",
    "select_agreements",
]


def _source(room: str) -> str:
    return (ROOT / "contracts" / f"{room}.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("room", ROOMS)
def test_every_agreement_module_stays_under_600_lines(room: str) -> None:
    lines = len(_source(room).splitlines())
    assert lines <= MAX_LINES, f"{room}.py: {lines} lines; split it along a seam"


@pytest.mark.parametrize("room", ROOMS)
def test_no_agreement_module_imports_another_ones_private_names(room: str) -> None:
    private = [
        f"{node.module}.{alias.name}"
        for node in ast.walk(ast.parse(_source(room)))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("contracts")
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert private == []


def test_every_public_agreement_name_is_still_importable_from_contracts_agreements() -> None:
    assert [name for name in PUBLIC if not hasattr(contracts.agreements, name)] == []
    assert set(PUBLIC) <= set(contracts.agreements.__all__)
