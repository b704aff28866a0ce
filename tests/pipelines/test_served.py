"""Against a real Prefect server: `sluis serve`, a run started like the UI's Run button.

Starts `prefect server start` on a free port with its own PREFECT_HOME, then `sluis serve`
against it; triggers a school's deployment through the REST call the UI makes, waits for
the run, and checks its state, its drops and artifacts, and that no pupil name, birth date
or BSN from the input is anywhere in the server's database. Stopping `sluis serve` must
leave the schedules active. Everything started here is stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

pytestmark = pytest.mark.prefect

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


class _RetryingTransport(httpx.HTTPTransport):
    """Retry what the server itself calls retryable, as Prefect's own client does.

    On SQLite, Prefect's server answers 503 when its database is busy (another writer:
    the scheduler, `sluis serve` registering or polling); its client retries 429/502/503
    with backoff, and so must a test speaking plain HTTP to it.
    """

    RETRY_ON = frozenset({429, 502, 503})

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in range(8):
            response = super().handle_request(request)
            if response.status_code not in self.RETRY_ON:
                return response
            response.close()
            time.sleep(min(0.25 * 2**attempt, 5))
        return super().handle_request(request)


def _wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Served:
    root: Path
    api: httpx.Client
    env: dict[str, str]
    serve: subprocess.Popen[bytes]
    server_log: Path
    serve_log: Path

    def deployments(self) -> list[dict[str, Any]]:
        response = self.api.post("/deployments/filter", json={})
        response.raise_for_status()
        return list(response.json())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    shutil.copytree(REPO / "data" / "samples", root / "samples")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLUIS_", "PREFECT_"))}
    env.update(
        PREFECT_HOME=str(root / "prefect"),
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        SLUIS_SOURCE=str(root / "samples"),
        SLUIS_DROP_DIR=str(root / "drop"),
        SLUIS_STATE_DIR=str(root / "state"),
    )
    server_log = root / "server.log"
    serve_log = root / "serve.log"
    prefect = str(Path(sys.executable).parent / "prefect")
    server_out = server_log.open("wb")
    serve_out = serve_log.open("wb")
    server = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=root,
        stdout=server_out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    serve: subprocess.Popen[bytes] | None = None
    api = httpx.Client(base_url=env["PREFECT_API_URL"], timeout=30, transport=_RetryingTransport())
    try:
        _wait_for(lambda: api.get("/health").status_code == 200, 180, "the Prefect server")
        serve = subprocess.Popen(
            [sys.executable, "-m", "pipelines", "serve"],
            env=env,
            cwd=root,
            stdout=serve_out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        served = Served(root, api, env, serve, server_log, serve_log)
        _wait_for(lambda: len(served.deployments()) == 2, 180, "the two school deployments")
        yield served
    finally:
        if serve is not None:
            _stop(serve)
        _stop(server)
        api.close()
        server_out.close()
        serve_out.close()


@pytest.fixture(scope="module")
def ui_run(served: Served) -> dict[str, Any]:
    """A run of school 27ZX started the way the UI's Run button starts it."""
    [deployment] = [d for d in served.deployments() if d["name"] == "school-27zx"]
    created = served.api.post(f"/deployments/{deployment['id']}/create_flow_run", json={})
    created.raise_for_status()
    run_id = created.json()["id"]

    def finished() -> dict[str, Any] | None:
        run = served.api.get(f"/flow_runs/{run_id}").json()
        return run if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED") else None

    return dict(_wait_for(finished, 300, "the flow run to finish"))


def test_a_run_started_from_the_ui_completes_and_delivers_its_school(
    served: Served, ui_run: dict[str, Any]
) -> None:
    assert ui_run["state"]["type"] == "COMPLETED", served.serve_log.read_text()[-3000:]
    assert ui_run["name"] == "sync-27zx-ui"
    manifests = sorted((served.root / "drop").glob("*/*/manifest.json"))
    assert {m.parent.parent.name for m in manifests} == {
        "basispoort",
        "bestuur",
        "onderzoek",
        "nieuwsbrief",
        "parro",
        "rekenapp",
        "schoolwebsite",
    }
    assert all("-27zx-" in m.parent.name for m in manifests)  # only the school it is for


def test_the_run_publishes_its_artifacts(served: Served, ui_run: dict[str, Any]) -> None:
    response = served.api.post(
        "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [ui_run["id"]]}}}
    )
    response.raise_for_status()
    by_key = {a["key"]: a for a in response.json()}
    assert by_key["sluis-deliveries"]["type"] == "table"
    assert by_key["sluis-quarantine"]["type"] == "markdown"
    # Prefect stores a link artifact as markdown holding the link.
    assert "quarantine.html" in str(by_key["sluis-quarantine-report"]["data"])
    assert "basispoort" in str(by_key["sluis-deliveries"]["data"])
    # The audit log's head, kept outside Sluis' database as an anchor of the log.
    assert "sluis audit verify --head " in str(by_key["sluis-audit-head"]["data"])


def test_task_runs_are_named_after_school_and_supplier(
    served: Served, ui_run: dict[str, Any]
) -> None:
    response = served.api.post(
        "/task_runs/filter", json={"flow_runs": {"id": {"any_": [ui_run["id"]]}}}
    )
    names = {t["name"] for t in response.json()}
    assert {"prepare-27zx", "deliver-basispoort-27zx", "deliver-rekenapp-27zx"} <= names


def _input_values() -> set[str]:
    values: set[str] = set()
    for path in sorted((REPO / "data" / "samples").glob("*/EDEX.XML")):
        tree = etree.parse(str(path))
        for tag in ("achternaam", "geboortedatum", "bsn"):
            values |= {
                e.text.strip()
                for e in tree.iterfind(f".//leerling/{tag}")
                if e.text and e.text.strip()
            }
    assert values
    return values


def test_no_pupil_name_birth_date_or_bsn_is_in_the_servers_database(
    served: Served, ui_run: dict[str, Any]
) -> None:
    database = served.root / "prefect" / "prefect.db"
    with sqlite3.connect(database) as db:
        dump = "\n".join(db.iterdump())
    found = {v for v in _input_values() if v in dump}
    assert found == set()


def test_stopping_serve_leaves_the_schedules_active(served: Served, ui_run: dict[str, Any]) -> None:
    _stop(served.serve)
    deployments = served.deployments()
    assert len(deployments) == 2
    for deployment in deployments:
        assert deployment["paused"] is False
        [schedule] = deployment["schedules"]
        assert schedule["active"] is True
        assert schedule["schedule"]["cron"] == "0 2 * * *"
        assert schedule["schedule"]["timezone"] == "Europe/Amsterdam"
        assert schedule["parameters"]["request"]["trigger"] == "schedule"
