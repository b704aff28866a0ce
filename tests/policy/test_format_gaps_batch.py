"""Format gaps judged once for a batch come out as they do school by school.

Staging asks `format_gaps_per_school` once per agreement for a whole batch; the report
must list, per school, the same rows in the same order as asking for that school alone
(need by need, pupil by pupil), and nothing for a school without gaps.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from builders import make_consents, make_export, own_file, pupil

from contracts.agreements import BUNDLED_AGREEMENTS, load_agreement
from contracts.validation import ValidatedSchool, validate_schools
from policy.format_needs import format_gaps, format_gaps_per_school

TODAY = date(2026, 11, 28)


def _batch() -> list[ValidatedSchool]:
    exports = [
        make_export(
            [
                pupil("1"),
                pupil("2", achternaam=None),
                pupil("3", roepnaam=None, achternaam=None),  # quarantined: no name at all
                pupil("4", achternaam=None, uitstroomdatum="2026-01-31"),  # left: no gap
            ],
            school={"brincode": "07XY"},
        ),
        make_export([pupil("1")], school={"brincode": "08AB"}),  # no gaps
        make_export([], school={"brincode": "09CD"}),  # nobody
        make_export(
            [pupil("7", roepnaam=None), pupil("8", achternaam=None), pupil("9")],
            school={"brincode": "10EF"},
        ),
    ]
    exports = [own_file(e) for e in exports]
    return validate_schools([(e, make_consents([])) for e in exports], today=TODAY)


def test_a_batch_splits_into_what_each_school_gets_alone() -> None:
    schools = _batch()
    agreements = [
        load_agreement(path).agreement for path in sorted(BUNDLED_AGREEMENTS.glob("*.yaml"))
    ]
    found_any = 0
    for agreement in agreements:
        per_school = format_gaps_per_school(schools, agreement, TODAY)
        assert len(per_school) == len(schools)
        for school, got in zip(schools, per_school, strict=True):
            alone = format_gaps([school], [agreement], TODAY)
            assert got.empty == alone.empty, (agreement.id, school.brincode)
            if not alone.empty:
                found_any += len(alone)
                pd.testing.assert_frame_equal(got, alone)
                assert set(got["brincode"]) == {school.brincode}
    # The batch has gaps for at least one shipped format, or this test would prove nothing.
    assert found_any > 0


def test_the_whole_batch_lists_agreement_then_school_then_need() -> None:
    schools = _batch()
    rekenapp = load_agreement(BUNDLED_AGREEMENTS / "rekenapp.yaml").agreement
    report = format_gaps(schools, [rekenapp], TODAY)
    assert report["brincode"].tolist() == sorted(report["brincode"].tolist())
    assert report.loc[report["brincode"] == "07XY", "leerlingkey"].tolist() == ["2"]
    assert "4" not in report["leerlingkey"].tolist()
    assert report.loc[report["brincode"] == "10EF", "leerlingkey"].tolist() == ["7", "8"]
