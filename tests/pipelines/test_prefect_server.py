"""The temporary Prefect API server Sluis starts itself: timeout, retry, stop, death with the run.

Most of these replace the server's command with a stand-in (a process that never
answers, exits at once, or answers /api/health), so they cost a second, not Prefect's
start-up; test_killed_run.py kills a real `sluis run`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.errors import ConfigurationError
from pipelines import prefect_server
from pipelines.prefect_server import check_prefect_home, temporary_api

REPO = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[0] not in ("Z", "X")


def wait_until_gone(pids: list[int], seconds: float = 30) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    return tmp_path / "prefect"


def stand_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, code: str) -> Path:
    """Run `code` (with the port as argv[2]) instead of the server; it logs its pid.

    Each start is also counted on Sluis' side, in `tmp_path/starts`: on a loaded machine a
    stand-in may be stopped by a short timeout before its interpreter has logged its pid.
    """
    pids = tmp_path / "pids"
    script = (
        "import os, sys, time\n"
        "open(sys.argv[1], 'a').write(f'{os.getpid()}\\n')\n"
        "port = int(sys.argv[2])\n" + code
    )

    def command(port: int) -> list[str]:
        with (tmp_path / "starts").open("a") as starts:
            starts.write(f"{port}\n")
        return [sys.executable, "-c", script, str(pids), str(port)]

    monkeypatch.setattr(prefect_server, "_server_command", command)
    return pids


def pids_in(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()]


def test_a_server_that_never_answers_is_tried_twice_then_one_line_advises_a_real_one(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = stand_in(monkeypatch, tmp_path, "time.sleep(600)\n")
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "1")
    with pytest.raises(ConfigurationError) as caught, temporary_api():
        pytest.fail("the block must not run without a server")
    message = str(caught.value)
    assert "\n" not in message
    assert "antwoordde niet binnen 1 s; daarna antwoordde niet binnen 1 s" in message
    assert "prefect server start" in message
    assert "PREFECT_API_URL" in message
    assert str(home / "sluis-temporary-server.log") in message
    assert len((tmp_path / "starts").read_text().split()) == 2  # one retry
    started = pids_in(pids) if pids.exists() else []
    assert wait_until_gone(started) == []


def test_a_server_that_exits_at_start_up_is_reported_at_once_with_its_code(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prefect's own start-up loop spun for its whole timeout on a server that had died.
    stand_in(monkeypatch, tmp_path, "raise SystemExit(7)\n")
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "600")
    with (
        pytest.raises(ConfigurationError, match="stopte met exitcode 7; daarna stopte met"),
        temporary_api(),
    ):
        pass


HEALTHY = (
    "import http.server\n"
    "class Health(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200 if self.path == '/api/health' else 404)\n"
    "        self.end_headers()\n"
    "        self.wfile.write(b'true')\n"
    "    def log_message(self, *args):\n"
    "        pass\n"
    "http.server.HTTPServer(('127.0.0.1', port), Health).serve_forever()\n"
)


def test_the_server_is_prefects_own_while_the_block_runs_and_stopped_when_it_fails(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.server.api.server import SubprocessASGIServer

    pids = stand_in(monkeypatch, tmp_path, HEALTHY)
    seen: dict[str, object] = {}

    def failing_run() -> None:
        with temporary_api():
            server = SubprocessASGIServer()  # what Prefect's clients look up
            process = server.server_process
            seen.update(running=server.running, pid=process.pid if process else None)
            raise RuntimeError("the run failed")

    with pytest.raises(RuntimeError, match="the run failed"):
        failing_run()
    assert seen == {"running": True, "pid": pids_in(pids)[0]}
    assert wait_until_gone(pids_in(pids)) == []
    assert not SubprocessASGIServer().running


def test_the_server_dies_with_a_run_that_is_killed(tmp_path: Path) -> None:
    # A stand-in run: it starts a stand-in server through the launcher, says so, waits.
    ready = tmp_path / "ready"
    run = (
        "import subprocess, sys, time\n"
        "from pipelines.prefect_server import _launcher\n"
        "server = subprocess.Popen(_launcher([sys.executable, '-c', "
        "'import time; time.sleep(600)']))\n"
        f"time.sleep(0.5)\nopen({str(ready)!r}, 'w').write(str(server.pid))\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", run], cwd=REPO)
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    server = int(ready.read_text())
    try:
        assert alive(server)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert wait_until_gone([server]) == []
    finally:
        if alive(server):
            os.kill(server, signal.SIGKILL)


def test_a_prefect_home_that_cannot_be_created_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "not-there" / "prefect"
    monkeypatch.setenv("PREFECT_HOME", str(missing))
    with pytest.raises(ConfigurationError) as caught:
        check_prefect_home()
    assert f"PREFECT_HOME {missing} kan niet gemaakt worden" in str(caught.value)
    assert not missing.parent.exists()


def test_a_new_prefect_home_is_for_its_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    previous = os.umask(0o022)
    try:
        home = check_prefect_home()
    finally:
        os.umask(previous)
    assert home.stat().st_mode & 0o777 == 0o700


def test_a_prefect_api_url_nobody_answers_on_is_one_line_naming_the_setting() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://sluis:geheim@127.0.0.1:{port}/api"
    with (
        temporary_settings(updates={PREFECT_API_URL: url}),
        pytest.raises(ConfigurationError) as caught,
        temporary_api(),
    ):
        pass
    message = str(caught.value)
    assert f"de Prefect-API op http://127.0.0.1:{port} (PREFECT_API_URL) antwoordt niet" in message
    assert "geheim" not in message
