"""Approving a held delivery from the Prefect UI: the run pauses, a person resumes it.

The flow runs in this process against a temporary Prefect API (prefect_test_harness); the
test plays the person in the UI by resuming the paused run with the form's input, the same
API call the UI's Resume button makes.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sluis_cli import halve

pytestmark = pytest.mark.prefect

REPO = Path(__file__).resolve().parents[2]


def _paused_run(timeout: float) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                )
            )
            if runs:
                return runs[0]
            time.sleep(0.5)
    raise AssertionError("the run never paused for approval")


def test_a_held_delivery_is_released_from_the_ui_with_the_approvers_name_and_blocks_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.flow_runs import resume_flow_run
    from prefect.testing.utilities import prefect_test_harness

    import pipelines.approval
    from lineage.audit import AuditLog
    from lineage.store import LineageStore
    from pipelines.flows import SyncRequest, sync

    monkeypatch.setattr(pipelines.approval, "POLL_SECONDS", 1)
    samples = tmp_path / "samples"
    shutil.copytree(REPO / "data" / "samples", samples)
    request = {
        "source": str(samples),
        "drop": str(tmp_path / "drop"),
        "state": str(tmp_path / "state"),
        "suppliers": ["basispoort"],
    }
    with prefect_test_harness(server_startup_timeout=180):
        first = sync(SyncRequest(**request, trigger="ui"), return_state=True)
        assert first.is_completed(), first.message
        halve(samples / "53NC" / "EDEX.XML")
        result: dict[str, Any] = {}

        def held_run() -> None:
            state = sync(
                SyncRequest(**request, trigger="ui", approval_wait_minutes=5), return_state=True
            )
            result["state"] = state

        worker = threading.Thread(target=held_run)
        worker.start()
        paused = _paused_run(timeout=120)
        resume_flow_run(paused.id, run_input={"approve": True, "approver": "Juf Anna"})
        worker.join(timeout=180)
        assert not worker.is_alive()
        state = result["state"]
        assert state.is_completed(), state.message
        summary = state.result()
        assert summary["held"] == []  # released, so nothing is left on hold

        # An SFTP secret can live in a Prefect Secret block on the server instead of .env.
        from prefect.blocks.system import Secret

        from pipelines.drops import lookup_secret
        from pipelines.settings import Settings

        Secret(value="sftp-wachtwoord-uit-prefect").save("leverancier-sftp", overwrite=True)
        found = lookup_secret("leverancier-sftp", Settings(state_dir=tmp_path / "state"))
        assert found.get_secret_value() == "sftp-wachtwoord-uit-prefect"

    manifests = sorted((tmp_path / "drop" / "basispoort").glob("*/manifest.json"))
    schools = [json.loads(m.read_text())["school"] for m in manifests]
    assert schools.count("53NC") == 2  # the first delivery and the approved one
    store = LineageStore(f"sqlite:///{tmp_path / 'state' / 'lineage.db'}")
    try:
        entries = [e for e in AuditLog(store.engine).entries() if e.action == "delivery_approved"]
        assert [e.actor for e in entries] == ["prefect-ui:Juf Anna"]
        statuses = {d.status for d in store.deliveries_of("basispoort", statuses=("held",))}
        assert statuses == set()
    finally:
        store.dispose()
