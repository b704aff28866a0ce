"""A batch shared by every supplier: built once, and each supplier gets what it got alone.

The deliver tasks of one batch run in one process and pass the same SchoolBatch (see
pipelines/tasks.py); its pupils, standing consents and membership ids must be built by
the first agreement only, and no agreement may see anything of another's work.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from builders import make_consents, make_export, own_file, pupil

import policy.batch
from contracts.agreements import BUNDLED_AGREEMENTS, load_agreement
from contracts.validation import ValidatedSchool, validate_schools
from policy.apply import apply_agreement_batch, row_hashes
from policy.batch import SchoolBatch

TODAY = date(2026, 11, 28)
YEAR = "2026-2027"
SECRET = b"0123456789abcdef0123456789abcdef"
MEMBERS = b"fedcba9876543210fedcba9876543210"


def _schools() -> list[ValidatedSchool]:
    items = [
        (
            make_export(
                [pupil("1"), pupil("2"), pupil("3", groepskey="G4")], school={"brincode": "07XY"}
            ),
            make_consents(
                [
                    ("1", YEAR, "beeldmateriaal_website", "ja", "2026-09-01"),
                    ("2", YEAR, "beeldmateriaal_website", "ja", "2026-09-01"),
                    ("2", YEAR, "beeldmateriaal_website", "nee", "2026-10-01"),
                    ("3", YEAR, "deelname_onderzoek", "ja", "2026-09-01"),
                ]
            ),
        ),
        # The same keys at another school: other pupils, other consent.
        (
            make_export([pupil("1"), pupil("2")], school={"brincode": "08AB"}),
            make_consents([("2", YEAR, "beeldmateriaal_website", "ja", "2026-09-01")]),
        ),
    ]
    return validate_schools([(own_file(e), c) for e, c in items], today=TODAY)


def _agreements() -> list:
    return [load_agreement(p).agreement for p in sorted(BUNDLED_AGREEMENTS.glob("*.yaml"))]


def _same(left: list, right: list) -> None:
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        pd.testing.assert_frame_equal(a.frame, b.frame)
        assert a.counts == b.counts
        pd.testing.assert_series_equal(a.delivered_keys, b.delivered_keys)
        pd.testing.assert_series_equal(a.withheld, b.withheld)
        pd.testing.assert_series_equal(a.delivered_ids, b.delivered_ids)
        pd.testing.assert_series_equal(a.delivered_row_hashes, b.delivered_row_hashes)


def test_every_supplier_gets_from_a_shared_batch_what_it_gets_alone() -> None:
    schools = _schools()
    shared = SchoolBatch(schools)
    delivered = 0
    for agreement in _agreements():
        kwargs = {"today": TODAY, "secret": SECRET, "membership_secret": MEMBERS}
        alone = apply_agreement_batch(list(schools), agreement, **kwargs)
        _same(apply_agreement_batch(shared, agreement, **kwargs), alone)
        delivered += sum(len(cut.frame) for cut in alone)
    assert delivered > 0


def test_row_hashes_of_a_batch_are_those_of_each_school_frame() -> None:
    for agreement in _agreements():
        cuts = apply_agreement_batch(
            _schools(), agreement, today=TODAY, secret=SECRET, membership_secret=MEMBERS
        )
        for cut in cuts:
            pd.testing.assert_series_equal(
                cut.delivered_row_hashes, row_hashes(cut.frame, MEMBERS), check_index=False
            )


def test_the_batch_is_read_once_for_every_supplier(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"standing": 0, "ids": 0}
    standing, ids = policy.batch.current_consents, policy.batch.member_ids

    def counted_standing(*args: object, **kwargs: object) -> pd.DataFrame:
        calls["standing"] += 1
        return standing(*args, **kwargs)  # type: ignore[arg-type]

    def counted_ids(*args: object, **kwargs: object) -> pd.Series:
        calls["ids"] += 1
        return ids(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(policy.batch, "current_consents", counted_standing)
    monkeypatch.setattr(policy.batch, "member_ids", counted_ids)
    shared = SchoolBatch(_schools())
    agreements = _agreements()
    for agreement in agreements:
        apply_agreement_batch(
            shared, agreement, today=TODAY, secret=SECRET, membership_secret=MEMBERS
        )
    assert len(agreements) > 1
    assert calls == {"standing": 1, "ids": 1}
    # Another membership secret is other ids: those are built anew, never reused.
    other = b"x" * 32
    assert not shared.member_ids(other).equals(shared.member_ids(MEMBERS))
    assert calls["ids"] == 2
