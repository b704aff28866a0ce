"""What an agreement asks too much of, every format says it in Dutch, with the fix.

The aggregaat format said it in English ("aggregaat publishes counts, not pupils;
remove ..."), which an IT coordinator reads when an agreement is refused.
"""

from __future__ import annotations

import re

import pytest

from connectors.formats.base import AgreementAsk
from connectors.formats.registry import get_format, known_formats

ENGLISH = re.compile(r"\b(remove|add|allowed|counts|publishes|needs|only|must|not)\b")
# Every line says what to do about it, or what the format does know.
FIX = re.compile(r"\b(verwijder|voeg|gebruik|kies|noem|toegestaan|kent)\b")

ASKS = [
    AgreementAsk(
        fields=("roepnaam", "leerlingkey", "bsn"),
        teacher_fields=("leerkrachtkey",),
        identifier="bogus",
        mode="bogus",
        profile=profile,
    )
    for profile in (None, "bogus")
]


@pytest.mark.parametrize("name", known_formats())
@pytest.mark.parametrize("ask", ASKS, ids=["no-profile", "unknown-profile"])
def test_each_problem_is_dutch_and_names_its_key_and_fix(name: str, ask: AgreementAsk) -> None:
    problems = get_format(name).agreement_problems(
        ask.fields,
        teacher_fields=ask.teacher_fields,
        identifier=ask.identifier,
        mode=ask.mode,
        profile=ask.profile,
    )
    assert problems, name
    for line in problems:
        key, _sep, text = line.partition(": ")
        assert re.fullmatch(r"[a-z_.]+(\[[a-z_]+\])?", key), line
        assert not ENGLISH.search(text), line
        assert FIX.search(text), line


@pytest.mark.parametrize("name", known_formats())
def test_the_keywords_and_the_ask_give_the_same_answer(name: str) -> None:
    writer = get_format(name)
    for ask in ASKS:
        assert writer.problems_of(ask) == writer.agreement_problems(
            ask.fields,
            teacher_fields=ask.teacher_fields,
            identifier=ask.identifier,
            mode=ask.mode,
            profile=ask.profile,
        )
