"""The held-delivery check of every recorded outcome costs the same however long the history."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

import lineage.queries as queries_module
from lineage.store import LineageStore
from pipelines.delivery import DeliveryOutcome
from pipelines.holds import record_outcome
from pipelines.settings import Settings

RUN = "00000000-0000-4000-8000-000000000001"
AT = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
COUNTS = {"input": 1, "delivered": 1, "withheld": {}, "quarantined": 0}


def _history(store: LineageStore, schools: int) -> None:
    """A held delivery for each of `schools` other schools, and delivered ones beside them."""
    store.start_run(
        RUN, started_at=AT, trigger="test", dry_run=False, parameters={}, sluis_version="test"
    )
    for n in range(schools):
        for status in ("held", "delivered"):
            store.record_delivery(
                RUN,
                delivery_id=f"leverancier:{status}-{n:02d}xx",
                supplier="leverancier",
                school=f"{n:02d}XX",
                agreement_sha256="0" * 64,
                agreement_reference="ref",
                fields=["leerlingkey"],
                mode="full",
                counts=COUNTS,
                files=[],
                manifest_sha256=None,
                location=None,
                status=status,
                created_at=AT,
            )


def _settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state", drop_dir=tmp_path / "drop")


def test_recording_an_outcome_reads_no_held_delivery_of_another_school(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    _history(store, schools=30)
    read: list[str] = []
    snapshot = queries_module._delivery_snapshot

    def counting(row: Any) -> Any:
        read.append(row.school)
        return snapshot(row)

    monkeypatch.setattr(queries_module, "_delivery_snapshot", counting)
    outcome = DeliveryOutcome(
        supplier="leverancier",
        school="99ZZ",
        status="nothing_to_deliver",
        delivery_id=None,
        mode="full",
        fields=(),
        counts=COUNTS,
        agreement_sha256="0" * 64,
        agreement_reference="ref",
    )
    record_outcome(store, settings, RUN, outcome, AT)
    assert read == []  # on a history of 30 other schools' holds, none is read


def test_a_schools_older_hold_is_still_superseded(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    _history(store, schools=3)
    outcome = DeliveryOutcome(
        supplier="leverancier",
        school="01XX",
        status="nothing_to_deliver",
        delivery_id=None,
        mode="full",
        fields=(),
        counts=COUNTS,
        agreement_sha256="0" * 64,
        agreement_reference="ref",
    )
    record_outcome(store, settings, RUN, outcome, AT)
    held = store.deliveries_of("leverancier", statuses=("held",))
    assert sorted(d.school for d in held) == ["00XX", "02XX"]
    assert [d.school for d in store.deliveries_of("leverancier", statuses=("superseded",))] == [
        "01XX"
    ]


def test_the_held_delivery_check_reads_through_an_index_led_by_status(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    _history(store, schools=3)
    statements: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "deliveries" in statement:
            statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", keep)
    store.deliveries_of("leverancier", statuses=("held",), school="01XX")
    event.remove(store.engine, "before_cursor_execute", keep)
    [(statement, parameters)] = statements
    with store.engine.connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    details = " ".join(str(row[-1]) for row in plan)
    assert "ix_deliveries_status_supplier_school" in details, details


def _outcome(school: str) -> DeliveryOutcome:
    return DeliveryOutcome(
        supplier="leverancier",
        school=school,
        status="nothing_to_deliver",
        delivery_id=None,
        mode="full",
        fields=(),
        counts=COUNTS,
        agreement_sha256="0" * 64,
        agreement_reference="ref",
    )


def test_recording_a_batch_reads_the_held_deliveries_once_through_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.holds import record_outcomes

    settings = _settings(tmp_path)
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    _history(store, schools=30)
    read: list[str] = []
    snapshot = queries_module._delivery_snapshot

    def counting(row: Any) -> Any:
        read.append(row.school)
        return snapshot(row)

    statements: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM deliveries" in statement:
            statements.append((statement, parameters))

    monkeypatch.setattr(queries_module, "_delivery_snapshot", counting)
    event.listen(store.engine, "before_cursor_execute", keep)
    # Ten schools without a hold and two with one: only those two holds are read.
    batch = [_outcome(f"{n}ZZ") for n in range(10, 20)] + [_outcome("03XX"), _outcome("07XX")]
    record_outcomes(store, settings, RUN, batch, AT)
    event.remove(store.engine, "before_cursor_execute", keep)
    assert sorted(read) == ["03XX", "07XX"]
    [(statement, parameters)] = [s for s in statements if "deliveries.status = " in s[0]]
    with store.engine.connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    details = " ".join(str(row[-1]) for row in plan)
    assert "ix_deliveries_status_supplier_school" in details, details
    superseded = store.deliveries_of("leverancier", statuses=("superseded",))
    assert sorted(d.school for d in superseded) == ["03XX", "07XX"]
