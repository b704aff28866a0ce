"""The `sluis` command line: run a sync, check exports, answer rights, administer Sluis.

Every user error ends as one line on stderr and exit code 1; a wrong option is exit 2.
Tracebacks are for defects only. The commands are written in pipelines/cli_run.py,
cli_rights.py and cli_admin.py; they are put on the app (pipelines/cli_common.py) here, in
the order `sluis --help` lists them.
"""

from __future__ import annotations

import sys

import typer

from connectors.errors import RunStopped, SluisError, UsageError
from connectors.i18n import _
from pipelines.cli_admin import (
    approve,
    audit_app,
    db_app,
    keys_app,
    reconcile_command,
    redeliver,
    sample,
    serve,
)
from pipelines.cli_common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, _say, app, err
from pipelines.cli_rights import datamap, inzage, vergeet, verstrek
from pipelines.cli_run import check, run, run_sync
from pipelines.cli_words import (
    ClickException,
    ClickUsageError,
    is_help_without_arguments,
    usage_message,
)

__all__ = ["app", "main", "run_sync"]

# Typer lists the commands in this order, then the groups.
for command in (run, check, datamap, vergeet, verstrek, inzage, serve, approve, redeliver, sample):
    app.command()(command)
app.command("reconcile")(reconcile_command)
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")


def main() -> None:
    """Console-script entry point: user errors become one line and exit code 1 (2 for usage).

    A run stopped by SIGTERM or SIGINT is one line too, exit 143 or 130. Click's own usage
    errors are caught here, not shown by Click, so that they are one line in Sluis' words.
    """
    try:
        code = app(prog_name="sluis", standalone_mode=False)
    except RunStopped as exc:
        _say(err, f"sluis: {exc}")
        sys.exit(exc.exit_code)
    except UsageError as exc:
        _say(err, f"sluis: {exc}")
        sys.exit(EXIT_USAGE)
    except SluisError as exc:
        _say(err, f"sluis: {exc}")
        sys.exit(EXIT_ERROR)
    except ClickUsageError as exc:
        if not is_help_without_arguments(exc):  # else Click has shown the help already
            _say(err, f"sluis: {usage_message(exc)}")
        sys.exit(exc.exit_code)
    except ClickException as exc:
        _say(err, f"sluis: {exc.format_message()}")
        sys.exit(exc.exit_code)
    except typer.Abort:
        _say(err, _("sluis: afgebroken"))
        sys.exit(EXIT_ERROR)
    # Without standalone mode Click returns the exit code (typer.Exit, --help) instead of
    # exiting; a command that returns normally gives None.
    sys.exit(code if isinstance(code, int) else EXIT_OK)
