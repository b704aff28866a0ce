"""The failed contract rules of a school, as its OpenLineage assertions name them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
from builders import make_consents, make_export, pupil

from contracts.staged import stage_school
from contracts.validation import validate_school
from pipelines.openlineage_run import _failed

TODAY = date(2026, 11, 28)


def _school():  # type: ignore[no-untyped-def]
    pupils = [
        pupil("1"),
        pupil("2", geboortedatum="2030-02-02"),
        pupil("3", groepskey="G12"),
        pupil("4", groepskey="G12"),
    ]
    return validate_school(make_export(pupils), make_consents([]), today=TODAY)


def test_each_rule_once_sorted_as_a_groupby_gives_them_and_the_same_from_staging(
    tmp_path: Path,
) -> None:
    school = _school()
    expected = [
        key for key, _n in school.problems.groupby(["subject", "rule", "column"]).size().items()
    ]
    assert expected, "the school should break a rule"
    assert _failed(school) == expected
    assert _failed(stage_school(school, tmp_path / "s", root=tmp_path)) == expected


def test_a_problem_without_a_column_names_no_assertion() -> None:
    school = _school()
    problems = school.problems.copy()
    problems.loc[:, "column"] = pd.Series([None] * len(problems), dtype="str")
    assert _failed(replace(school, problems=problems)) == []
