"""The temporary Prefect API server of a `sluis run` without PREFECT_API_URL, owned by Sluis.

Left to itself, Prefect starts this server on first use with a 20 s start-up timeout
(a fresh database needs 20-25 s on a busy 2-core school server), raises a RuntimeError
traceback when that passes, and leaves the server running when the run is killed. Sluis
starts it instead, before the flow, and registers it as Prefect's own (the one
`SubprocessASGIServer()` instance Prefect's clients look up), so that the server:

- gets PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS (120 s unless set) and one more
  attempt, and then one line that advises a real server;
- is stopped when the run ends in any way, by the `finally` of `temporary_api` (a
  SIGTERM or SIGINT that the run turns into an exception reaches it too);
- dies with a SIGKILLed run: it is started through this module, which asks Linux for
  SIGKILL on its parent's death (PR_SET_PDEATHSIG) and then execs the server;
- creates its database 0600 (umask 077) in a PREFECT_HOME that is 0700, and writes its
  output to PREFECT_HOME/sluis-temporary-server.log, not to the run's console.

`python -m pipelines.prefect_server PID -- COMMAND...` is that launcher.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.errors import ConfigurationError, shorten
from connectors.i18n import _
from connectors.private_files import make_private_file

__all__ = ["LOG_NAME", "check_prefect_home", "temporary_api"]

LOG_NAME = "sluis-temporary-server.log"
DEFAULT_STARTUP_TIMEOUT_SECONDS = 120
ATTEMPTS = 2
_TIMEOUT_SETTING = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_POLL_SECONDS = 0.25


def _advice() -> str:
    return _(
        "start een Prefect-server (prefect server start) en zet PREFECT_API_URL daarop, zoals "
        "in 'Production set-up' in de README"
    )


def prefect_home() -> Path:
    """PREFECT_HOME as Prefect reads it, without importing Prefect."""
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()


def check_prefect_home() -> Path:
    """Create PREFECT_HOME (0700) if it is missing; refuse at once one that cannot be.

    Called before Prefect is imported: Prefect only warns when it cannot create its home,
    and its server then fails to start its database over and over.

    Raises:
        ConfigurationError: PREFECT_HOME cannot be created, is not a folder or cannot be
            written; the message names it.
    """
    home = prefect_home()
    try:
        # Not its parents: a missing parent is a typo or an unmounted disk.
        os.mkdir(home, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigurationError(
            _(
                "PREFECT_HOME {home} kan niet gemaakt worden ({reason}); maak de bovenliggende "
                "map, of zet PREFECT_HOME op een map die gemaakt kan worden"
            ).format(home=shorten(home, 200), reason=exc.strerror or type(exc).__name__)
        ) from None
    else:
        os.chmod(home, 0o700)
    if not home.is_dir() or not os.access(home, os.W_OK | os.X_OK):
        raise ConfigurationError(
            _(
                "PREFECT_HOME {home} is geen map waarin deze gebruiker kan schrijven; zet "
                "PREFECT_HOME op zo'n map"
            ).format(home=shorten(home, 200))
        )
    return home


@contextlib.contextmanager
def temporary_api() -> Iterator[None]:
    """Make a Prefect API available for the `with` block, and stop what was started.

    With PREFECT_API_URL set, or a temporary server already running in this process,
    nothing is started.

    Raises:
        ConfigurationError: PREFECT_HOME cannot be used, temporary servers are switched
            off without PREFECT_API_URL, or the server did not start in two attempts.
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_ALLOW_EPHEMERAL_MODE

    url = PREFECT_API_URL.value()
    if url:
        _check_api(str(url))
        yield
        return
    if not PREFECT_SERVER_ALLOW_EPHEMERAL_MODE.value():
        raise ConfigurationError(
            _(
                "PREFECT_API_URL is niet gezet en PREFECT_SERVER_ALLOW_EPHEMERAL_MODE staat "
                "uit, dus er is geen Prefect-API om op te draaien; {advice}"
            ).format(advice=_advice())
        )
    from prefect.server.api.server import SubprocessASGIServer, subprocess_server_logger

    server = SubprocessASGIServer()  # the instance Prefect's own clients look up
    if server.running:
        yield
        return
    home = check_prefect_home()
    process, port = _start(home, _startup_timeout())
    # The line Prefect logs for its own temporary server, so the run's log reads the same.
    subprocess_server_logger.info(f"Starting temporary server on http://127.0.0.1:{port}")
    server.port = port
    server.server_process = process
    server.running = True
    try:
        yield
    finally:
        _drain_prefect_queues()
        server.stop()  # SIGTERM, then SIGKILL after 5 s; forgets the instance


