"""Typer's and Click's own words (help, usage, usage errors) in Sluis' language.

Typer 0.29 vendors its own Click, whose texts are plain English, not gettext; Typer's own
few words go through the global gettext domain, which follows the OS locale, not
SLUIS_LANG. So Sluis uses the hooks Typer supports instead: the help-screen constants of
typer.rich_utils, command and group classes (`cls=`) that word the help option and the
usage line, and in `pipelines.cli.main` each usage error, caught as Click raises it
(standalone_mode=False), said again here in one line. Every text goes through
connectors.i18n, so another language is a catalogue, as for the rest of Sluis.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from difflib import get_close_matches
from typing import Any

import typer
import typer.rich_utils
from pydantic import ValidationError

# The vendored Click's exception classes, to catch them (nothing of it is changed).
from typer._click import exceptions as click_errors
from typer._click.exceptions import ClickException
from typer._click.exceptions import UsageError as ClickUsageError
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandFunctionType

from connectors.i18n import _, ngettext
from connectors.pydantic_messages import error_message
from connectors.quoting import short

__all__ = [
    "ClickException",
    "ClickUsageError",
    "SluisCommand",
    "SluisGroup",
    "SluisTyper",
    "is_help_without_arguments",
    "speak_typer",
    "usage_message",
]


def speak_typer() -> None:
    """Put typer's help-screen words in the current language (after set_language).

    Typer reads these module constants each time it renders a help screen.
    """
    words = typer.rich_utils
    words.ARGUMENTS_PANEL_TITLE = _("Argumenten")
    words.OPTIONS_PANEL_TITLE = _("Opties")
    words.COMMANDS_PANEL_TITLE = _("Commando's")
    words.ERRORS_PANEL_TITLE = _("Fout")
    words.DEFAULT_STRING = _("[standaard: {}]")
    words.ENVVAR_STRING = _("[omgevingsvariabele: {}]")
    words.REQUIRED_LONG_STRING = _("[verplicht]")
    words.DEPRECATED_STRING = _("(verouderd) ")
    words.ABORTED_TEXT = _("Afgebroken.")
    words.RICH_HELP = _("Probeer [blue]'{command_path} {help_option}'[/] voor hulp.")


class _Words:
    """The help option's text and the usage line, for commands and groups alike."""

    options_metavar: str | None

    def get_help_option(self, ctx: Any) -> Any:
        """Click's help option, with its help text in Sluis' language."""
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.help = _("Toon deze hulp en stop.")
        return option

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        """The usage line, "Gebruik: sluis run [OPTIES]"."""
        pieces = self.collect_usage_pieces(ctx)  # type: ignore[attr-defined]
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=_("Gebruik: "))


class SluisCommand(_Words, TyperCommand):
    """A command whose help option and usage line speak Sluis' language."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.options_metavar == "[OPTIONS]":
            self.options_metavar = _("[OPTIES]")


class SluisGroup(_Words, TyperGroup):
    """A command group whose help option and usage line speak Sluis' language."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.options_metavar == "[OPTIONS]":
            self.options_metavar = _("[OPTIES]")
        if self.subcommand_metavar == "COMMAND [ARGS]...":
            self.subcommand_metavar = _("COMMANDO [ARGUMENTEN]...")


