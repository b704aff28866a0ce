"""Configuration YAML is parsed safely, by libyaml where PyYAML has it."""

from __future__ import annotations

import pytest
import yaml

from connectors import safe_yaml


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
