"""What `sluis approve` and `sluis redeliver` print: one line per published delivery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines import cli_admin, holds
from pipelines.holds import Released

PUBLISHED = [
    Released("basispoort", "53NC", "20261128t020000z-53nc-0b6c9d0e", "/drop/basispoort/a"),
    Released("basispoort", "27ZX", "20261128t020000z-27zx-0b6c9d0e", "/drop/basispoort/b"),
]


def test_approve_names_each_released_delivery_its_school_and_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(holds, "approve", lambda *args: PUBLISHED)
    cli_admin.approve("run-1", "basispoort", door="ict", state=tmp_path, db="sqlite://")
    assert capsys.readouterr().out.splitlines() == [
        "Vrijgegeven: 20261128t020000z-53nc-0b6c9d0e (53NC) naar /drop/basispoort/a",
        "Vrijgegeven: 20261128t020000z-27zx-0b6c9d0e (27ZX) naar /drop/basispoort/b",
    ]


def test_redeliver_names_each_delivery_it_published_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def again(*args: Any, **kwargs: Any) -> list[Released]:
        return PUBLISHED

    monkeypatch.setattr(holds, "redeliver", again)
    cli_admin.redeliver("basispoort", None, door="ict", state=tmp_path, db="sqlite://")
    assert capsys.readouterr().out.splitlines() == [
        "Opnieuw geleverd: 20261128t020000z-53nc-0b6c9d0e (53NC) naar /drop/basispoort/a",
        "Opnieuw geleverd: 20261128t020000z-27zx-0b6c9d0e (27ZX) naar /drop/basispoort/b",
    ]
