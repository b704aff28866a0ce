"""Delivering and the commands after it live in rooms that fit in a head (issue 14, point 2).

The rooms share only public names, the old import paths still answer with the same
objects, and bench/measure.py's hooks (`delivery._render`, `delivery.apply_agreement_batch`)
still reach every delivery.
"""

from __future__ import annotations

import ast
import importlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from builders import make_consents, make_export, pupil

import pipelines.delivery as delivery
from connectors.drops.memory import MemoryDrop
from contracts.agreements import Agreement, LoadedAgreement
from contracts.validation import validate_school

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 600
ROOMS = [
    "delivery",
    "delivery_outcome",
    "delivery_delta",
    "delivery_staff",
    "delivery_publish",
    "holds",
    "recording",
    "delivery_retention",
]
# What callers import from the old paths, and the room each name lives in now.
OLD_PATHS = {
    "pipelines.delivery": {
        "DeliveryOutcome": "pipelines.delivery_outcome",
        "DeliveryTargets": "pipelines.delivery_outcome",
        "Ledger": "pipelines.delivery_outcome",
        "delivery_id_for": "pipelines.delivery_outcome",
        "identifier_columns": "pipelines.delivery_outcome",
        "deliver_schools": "pipelines.delivery",
    },
    "pipelines.holds": {
        "lineage_id": "pipelines.recording",
        "record_outcome": "pipelines.recording",
        "record_outcomes": "pipelines.recording",
        "supersede_all": "pipelines.recording",
        "supersede_holds": "pipelines.recording",
        "remove_expired_deliveries": "pipelines.delivery_retention",
        "approve": "pipelines.holds",
        "redeliver": "pipelines.holds",
        "Released": "pipelines.holds",
    },
}


def _source(room: str) -> str:
    return (ROOT / "pipelines" / f"{room}.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("room", ROOMS)
def test_every_delivery_room_stays_under_600_lines(room: str) -> None:
    lines = len(_source(room).splitlines())
    assert lines <= MAX_LINES, f"{room}.py: {lines} lines; split it along a seam"


@pytest.mark.parametrize("room", ROOMS)
def test_no_delivery_room_imports_another_ones_private_names(room: str) -> None:
    private = [
        f"{node.module}.{alias.name}"
        for node in ast.walk(ast.parse(_source(room)))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pipelines")
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert private == []


@pytest.mark.parametrize("old", sorted(OLD_PATHS))
def test_the_old_import_paths_answer_with_the_moved_names(old: str) -> None:
    module = importlib.import_module(old)
    moved = {
        name: getattr(module, name, None) is getattr(importlib.import_module(home), name)
        for name, home in OLD_PATHS[old].items()
    }
    assert moved == dict.fromkeys(OLD_PATHS[old], True)
    assert set(OLD_PATHS[old]) <= set(module.__all__)


def test_bench_hooks_on_the_delivery_module_reach_every_delivery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: dict[str, int] = {"render": 0, "apply": 0}
    render, apply = delivery._render, delivery.apply_agreement_batch

    def counted_render(*args: Any, **kwargs: Any) -> Any:
        calls["render"] += 1
        return render(*args, **kwargs)

    def counted_apply(*args: Any, **kwargs: Any) -> Any:
        calls["apply"] += 1
        return apply(*args, **kwargs)

    monkeypatch.setattr(delivery, "_render", counted_render)
    monkeypatch.setattr(delivery, "apply_agreement_batch", counted_apply)
    loaded = LoadedAgreement(
        agreement=Agreement.model_validate(
            {
                "id": "leverancier",
                "name": "Leverancier",
                "role": "verwerker",
                "legal_basis": {"type": "overeenkomst"},
                "agreement": {"reference": "VO-1", "valid_from": "2026-01-01"},
                "purpose": "Lesmateriaal",
                "identifier": "key",
                "fields": [{"name": "leerlingkey", "purpose": "koppelen"}],
            }
        ),
        path=Path("leverancier.yaml"),
        sha256="a" * 64,
    )
    today = date(2026, 11, 28)
    schools = [validate_school(make_export([pupil("1")]), make_consents([]), today=today)]
    outcomes = delivery.deliver_schools(
        schools,
        loaded,
        run_id="00000000-0000-4000-8000-000000000001",
        created_at=datetime(2026, 11, 28, 2, 0, tzinfo=UTC),
        secret=None,
        targets=delivery.DeliveryTargets(drop=MemoryDrop()),
    )
    assert [o.status for o in outcomes] == ["delivered"]
    assert calls == {"render": 1, "apply": 1}
