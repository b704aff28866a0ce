"""Pydantic's validation errors in Dutch, by error type, never with the input value."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors.pydantic_messages import error_message, one_of


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["verwerker", "derde", "overheid"]
    count: int = 1
    pct: Annotated[float, Field(le=100)] = 0
    start: date | None = None
    tags: Annotated[list[str], Field(max_length=2)] = []
    name: Annotated[str, Field(max_length=3)] = "a"

    @field_validator("name")
    @classmethod
    def _no_x(cls, value: str) -> str:
        if value == "x":
            raise ValueError("de naam x is niet toegestaan")
        return value


def _errors(**data: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        _Model.model_validate(data)
    return {
        ".".join(map(str, e["loc"])): error_message(e)
        for e in caught.value.errors(include_url=False, include_input=False)
    }


@pytest.mark.parametrize(
    ("data", "where", "expected"),
    [
        ({}, "role", "ontbreekt; deze sleutel is verplicht"),
        ({"role": "baas"}, "role", "moet 'verwerker', 'derde' of 'overheid' zijn"),
        ({"role": "derde", "count": "veel"}, "count", "moet een geheel getal zijn"),
        ({"role": "derde", "pct": 150}, "pct", "mag hoogstens 100 zijn"),
        ({"role": "derde", "start": "gisteren"}, "start", "moet een datum zijn (JJJJ-MM-DD)"),
        ({"role": "derde", "tags": ["a", "b", "c"]}, "tags", "mag hoogstens 2 elementen hebben"),
        ({"role": "derde", "name": "abcd"}, "name", "mag hoogstens 3 tekens lang zijn"),
        ({"role": "derde", "kleur": "rood"}, "kleur", "onbekende sleutel"),
        ({"role": "derde", "name": "x"}, "name", "de naam x is niet toegestaan"),
    ],
)
def test_each_error_type_reads_as_dutch(data: dict[str, Any], where: str, expected: str) -> None:
    assert _errors(**data)[where] == expected


def test_the_input_value_is_never_in_the_message() -> None:
    messages = _errors(role="geheim-role", count="geheim-count", start="geheim-date")
    assert messages and not any("geheim" in m for m in messages.values())


def test_an_error_type_without_a_template_is_named_by_its_code_not_in_english() -> None:
    message = error_message({"type": "complex_str_parsing", "msg": "Input should be complex"})
    assert message == "ongeldige waarde (regel complex_str_parsing)"


def test_a_template_whose_context_is_missing_falls_back_to_the_code() -> None:
    message = error_message({"type": "less_than_equal", "msg": "Input should be <= 3", "ctx": {}})
    assert message == "ongeldige waarde (regel less_than_equal)"


def test_one_of_puts_a_dutch_of_before_the_last_choice() -> None:
    assert one_of("'a', 'b' or 'c'") == "'a', 'b' of 'c'"
    assert one_of("'a'") == "'a'"
