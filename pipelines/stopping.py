"""SIGTERM and SIGINT stop a run cleanly, and the step hook tests stop a process with.

The CLI installs `install()`: a signal raises RunStopped in the main thread, so every
`finally` runs (the temporary Prefect server is stopped, the run is marked aborted), and
sets a flag that keeps a worker thread from starting another delivery (`check`). A
delivery already being published finishes and is recorded: it is never left half-done.

`STEP_HOOK` is for tests only: a drop built by pipelines.drops and the delivery ledger
call `step` at every boundary of publishing, and a test sets the hook to stop there.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

from connectors.errors import RunStopped
from connectors.i18n import _

__all__ = [
    "AFTER_LINEAGE_COMMIT",
    "BEFORE_LINEAGE_COMMIT",
    "STEP_HOOK",
    "check",
    "install",
    "reclaim",
    "requested",
    "step",
]

BEFORE_LINEAGE_COMMIT = "before_lineage_commit"
AFTER_LINEAGE_COMMIT = "after_lineage_commit"

STEP_HOOK: Callable[[str], None] | None = None

_NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT"}
# The run this process started (set by the flow), so the CLI can still mark it aborted
# when a signal lands outside the flow's own code.
current_run: list[str] = []
_stop = threading.Event()
_installed = threading.Event()
_signum: list[int] = []


def step(name: str) -> None:
    """A step boundary of publishing was passed: tell the test hook, if one is set."""
    hook = STEP_HOOK
    if hook is not None:
        hook(name)


def _stopped(signum: int) -> RunStopped:
    name = _NAMES.get(signal.Signals(signum), f"signaal {signum}")
    return RunStopped(
        signum,
        _(
            "run gestopt door {signal}: geen levering is half gepubliceerd en de run staat "
            "als afgebroken vastgelegd; start hem opnieuw als de machine klaar is"
        ).format(signal=name),
    )


def requested() -> RunStopped | None:
    """The stop a signal asked for, or None."""
    return _stopped(_signum[0]) if _stop.is_set() and _signum else None


def check() -> None:
    """Raise RunStopped when a signal asked to stop: before a delivery starts."""
    stop = requested()
    if stop is not None:
        raise stop


def _handle(signum: int, frame: FrameType | None) -> None:
    if _stop.is_set():
        return  # one stop is enough; a second signal must not break the clean-up
    _signum.append(signum)
    _stop.set()
    raise _stopped(signum)


def install() -> None:
    """Make SIGTERM and SIGINT raise RunStopped in the main thread (the CLI's)."""
    for signum in _NAMES:
        signal.signal(signum, _handle)
    _installed.set()


def reclaim() -> None:
    """Inside the flow: take SIGTERM back from Prefect, when the CLI installed ours.

    Prefect's flow engine swaps in a handler that raises its own TerminationSignal, which
    Sluis' flow would not see as a stop: the run would stay `running` and the process
    would wait for its deliveries without recording it. Served runs keep Prefect's.
    """
    if _installed.is_set() and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _handle)
