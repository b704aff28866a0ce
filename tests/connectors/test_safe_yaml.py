"""Configuration YAML is parsed safely, by libyaml where PyYAML has it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connectors import safe_yaml
from connectors.errors import ConfigurationError
from connectors.sources import csv_export
from connectors.sources.csv_export import load_column_map

CSV_MAPS = Path(csv_export.__file__).resolve().parent / "csv_maps"


def test_it_reads_a_mapping() -> None:
    assert safe_yaml.safe_load("id: basispoort\nfields: [voornaam, achternaam]\n") == {
        "id": "basispoort",
        "fields": ["voornaam", "achternaam"],
    }


def test_it_refuses_python_tags() -> None:
    with pytest.raises(safe_yaml.YAMLError):
        safe_yaml.safe_load("!!python/object/apply:os.system ['true']\n")


def test_a_syntax_error_says_where() -> None:
    with pytest.raises(safe_yaml.YAMLError) as caught:
        safe_yaml.safe_load("id: a\nfields: [unclosed\n")
    mark = getattr(caught.value, "problem_mark", None)
    assert mark is not None
    assert mark.line >= 1


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="this PyYAML was built without libyaml")
def test_the_c_loader_is_used_when_present() -> None:
    assert safe_yaml._LOADER is yaml.CSafeLoader


# -- plain data only: no duplicate keys, anchors, aliases or merges -------------------------


def _refused(text: str) -> safe_yaml.PlainDataError:
    with pytest.raises(safe_yaml.PlainDataError) as caught:
        safe_yaml.safe_load(text)
    return caught.value


def test_a_duplicate_key_is_refused_with_its_line() -> None:
    problem = _refused("id: a\nfields: [roepnaam]\npurpose: x\nfields: [bsn]\n")
    assert problem.line == 4
    assert "dubbele sleutel 'fields'" in problem.problem
    assert "regel 2" in problem.problem  # where it was first


def test_a_duplicate_key_deep_inside_is_refused_with_its_line() -> None:
    text = "fields:\n  - name: eckid\n    purpose: a\n    purpose: b\n"
    problem = _refused(text)
    assert (problem.line, "dubbele sleutel 'purpose'" in problem.problem) == (4, True)


def test_keys_that_read_as_the_same_value_are_duplicates() -> None:
    # YAML 1.1 reads both as True: the second would silently replace the first.
    assert _refused("yes: 1\ntrue: 2\n").line == 2


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("a: &x [1, 2]\n", 1, "anker"),
        ("a: [1]\nb: *x\n", 2, None),  # an alias to an unknown anchor is a YAML error
        ("a: &x 1\nb: *x\n", 1, "anker"),
        ("a:\n  <<: {b: 1}\n", 2, "merge-sleutel"),
        ("? [a, b]\n: 1\n", 1, "sleutel"),
    ],
)
def test_anchors_aliases_merges_and_complex_keys_are_refused(
    text: str, line: int, what: str | None
) -> None:
    with pytest.raises(safe_yaml.YAMLError) as caught:
        safe_yaml.safe_load(text)
    error = caught.value
    mark = getattr(error, "problem_mark", None)
    assert mark is not None and mark.line + 1 == line
    if what is not None:
        assert isinstance(error, safe_yaml.PlainDataError)
        assert what in error.problem


def test_an_alias_is_refused_before_anything_is_built() -> None:
    # A "billion laughs": each level names the one before nine times.
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    problem = _refused("\n".join(levels) + "\n")
    assert problem.line == 1
    assert "anker" in problem.problem
    assert len(str(problem)) < 300


def test_a_quoted_key_is_shortened() -> None:
    long_key = "k" * 500
    problem = _refused(f"{long_key}: 1\n{long_key}: 2\n")
    assert len(problem.problem) < 300
    assert long_key not in problem.problem


def test_a_csv_column_map_with_a_duplicate_key_is_refused_with_its_line(tmp_path: Path) -> None:
    bundled = (CSV_MAPS / "parnassys.yaml").read_text(encoding="utf-8")
    lines = len(bundled.splitlines())
    path = tmp_path / "map.yaml"
    path.write_text(bundled + "columns: {leerlingkey: Nummer}\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_column_map(path)
    message = str(caught.value)
    assert f"regel {lines + 1}" in message
    assert "dubbele sleutel 'columns'" in message


def test_a_csv_column_map_with_an_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("name: &n kaart\ncolumns: {leerlingkey: *n}\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"map.yaml regel 1: .*anker"):
        load_column_map(path)