class SluisTyper(typer.Typer):
    """typer.Typer whose groups and commands are SluisGroup and SluisCommand."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", SluisGroup)
        super().__init__(**kwargs)

    def command(
        self, *args: Any, **kwargs: Any
    ) -> Callable[[CommandFunctionType], CommandFunctionType]:
        """typer.Typer.command, with SluisCommand as the class."""
        kwargs.setdefault("cls", SluisCommand)
        return super().command(*args, **kwargs)


def is_help_without_arguments(exc: Exception) -> bool:
    """A group called without a command: Click has already shown its help."""
    return isinstance(exc, click_errors.NoArgsIsHelpError)


# Click's English messages that carry no structure of their own (raised through ctx.fail
# or as a plain BadOptionUsage): what each says, in the pattern Click words it.
_EXTRA = re.compile(r"^Got unexpected extra argument\(s\) \((?P<args>.*)\)$", re.DOTALL)
_COMMAND = re.compile(r"^No such command (?P<name>.+?)\.(?: Did you mean .*)?$", re.DOTALL)
_NEEDS_VALUE = re.compile(r"^Option .+ requires (?:an argument|(?P<n>\d+) arguments)\.$")
_NO_VALUE = re.compile(r"^Option .+ does not take a value\.$")
_CHOICE = re.compile(r"^.* is not one of (?P<choices>.*)\.$", re.DOTALL)


def _param_name(param: Any) -> str:
    """'--source' for an option, LEERLINGKEY for an argument."""
    opts = getattr(param, "opts", None) or []
    if getattr(param, "param_type_name", "") == "argument" or not opts:
        return str(getattr(param, "human_readable_name", None) or param.name).upper()
    return " / ".join(opts)


def _bad_value(exc: click_errors.BadParameter) -> str:
    """What is wrong with a value typer could not read: from its pydantic check if it had one."""
    cause = exc.__cause__
    if isinstance(cause, ValidationError) and cause.errors():
        error = cause.errors(include_url=False, include_input=False)[0]
        choice = _CHOICE.match(str((error.get("ctx") or {}).get("error", "")))
        if choice:
            return _("moet een van {choices} zijn").format(choices=choice.group("choices"))
        return error_message(error)
    return short(exc.message, 200)


def _problem(exc: click_errors.UsageError) -> str:
    """The usage error as Sluis words it, without the hint to --help."""
    if isinstance(exc, click_errors.MissingParameter):
        if exc.param is None:
            return _("er ontbreekt een waarde")
        name = _param_name(exc.param)
        if exc.param.param_type_name == "argument":
            return _("het argument {name} ontbreekt").format(name=name)
        return _("de optie {name} ontbreekt").format(name=name)
    if isinstance(exc, click_errors.BadParameter):
        name = _param_name(exc.param) if exc.param is not None else "?"
        return _("ongeldige waarde voor {name}: {problem}").format(
            name=name, problem=_bad_value(exc)
        )
    if isinstance(exc, click_errors.NoSuchOption):
        text = _("onbekende optie {option}").format(option=short(exc.option_name))
        if exc.possibilities:
            text += _("; bedoelde u {options}?").format(
                options=", ".join(sorted(exc.possibilities))
            )
        return text
    message = exc.message
    if isinstance(exc, click_errors.BadOptionUsage):
        needs = _NEEDS_VALUE.match(message)
        if needs:
            count = int(needs.group("n") or 1)
            return (
                _("de optie {option} heeft een waarde nodig")
                if count == 1
                else _("de optie {option} heeft {n} waarden nodig")
            ).format(option=short(exc.option_name), n=count)
        if _NO_VALUE.match(message):
            return _("de optie {option} neemt geen waarde").format(option=short(exc.option_name))
    extra = _EXTRA.match(message)
    if extra:
        args = extra.group("args")
        return ngettext(
            "onverwacht argument: {args}", "onverwachte argumenten: {args}", len(args.split())
        ).format(args=short(args, 200))
    unknown = _COMMAND.match(message)
    if unknown and exc.ctx is not None:
        return _unknown_command(exc.ctx, unknown.group("name"))
    if message == "Missing command.":
        return _("geef een commando")
    # A message this Typer did not have: still one line and the exit code; Click's words.
    return short(message, 300)


def _unknown_command(ctx: Any, name: str) -> str:
    known = ctx.command.list_commands(ctx)
    close = get_close_matches(name.strip("'\""), known)
    if close:
        return _("onbekend commando {name}; bedoelde u {matches}?").format(
            name=short(name), matches=", ".join(close)
        )
    return _("onbekend commando {name}; bekend zijn: {known}").format(
        name=short(name), known=", ".join(known)
    )


def usage_message(exc: click_errors.UsageError) -> str:
    """One line for a usage error Click raised: what is wrong, and where the help is."""
    problem = _problem(exc)
    if exc.ctx is None:
        return problem
    return _("{problem}; zie {command} --help").format(
        problem=problem, command=exc.ctx.command_path
    )
