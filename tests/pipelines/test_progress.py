"""A run over several schools shows a bar on a terminal and plain lines elsewhere."""

from __future__ import annotations

import io

from rich.console import Console

from pipelines.progress import DELIVERED, READ, TerminalProgress, current, showing


def _run(console: Console, schools: int) -> None:
    with showing(TerminalProgress(console)):
        progress = current()
        progress.start(schools, schools * 6)
        for _ in range(schools):
            progress.advance(READ)
        progress.advance(DELIVERED, schools * 6)


def test_on_a_terminal_a_run_over_several_schools_shows_a_bar() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=80)
    assert console.is_terminal
    _run(console, 3)
    shown = buffer.getvalue()
    assert "\x1b[" in shown  # drawn with terminal control codes, redrawn in place
    assert "exports gelezen" in shown and "━" in shown
    assert "voortgang: 1 van 3" not in shown  # no log lines on a terminal


def test_elsewhere_it_writes_plain_lines() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=80)
    assert not console.is_terminal
    _run(console, 3)
    lines = buffer.getvalue().splitlines()
    assert lines == [
        "voortgang: 1 van 3 exports gelezen",
        "voortgang: 2 van 3 exports gelezen",
        "voortgang: 3 van 3 exports gelezen",
        "voortgang: 18 van 18 leveringen klaar",
    ]
    assert "\x1b[" not in buffer.getvalue()


def test_one_school_shows_no_progress_and_nobody_listens_outside_a_cli_run() -> None:
    for terminal in (True, False):
        buffer = io.StringIO()
        _run(Console(file=buffer, force_terminal=terminal, width=80), 1)
        assert buffer.getvalue() == ""
    current().advance(READ)  # a served run: reported to nobody, no error
