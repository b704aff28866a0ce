"""What every `sluis` command shares: the app, its consoles, one-line output, options.

The commands live beside it (pipelines/cli_run.py, cli_rights.py, cli_admin.py) and
pipelines/cli.py puts them together with the entry point. Help, summaries and messages are
Dutch (connectors.i18n); the docstrings of the commands are their help text, so they are
Dutch too.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from connectors.errors import shorten
from connectors.i18n import _, set_language
from pipelines.cli_words import SluisTyper, speak_typer
from pipelines.settings import read_language

if TYPE_CHECKING:
    from pipelines.settings import Settings

__all__ = [
    "EXIT_ERROR",
    "EXIT_HELD",
    "EXIT_OK",
    "EXIT_USAGE",
    "ActorOption",
    "DbOption",
    "KeyArgument",
    "SchoolOption",
    "StateOption",
    "SupplierArgument",
    "app",
    "err",
    "out",
]

# Before any help text is built: typer reads the help strings when the commands are declared.
set_language(read_language())
speak_typer()


app = SluisTyper(
    name="sluis",
    help=_(
        "Sluis: alleen wat elke overeenkomst toestaat gaat van de school naar haar leveranciers."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Wide enough for the summary table when output goes to a file or a CI log, unless
# COLUMNS says how wide the reader's window is (rich reads it when no width is given).
out = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 400)

# A line Sluis prints is at most this long: a note names files, columns and counts, and
# whatever an export holds is cut well before this in the message itself.
_MAX_LINE = 2000
# Line breaks and terminal control codes (an escape sequence in a file name) in a value.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
# A delivery waits for approval (mass change): not an error, but not done either.
EXIT_HELD = 3


def _prefect_environment() -> None:
    """Defaults for Prefect that a school server needs, unless the operator set them.

    Set before Prefect is imported: it reads its settings once, at import.
    """
    # No telemetry from a machine that holds pupil data.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def _say(console: Console, text: object) -> None:
    """Print one line as plain text: no markup, no highlighting, cut to _MAX_LINE.

    Lines can hold values from an export or the command line (a brincode, a file name,
    a header); rich would read "[...]" in them as markup, and its highlighter's regular
    expressions take minutes on a value of 100 KB.
    """
    line = _CONTROL.sub(" ", str(text))
    if len(line) > _MAX_LINE:
        line = line[: _MAX_LINE - 1] + "…"
    console.print(line, markup=False, highlight=False, soft_wrap=True, emoji=False)


def _cell(value: object, limit: int | None = None) -> Text:
    """A table cell as plain text (never markup); a value from an export is shortened."""
    return Text(str(value) if limit is None else shorten(value, limit))


# A value from an export (a brincode) is cut like any quoted value; a path the user gave
# is kept longer, so the table still says which file it is.
_QUOTED = 40
_PATH = 200


def _settings(state: Path | None, db: str | None) -> Settings:
    from pipelines.settings import Settings

    values: dict[str, Any] = {}
    if state is not None:
        values["state_dir"] = state
    if db:
        values["db_url"] = db
    return Settings(**values)


StateOption = Annotated[
    Path | None, typer.Option(help=_("Sluis' statusmap (standaard: SLUIS_STATE_DIR)"))
]
DbOption = Annotated[
    str | None, typer.Option(help=_("URL van de lineage-database"), envvar="SLUIS_DB_URL")
]
SchoolOption = Annotated[
    str | None,
    typer.Option(help=_("BRIN van de school (nodig als de lineage er meer kent)")),
]
KeyArgument = Annotated[str, typer.Argument(help=_("Het leerlingnummer (LAS-sleutel)"))]
ActorOption = Annotated[
    str | None, typer.Option(help=_("Wie dit vastlegt (standaard: de OS-gebruiker)"))
]
SupplierArgument = Annotated[str, typer.Argument(help=_("Leverancier-id"))]
