"""One language for people: every message goes through gettext, and the catalogue is current.

Issue 13 point 1: source strings are Dutch; an English catalogue can be added later in
connectors/locale/ without touching the code. These tests fail when a message a person reads
is not wrapped in _()/ngettext, or when the committed catalogue misses a wrapped one.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("connectors", "contracts", "policy", "lineage", "pipelines")
POT = ROOT / "connectors" / "locale" / "sluis.pot"

# Methods of a logger: their first argument (the second for .log) is a message.
_LOG_METHODS = frozenset({"debug", "info", "warning", "error", "exception", "critical"})
# Keywords whose value a person reads: typer help, a rich table's title.
_TEXT_KEYWORDS = frozenset({"help", "title"})
# In pipelines/ a `description=` or a state's `message=` is shown in the Prefect UI (flow,
# deployment, artifact, the run form's parameter fields, a run's final state), so a person
# reads it there too. Elsewhere, and in the settings model, a description documents a field
# for developers and for OpenLineage's schema facet; no screen shows it (a wrong setting is
# reported by its variable name and rule).
_UI_MODULES = "pipelines/"
_DEVELOPER_DESCRIPTIONS = frozenset({"pipelines/settings.py"})
_UI_TEXT_KEYWORDS = _TEXT_KEYWORDS | {"description", "message"}

# Strings that look like messages but are codes others parse or names of things, never
# translated. Each is (module, exact text) with why; never a whole file.
EXEMPT: dict[tuple[str, str], str] = {
    # Prefect's own temporary-server logger line, kept as Prefect words it (we copy its
    # start-up, see the module docstring); operators grep Prefect's logs for it.
    ("pipelines/prefect_server.py", "Starting temporary server on http://127.0.0.1:{}"): (
        "Prefect's own log line"
    ),
    # The program's name and an option's name in front of a message that is already
    # translated where it was raised.
    ("pipelines/cli.py", "sluis: {}"): "program name before a translated message",
    ("pipelines/cli_admin.py", "sluis: {}"): "program name before a translated message",
    ("pipelines/cli_admin.py", "--head: {}"): "option name before a translated message",
}

# Modules whose messages are not converted yet (issue 13 point 1, in progress). Shrink it:
# the test fails when a listed module has nothing left to convert.
NOT_YET_CONVERTED: frozenset[str] = frozenset()


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _sluis_errors(files: list[Path]) -> frozenset[str]:
    """Names of SluisError and every class that derives from it, anywhere in the packages."""
    bases: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ClassDef):
                names = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
                bases.setdefault(node.name, set()).update(names)
    family = {"SluisError"}
    grown = True
    while grown:
        grown = False
        for name, parents in bases.items():
            if name not in family and parents & family:
                family.add(name)
                grown = True
    return frozenset(family)


def _plain_text(node: ast.AST) -> str | None:
    """The text of a literal message not passed through gettext, else None.

    A str constant, an f-string, "..." % x, "..." + x or "...".format(...) is plain; a call
    of _() or ngettext (with or without .format) or any other expression is not.
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if node.value.strip() else None
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp):
        return _plain_text(node.left) or _plain_text(node.right)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    ):
        return _plain_text(node.func.value)
    return None


def _is_alembic(func: ast.expr) -> bool:
    """op.add_column(...) in a migration names a table, not a heading."""
    return isinstance(func, ast.Attribute) and getattr(func.value, "id", "") in ("op", "batch_op")


def _names_notes(func: ast.expr) -> bool:
    """notes.append(...): an export's or a delivery's notes are shown in the run summary."""
    owner = func.value if isinstance(func, ast.Attribute) else None
    name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
    return name.endswith("notes")


