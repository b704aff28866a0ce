"""Progress of a run over several schools: a rich bar on a terminal, plain lines elsewhere.

The flow reports what it finished (schools read, deliveries done) to whatever is
`showing`; a run started by the CLI shows it, a served run (no terminal) reports to
nobody and has Prefect's logs. Counts and stages only: never a pupil value.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from connectors.i18n import N_, _

__all__ = ["RunProgress", "TerminalProgress", "current", "showing"]

# The stages are keys the flow reports under; each is translated where it is shown.
READ = N_("exports gelezen")
DELIVERED = N_("leveringen klaar")


class RunProgress(Protocol):
    """What the flow tells about its progress."""

    def start(self, schools: int, deliveries: int) -> None:
        """The run reads `schools` exports, then makes `deliveries` supplier-school deliveries."""

    def advance(self, stage: str, steps: int = 1) -> None:
        """`steps` more of `stage` (READ or DELIVERED) are done."""

    def close(self) -> None:
        """The run ended, however it ended."""


class _Nobody:
    def start(self, schools: int, deliveries: int) -> None:
        return None

    def advance(self, stage: str, steps: int = 1) -> None:
        return None

    def close(self) -> None:
        return None


class TerminalProgress:
    """Shows progress on `console`: a bar when it is a terminal, plain lines otherwise.

    Only for a run over several schools: one school is done before a bar would say much.
    """

    def __init__(self, console: Console) -> None:
        """Show on `console`; whether it is a terminal decides bar or lines."""
        self.console = console
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._totals: dict[str, int] = {}
        self._done: dict[str, int] = {}

    def start(self, schools: int, deliveries: int) -> None:
        """See RunProgress.start."""
        if schools < 2:
            return
        self._totals = {READ: schools, DELIVERED: deliveries}
        self._done = {READ: 0, DELIVERED: 0}
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=self.console,
                transient=True,
            )
            self._tasks = {
                stage: self._progress.add_task(_(stage), total=total)
                for stage, total in self._totals.items()
            }
            self._progress.start()

    def advance(self, stage: str, steps: int = 1) -> None:
        """See RunProgress.advance."""
        if stage not in self._totals:
            return
        self._done[stage] += steps
        if self._progress is not None:
            self._progress.advance(self._tasks[stage], steps)
            return
        # Not "sluis: ...": that prefix marks the one line of an error on stderr.
        self.console.print(
            _("voortgang: {done} van {total} {stage}").format(
                done=self._done[stage], total=self._totals[stage], stage=_(stage)
            ),
            markup=False,
            highlight=False,
        )

    def close(self) -> None:
        """See RunProgress.close."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


_current: list[RunProgress] = [_Nobody()]


def current() -> RunProgress:
    """Where the running flow reports its progress (nobody, unless a CLI run shows it)."""
    return _current[-1]


@contextmanager
def showing(progress: RunProgress) -> Iterator[RunProgress]:
    """Report the progress of the runs started inside the block to `progress`."""
    _current.append(progress)
    try:
        yield progress
    finally:
        _current.remove(progress)
        progress.close()
