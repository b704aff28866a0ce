"""Inside lineage the modules depend one way and share only public names (issue 14, point 1).

Read from the source with `ast`, so the check sees every import statement, including the
ones inside a function (which import-linter also counts), and costs no import.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "lineage"
MAX_LINES = 600


def _modules() -> dict[str, ast.Module]:
    return {
        f"{PACKAGE}.{path.stem}": ast.parse(path.read_text(encoding="utf-8"), str(path))
        for path in sorted((ROOT / PACKAGE).glob("*.py"))
        if path.stem != "__init__"
    }


def _lineage_imports(tree: ast.Module) -> list[ast.ImportFrom | ast.Import]:
    found: list[ast.ImportFrom | ast.Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        if any(name.split(".")[0] == PACKAGE for name in names):
            found.append(node)
    return found


def _imported_modules(node: ast.ImportFrom | ast.Import, known: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    module = node.module or ""
    if module in known:
        return {module}
    # `from lineage import intents` names a module, not a name in lineage/__init__.py.
    return {f"{module}.{alias.name}" for alias in node.names} & known


def test_no_lineage_module_imports_another_modules_private_names() -> None:
    offences = [
        f"{name}:{node.lineno} imports {alias.name} from {node.module}"
        for name, tree in _modules().items()
        for node in _lineage_imports(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert offences == []


def test_lineage_modules_import_each_other_without_a_circle() -> None:
    modules = _modules()
    known = set(modules)
    graph = {
        name: {
            imported
            for node in _lineage_imports(tree)
            for imported in _imported_modules(node, known)
            if imported != name
        }
        for name, tree in modules.items()
    }
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"lineage modules import each other in a circle: {' -> '.join(exc.args[1])}")
    assert set(order) == known


def test_the_bottom_of_lineage_imports_nothing_above_it() -> None:
    # values, engine and tables are what every other module stands on; the store, the
    # audit log and the migrations come above them and never the other way round.
    bottom = {"lineage.values", "lineage.engine", "lineage.tables"}
    modules = _modules()
    known = set(modules)
    upward = {
        name: sorted(
            imported
            for node in _lineage_imports(modules[name])
            for imported in _imported_modules(node, known)
            if imported not in bottom
        )
        for name in sorted(bottom)
    }
    assert upward == {name: [] for name in sorted(bottom)}


def test_every_lineage_module_fits_in_a_head() -> None:
    lines = {
        path.name: path.read_text(encoding="utf-8").count("\n")
        for path in sorted((ROOT / PACKAGE).glob("*.py"))
    }
    assert {name: n for name, n in lines.items() if n > MAX_LINES} == {}