def _messages(call: ast.Call, family: frozenset[str], module: str) -> list[ast.AST]:
    """The arguments of `call` that a person reads."""
    func = call.func
    name = (
        func.id
        if isinstance(func, ast.Name)
        else func.attr
        if isinstance(func, ast.Attribute)
        else ""
    )
    in_ui = module.startswith(_UI_MODULES) and module not in _DEVELOPER_DESCRIPTIONS
    keywords = _UI_TEXT_KEYWORDS if in_ui else _TEXT_KEYWORDS
    found: list[ast.AST] = [k.value for k in call.keywords if k.arg in keywords]
    if isinstance(func, ast.Attribute) and name in _LOG_METHODS and call.args:
        found.append(call.args[0])
    elif isinstance(func, ast.Attribute) and name == "log" and len(call.args) > 1:
        found.append(call.args[1])
    elif (
        call.args
        and (name in ("print", "echo") or (name == "add_column" and not _is_alembic(func)))
    ) or (name == "append" and call.args and _names_notes(func)):
        found.append(call.args[0])
    elif name == "_say" and len(call.args) > 1:
        found.append(call.args[1])
    elif name in family and call.args:
        found.append(call.args[0])
    return found


def _unwrapped() -> dict[str, list[str]]:
    """Per module, the literal messages not passed through gettext (line: text)."""
    files = _sources()
    family = _sluis_errors(files)
    problems: dict[str, list[str]] = {}
    for path in files:
        module = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            for arg in _messages(node, family, module):
                text = _plain_text(arg)
                if text is not None and (module, text) not in EXEMPT:
                    problems.setdefault(module, []).append(f"{arg.lineno}: {text[:80]!r}")
    return problems


def test_every_message_a_person_reads_goes_through_gettext() -> None:
    problems = {m: p for m, p in _unwrapped().items() if m not in NOT_YET_CONVERTED}
    assert not problems, "wrap these in _() or ngettext():\n" + "\n".join(
        f"{module}:{line}" for module, lines in problems.items() for line in lines
    )


def test_the_list_of_unconverted_modules_only_holds_modules_with_work_left() -> None:
    left = set(_unwrapped())
    done = sorted(NOT_YET_CONVERTED - left)
    assert not done, f"converted, remove from NOT_YET_CONVERTED: {done}"


def test_every_exemption_still_names_a_string_in_its_module() -> None:
    for module, text in EXEMPT:
        source = (ROOT / module).read_text("utf-8")
        assert text.split("{}")[0] in source, (module, text)


def _extract(tmp_path: Path) -> Path:
    """A fresh Babel extraction with the project's settings (pyproject.toml [tool.babel])."""
    out = tmp_path / "fresh.pot"
    import os

    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        CommandLineInterface().run(
            ["pybabel", "-q", "extract", "-F", "pyproject.toml", "-o", str(out)]
        )
    finally:
        os.chdir(cwd)
    return out


def _entries(path: Path) -> list[tuple[object, ...]]:
    """The catalogue's messages without header or location comments."""
    with path.open("rb") as handle:
        catalog = read_po(handle)
    return sorted(
        (repr(m.id), repr(m.context), tuple(sorted(m.flags)), tuple(m.auto_comments))
        for m in catalog
        if m.id
    )


def test_the_committed_catalogue_equals_a_fresh_extraction(tmp_path: Path) -> None:
    fresh = _entries(_extract(tmp_path))
    committed = _entries(POT)
    missing = sorted(set(fresh) - set(committed))
    stale = sorted(set(committed) - set(fresh))
    assert not missing and not stale, (
        "connectors/locale/sluis.pot is out of date; run `pybabel extract -F pyproject.toml`."
        f"\nnot in the catalogue: {missing[:10]}\nno longer in the code: {stale[:10]}"
    )
    assert fresh, "nothing extracted: the messages are not wrapped"


def test_a_wrapped_string_missing_from_the_catalogue_is_noticed(tmp_path: Path) -> None:
    # The comparison above is only as good as the extraction: a new _() must show up in it.
    source = tmp_path / "nieuw.py"
    source.write_text('from connectors.i18n import _\n_("een nieuwe melding")\n', "utf-8")
    out = tmp_path / "nieuw.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-k", "_", "-o", str(out), str(source)])
    assert "een nieuwe melding" in {e[0].strip("'") for e in _entries(out)}  # type: ignore[union-attr]
    assert repr("een nieuwe melding") not in {e[0] for e in _entries(POT)}


