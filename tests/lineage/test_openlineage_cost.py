"""The COMPLETE event's work grows with the run, not with its square."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, overload

from lineage.openlineage import AssertionSpec, InputSpec, complete_event, export_fields

AT = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
RUN = "0193a4f1-2c3d-7e4f-8a5b-6c7d8e9f0a1b"
NAMESPACE = "file://sluis-test"


class CountingAssertions(Sequence[AssertionSpec]):
    """A sequence of assertions that counts how often it is read from start to end."""

    def __init__(self, items: list[AssertionSpec]) -> None:
        self.items = items
        self.passes = 0

    def __iter__(self) -> Iterator[AssertionSpec]:
        self.passes += 1
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, index: int) -> AssertionSpec: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[AssertionSpec]: ...
    def __getitem__(self, index: Any) -> Any:
        return self.items[index]


def _inputs(schools: int) -> list[InputSpec]:
    return [
        InputSpec(NAMESPACE, f"/exports/{n:04d}/EDEX.XML", export_fields()) for n in range(schools)
    ]


def test_the_complete_event_reads_the_assertions_once_however_many_inputs() -> None:
    inputs = _inputs(40)
    assertions = CountingAssertions(
        [AssertionSpec("leerlingkey_unique", True, dataset=spec.ref) for spec in inputs]
    )
    event = complete_event(RUN, event_time=AT, inputs=inputs, outputs=[], assertions=assertions)
    assert assertions.passes == 1  # one pass per input would be 41
    assert len(event.inputs or []) == 40


def test_each_input_keeps_its_own_and_the_runs_assertions_in_their_order() -> None:
    inputs = _inputs(3)
    a, b = inputs[0].ref, inputs[1].ref
    given = [
        AssertionSpec("r1", True, dataset=b),
        AssertionSpec("all1", True),
        AssertionSpec("r2", False, "eckid", dataset=a),
        AssertionSpec("r3", True, dataset=b),
        AssertionSpec("all2", False),
    ]
    event = complete_event(RUN, event_time=AT, inputs=inputs, outputs=[], assertions=given)
    got = {
        d.name: [x.assertion for x in d.inputFacets["dataQualityAssertions"].assertions]  # type: ignore[index,union-attr]
        for d in event.inputs or []
    }
    assert got == {
        inputs[0].name: ["all1", "r2", "all2"],
        inputs[1].name: ["r1", "all1", "r3", "all2"],
        inputs[2].name: ["all1", "all2"],
    }
