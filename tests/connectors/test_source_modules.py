"""The readers' modules stay small enough to read, and keep their private names private."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import connectors.sources

SOURCES = Path(connectors.sources.__file__).resolve().parent
MODULES = sorted(SOURCES.glob("*.py"))
# Issue 14: a module a newcomer can hold in their head.
MAX_LINES = 600


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_every_source_module_stays_under_600_lines(module: Path) -> None:
    lines = len(module.read_text("utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module.name}: {lines} lines; split it along a seam"


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_no_source_module_imports_another_ones_private_names(module: Path) -> None:
    tree = ast.parse(module.read_text("utf-8"))
    private = [
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("connectors.")
        for alias in node.names
        if alias.name.startswith("_") and alias.name != "_"  # `_` is gettext
    ]
    assert not private, f"{module.name} imports private names: {private}"