def test_the_lint_sees_an_unwrapped_message() -> None:
    code = (
        "from connectors.errors import SluisError\n"
        "def f(log, out, school):\n"
        "    log.warning('school %s skipped', school)\n"
        "    _say(out, f'Run: {school}')\n"
        "    raise SluisError(f'bad {school}')\n"
        "    raise SluisError(_('goed {school}').format(school=school))\n"
    )
    tree = ast.parse(code)
    family = frozenset({"SluisError"})
    texts = [
        _plain_text(arg)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for arg in _messages(node, family, "connectors/example.py")
    ]
    assert texts.count(None) == 1
    assert "school %s skipped" in texts and "Run: {}" in texts and "bad {}" in texts


def test_the_lint_sees_a_prefect_ui_text_only_where_prefect_shows_it() -> None:
    call = ast.parse("Completed(message='sync completed', description='Runs it')").body[0]
    assert isinstance(call, ast.Expr) and isinstance(call.value, ast.Call)

    def seen(module: str) -> list[str | None]:
        return [_plain_text(a) for a in _messages(call.value, frozenset(), module)]

    assert seen("pipelines/flows.py") == ["sync completed", "Runs it"]
    assert seen("pipelines/settings.py") == seen("lineage/store.py") == []


# English words that must not appear in what a coordinator reads (issue 13, "Two languages").
_ENGLISH = ("delivered", "nothing was sent", "withheld", "error", "supplier", "the run")


def _is_dutch(text: str) -> None:
    lowered = text.lower()
    found = [word for word in _ENGLISH if word in lowered]
    assert not found, f"English in a message: {found}\n{text}"


def test_run_help_is_dutch() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipelines", "run", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "leverancier" in result.stdout and "Opties" in result.stdout
    # Option names (--supplier) and type hints are the interface, not words to translate.
    _is_dutch(re.sub(r"--[a-z-]+|<[^>]*>", "", result.stdout))


def test_the_run_summary_is_dutch() -> None:
    from rich.console import Console

    from pipelines.summary import summary_table

    statuses = ("delivered", "nothing_to_deliver", "held", "dry_run", "agreement_expired")
    rows = [
        {
            "supplier": "basispoort",
            "school": "27ZX",
            "status": status,
            "input": 10,
            "delivered": 8,
            "withheld": "no_consent: 2",
            "quarantined": 0,
            "changes": "-",
            "reason": "",
        }
        for status in statuses
    ]
    console = Console(file=io.StringIO(), width=200)
    console.print(summary_table(rows))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "verzonden" in text and "leverancier" in text
    # Status and reason codes stay codes: others parse them; the words around them are Dutch.
    for code in (*statuses, "no_consent"):
        text = text.replace(code, "")
    _is_dutch(text)


def test_a_run_error_is_dutch(tmp_path: Path) -> None:
    from tests.sluis_cli import sluis

    result = sluis(tmp_path, "run", "--source", str(tmp_path / "bestaat-niet"))
    assert result.returncode == 1
    assert result.stderr.startswith("sluis: ")
    message = result.stderr.replace(str(tmp_path), "<map>")
    assert "bestaat niet" in message or "niet gevonden" in message
    _is_dutch(message)


@pytest.mark.parametrize("lang", ["nl", "", "zz"])
def test_a_language_without_a_catalogue_speaks_the_dutch_source(lang: str) -> None:
    from connectors import i18n

    try:
        i18n.set_language(lang)
        assert i18n._("Geen problemen gevonden.") == "Geen problemen gevonden."
        assert i18n.ngettext("{n} school", "{n} scholen", 2) == "{n} scholen"
    finally:
        i18n.set_language(None)


def test_an_english_catalogue_added_later_is_used_without_touching_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from rich.console import Console

    from connectors import i18n
    from pipelines.summary import summary_table

    catalog = Catalog(locale="en", domain="sluis")
    catalog.add("verzonden", "sent")
    folder = tmp_path / "en" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "sluis.mo").open("wb") as handle:
        write_mo(handle, catalog)
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    try:
        i18n.set_language("en")
        console = Console(file=io.StringIO(), width=200)
        console.print(summary_table([]))
        text = console.file.getvalue()  # type: ignore[attr-defined]
        assert "sent" in text.split()
        # What the catalogue does not translate stays Dutch.
        assert "leverancier" in text
    finally:
        i18n.set_language(None)
