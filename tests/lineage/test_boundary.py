"""Lineage's boundary types refuse a pupil value without ever repeating it."""

from __future__ import annotations

import traceback
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from lineage import values
from lineage.values import boundary, check

NAME = "Jan de Vries"
BSN = "123456782"
RUN = str(uuid.uuid4())
DIGEST = "a" * 64

# Per boundary type, a value holding a pupil's name or BSN that the type refuses.
REFUSED: list[tuple[Any, object]] = [
    (values.RunKey, NAME),
    (values.RunKey, BSN),
    (values.UtcTime, f"{BSN} {NAME}"),
    (values.UtcTime, datetime(2025, 9, 1)),  # naive: the refusal is about the time zone
    (values.Flag, BSN),
    (values.Count, BSN),
    (values.Count, -int(BSN)),
    (values.Name, NAME),
    (values.Name, BSN * 8),
    (values.Token, NAME),
    (values.FieldName, NAME),
    (values.FieldName, BSN),
    (values.Sha256, BSN),
    (values.Sha256, NAME),
    (values.SingleLine, f"{NAME}\n{BSN}"),
    (values.Location, f"sftp://jan:{BSN}@host/{NAME}"),
    (values.Location, f"{NAME}\n"),
    (values.Reference, f"{NAME}\n{BSN}"),
    (values.Reference, NAME * 20),
    (values.Actor, f" {NAME}"),
    (values.Actor, f"{NAME}\t{BSN}"),
    (values.AuditKey, BSN.encode()),
    (values.Message, BSN.encode()),
    (values.DeliveryStatusCode, NAME),
    (values.DeliveryModeCode, BSN),
    (values.SeverityCode, NAME),
    (values.EndStatusCode, BSN),
    (values.FieldNames, [NAME]),
    (values.FieldNames, NAME),
    (values.Counts, {"input": BSN, "delivered": 0, "withheld": {}, "quarantined": 0}),
    (values.Counts, {"input": 1, "delivered": 0, "withheld": {NAME: 1}, "quarantined": 0}),
    (values.DeliveredFiles, [{"name": NAME, "sha256": DIGEST, "rows": 1}]),
    (values.DeliveredFiles, [{"name": "a.csv", "sha256": BSN, "rows": 1}]),
    (values.RunParameters, {"drop": f"sftp://jan:{BSN}@host/{NAME}"}),
    (values.RunParameters, {"bsn": {BSN}}),
    (values.Details, {NAME.replace(" ", "_"): BSN, "note": f"{NAME}\n"}),
    (values.Details, {"bsn": float(BSN)}),
    (values.Sha256s, [DIGEST, NAME]),
    (values.Sha256s, BSN),
    (values.Names, ["04AB", NAME]),
    (values.DeliveryIds, [BSN, NAME]),
    (values.DeliveryStatusCodes, ["delivered", NAME]),
]


def _everything_said(exc: BaseException) -> str:
    """Every text the exception carries: itself, its chain and its printed traceback."""
    said = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    seen = exc.__cause__ or exc.__context__
    while seen is not None:
        said += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(said)


@pytest.mark.parametrize(("kind", "value"), REFUSED)
def test_a_refused_pupil_value_appears_nowhere_in_the_error(kind: Any, value: object) -> None:
    with pytest.raises(ValueError, match=r"must|repeat") as raised:
        check(kind, value, "the argument")
    exc = raised.value
    assert exc.__cause__ is None
    assert exc.__context__ is None
    said = _everything_said(exc)
    for secret in (NAME, BSN, NAME.replace(" ", "_"), NAME.split()[0]):
        assert secret not in said


@boundary(labels={"hashes": "each pupil hash"})
def _entry_point(
    run_id: values.RunKey,
    *,
    school: values.Name,
    hashes: values.Sha256s,
    at: values.UtcTime | None = None,
    extra: object = None,
) -> tuple[str, str, list[str], datetime | None, object]:
    return run_id, school, list(hashes), at, extra


def test_a_boundary_hands_the_function_the_values_as_their_types_make_them() -> None:
    upper = RUN.upper()
    at = datetime(2025, 9, 1, 10, tzinfo=UTC)
    marker = object()
    run, school, hashes, when, extra = _entry_point(
        upper, school="04AB", hashes=iter(["A" * 64]), at=at, extra=marker
    )
    assert (run, school, hashes, when) == (RUN, "04AB", [DIGEST], at)
    assert extra is marker  # not a boundary type: passed untouched


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"school": NAME, "hashes": []}, "school must be an id of at most 63"),
        ({"school": "04AB", "hashes": [DIGEST, BSN]}, "each pupil hash must be a SHA-256"),
        ({"school": "04AB", "hashes": NAME}, "hashes must be an iterable of pupil hashes"),
        ({"school": "04AB", "hashes": [], "at": datetime(2025, 9, 1)}, "at must be a timezone"),
    ],
)
def test_a_boundary_names_the_argument_and_never_the_value(
    arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        _entry_point(RUN, **arguments)
    said = _everything_said(raised.value)
    assert NAME not in said
    assert BSN not in said


def test_a_boundary_refuses_in_signature_order() -> None:
    with pytest.raises(ValueError, match=r"^run_id must be a UUID string$"):
        _entry_point(NAME, school=NAME, hashes=NAME)


def test_ids_refuse_a_trailing_line_break_as_fullmatch_did() -> None:
    for kind in (values.Name, values.Token, values.FieldName, values.Sha256):
        with pytest.raises(ValueError, match="must be"):
            check(kind, ("a" * 64 if kind is values.Sha256 else "abc") + "\n", "it")


def test_boundary_types_do_not_convert_lax_values() -> None:
    for kind, value in [
        (values.Count, "3"),
        (values.Count, True),
        (values.Flag, 1),
        (values.Name, 3),
        (values.UtcTime, "2025-09-01T00:00:00Z"),
        (values.AuditKey, bytearray(16)),
    ]:
        with pytest.raises(ValueError, match="must"):
            check(kind, value, "it")


def test_a_function_without_a_boundary_type_cannot_be_declared_a_boundary() -> None:
    def plain(name: str) -> str:
        return name

    with pytest.raises(TypeError, match="no parameter of a boundary type"):
        boundary(plain)