def _check_api(url: str) -> None:
    """Refuse in one line a PREFECT_API_URL nobody answers on (Prefect: a traceback)."""
    parts = urllib.parse.urlsplit(url)
    try:
        where = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    except ValueError:  # a port that is not a number
        where = ""
    if parts.scheme not in ("http", "https") or not parts.hostname or not where:
        raise ConfigurationError(
            _(
                "PREFECT_API_URL is geen http(s)-URL; zet hem op de API van de Prefect-server, "
                "bijvoorbeeld http://127.0.0.1:4200/api"
            )
        )
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=10):  # noqa: S310
            return
    except urllib.error.HTTPError:
        return  # it answers; what it says is Prefect's to report
    except OSError as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigurationError(
            _(
                "de Prefect-API op {where} (PREFECT_API_URL) antwoordt niet ({reason}); "
                "controleer dat de Prefect-server draait (systemctl status prefect-server), "
                "of haal PREFECT_API_URL weg voor een tijdelijke"
            ).format(where=shorten(where, 80), reason=shorten(reason, 80))
        ) from None


def _startup_timeout() -> int:
    value = os.environ.get(_TIMEOUT_SETTING)
    if value is None:
        return DEFAULT_STARTUP_TIMEOUT_SECONDS
    try:
        seconds = int(value)
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise ConfigurationError(
            _("{setting} is {value}; zet het op een aantal seconden, bijvoorbeeld {n}").format(
                setting=_TIMEOUT_SETTING,
                value=repr(shorten(value)),
                n=DEFAULT_STARTUP_TIMEOUT_SECONDS,
            )
        )
    return seconds


def _start(home: Path, timeout: int) -> tuple[subprocess.Popen[bytes], int]:
    log_path = make_private_file(home / LOG_NAME)
    problems = []
    for _attempt in range(ATTEMPTS):
        port = _free_port()
        with log_path.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                _launcher(_server_command(port)),
                env=_server_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                # Its own process group: a Ctrl-C in the terminal reaches the run, which
                # then stops the server itself, after the flow has said how it ended.
                process_group=0,
            )
        problem = _wait_until_healthy(process, port, timeout)
        if problem is None:
            return process, port
        problems.append(problem)
        _stop(process)
    raise ConfigurationError(
        _(
            "de tijdelijke Prefect-API-server startte niet ({problems}; het log staat in "
            "{log}); {advice}"
        ).format(problems=_("; daarna ").join(problems), log=log_path, advice=_advice())
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _launcher(command: list[str]) -> list[str]:
    """`command`, started through this module so that it dies with this process."""
    return [sys.executable, "-m", "pipelines.prefect_server", str(os.getpid()), "--", *command]


def _server_command(port: int) -> list[str]:
    """The command Prefect itself runs for its temporary server (prefect 3.9)."""
    import prefect

    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(prefect.__module_path__.parent),
        "--factory",
        "prefect.server.api.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "error",
        "--lifespan",
        "on",
    ]


def _server_environment() -> dict[str, str]:
    from prefect.settings import get_current_settings

    return {
        **os.environ,
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
        **get_current_settings().to_environment_variables(exclude_unset=True),
    }


def _wait_until_healthy(process: subprocess.Popen[bytes], port: int, timeout: int) -> str | None:
    """None once /api/health answers; else what went wrong, for the message."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/api/health"
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            return _("stopte met exitcode {code}").format(code=code)
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return None
        except OSError:
            pass  # not listening yet (URLError and HTTP errors are OSErrors)
        time.sleep(_POLL_SECONDS)
    return _("antwoordde niet binnen {n} s").format(n=timeout)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _drain_prefect_queues() -> None:
    """Let Prefect send the logs and events it still holds, while the server is there."""
    with contextlib.suppress(Exception):
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=10)
        EventsWorker.drain_all(timeout=10)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies; exit if it already has."""
    if sys.platform.startswith("linux"):
        libc: Any = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    # The parent may have died before the request was made: no signal will come then.
    if os.getppid() != parent:
        os._exit(1)


def _main(argv: list[str]) -> None:
    parent, separator, *command = argv
    if separator != "--" or not command:
        raise SystemExit("usage: python -m pipelines.prefect_server PID -- COMMAND...")
    os.umask(0o077)  # prefect.db and its -wal and -shm: for the owner only
    _die_with_parent(int(parent))
    # exec keeps the pid (which the run stops), the death signal and the umask.
    os.execv(command[0], command)  # noqa: S606 - the command this module was given


if __name__ == "__main__":
    _main(sys.argv[1:])
