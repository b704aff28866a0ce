"""Every package's modules depend one way and fit in a head (issue 14, points 1 and 2).

tests/lineage/test_rooms.py holds lineage to its layers; this holds every package to the
two rules the issue asks of all of them: no circle among the modules of a package (its
subpackages included), and no module over about 600 lines. Read with `ast`, so imports
inside functions count too, and nothing is imported.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("connectors", "contracts", "policy", "lineage", "pipelines")
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources(package: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def _imports(path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that the file imports, wherever the import stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in known:
                found.add(node.module)
            # `from pkg import module` names a module, not a name in pkg/__init__.py.
            found |= {f"{node.module}.{a.name}" for a in node.names} & known
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_the_modules_of_a_package_import_each_other_without_a_circle(package: str) -> None:
    sources = _sources(package)
    known = set(sources)
    # A package's __init__ may gather its modules' names; a module importing its own
    # package's __init__ is what would close a circle, and it counts.
    graph = {name: _imports(path, known) - {name} for name, path in sources.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"{package}: modules import each other in a circle: {' -> '.join(exc.args[1])}")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_of_a_package_fits_in_a_head(package: str) -> None:
    lines = {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8").count("\n")
        for path in _sources(package).values()
    }
    assert {name: n for name, n in lines.items() if n > MAX_LINES} == {}
