"""Load agreement files: the YAML, one line per unusable file, the set of a folder."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from connectors import safe_yaml
from connectors.errors import AgreementError, UsageError
from connectors.i18n import _, ngettext
from connectors.pydantic_messages import error_message
from connectors.quoting import quote, short
from contracts.agreement_checks import agreement_problems
from contracts.agreement_model import Agreement, LoadedAgreement

__all__ = [
    "BUNDLED_AGREEMENTS",
    "AgreementProblem",
    "AgreementSet",
    "load_agreement",
    "load_agreement_set",
    "load_agreements",
    "select_agreements",
]

BUNDLED_AGREEMENTS = Path(__file__).resolve().parent / "suppliers"


def _location(loc: tuple[Any, ...], data: Any) -> str:
    """Render a pydantic error location with field names instead of list positions.

    Keys and names come from the file, so each is shortened: a location never grows with
    what the file holds.
    """
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            entry = node[item]
            label = entry.get("name") if isinstance(entry, dict) else None
            parts.append(f"[{short(label)}]" if isinstance(label, str) and label else f"[{item}]")
            node = entry
            continue
        if isinstance(item, str) and "[" in item:  # pydantic's tag for Literal[...] choices
            continue
        parts.append(f".{short(item)}" if parts else short(item))
        node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or _("(hoogste niveau)")


def load_agreement(path: Path) -> LoadedAgreement:
    """Load and check one agreement file.

    Raises:
        AgreementError: one line naming the file, then per problem the key and the rule
            (what is allowed); values from the file are shortened.
    """
    loaded = _load(path)
    if isinstance(loaded, AgreementProblem):
        raise AgreementError(loaded.message)
    return loaded


# At most this many problems of one file are listed; the rest are counted.
_MAX_PROBLEMS = 5


def _joined(path: Path, problems: Sequence[str]) -> str:
    shown = [f"{path}: {p}" for p in problems[:_MAX_PROBLEMS]]
    if len(problems) > _MAX_PROBLEMS:
        more = len(problems) - _MAX_PROBLEMS
        shown.append(
            ngettext("{path}: en nog {n} probleem", "{path}: en nog {n} problemen", more).format(
                path=path, n=more
            )
        )
    return "; ".join(shown)


def _load(path: Path) -> LoadedAgreement | AgreementProblem:
    """Load one agreement file, or say in one line what is wrong with it."""

    def problem(lines: Sequence[str], digest: str | None) -> AgreementProblem:
        return AgreementProblem(path.stem, path, _joined(path, lines), digest)

    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        return problem(
            [_("overeenkomst niet te lezen ({reason})").format(reason=exc.strerror)], None
        )
    digest = hashlib.sha256(raw_bytes).hexdigest()
    try:
        data = safe_yaml.safe_load(raw_bytes.decode("utf-8"))
    except safe_yaml.PlainDataError as exc:
        return problem(
            [_("regel {line}: {problem}").format(line=exc.line, problem=exc.problem)], digest
        )
    except (UnicodeDecodeError, safe_yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        text = (
            _("geen geldige YAML op regel {line}; verbeter de schrijfwijze").format(
                line=mark.line + 1
            )
            if mark is not None
            else _("geen geldige YAML; verbeter de schrijfwijze")
        )
        return problem([text], digest)
    if not isinstance(data, dict):
        return problem([_("verwacht sleutels met waarden (id, name, role, ...)")], digest)
    try:
        agreement = Agreement.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        return problem(
            [f"{_location(err['loc'], data)}: {error_message(err)}" for err in errors],
            digest,
        )
    if agreement.id != path.stem:
        return problem(
            [
                _("id: {id} moet gelijk zijn aan de bestandsnaam {name}").format(
                    id=quote(agreement.id), name=quote(path.stem)
                )
            ],
            digest,
        )
    problems = agreement_problems(agreement)
    if problems:
        return problem(problems, digest)
    return LoadedAgreement(agreement=agreement, path=path, sha256=digest)


@dataclass(frozen=True)
class AgreementProblem:
    """An agreement file that cannot be used: its supplier gets nothing until it is fixed.

    Attributes:
        supplier: the supplier id the file is named after.
        path: the file.
        message: one line: the file, then per problem the key and the rule.
        sha256: hex SHA-256 of the file's bytes; None when it cannot be read.
    """

    supplier: str
    path: Path
    message: str
    sha256: str | None


@dataclass(frozen=True)
class AgreementSet:
    """The agreements of a folder: the ones that load, and a problem per file that does not."""

    agreements: list[LoadedAgreement]
    problems: list[AgreementProblem]

    @property
    def suppliers(self) -> list[str]:
        """Every supplier with an agreement file, good or bad, in file order."""
        return sorted([a.agreement.id for a in self.agreements] + self.skipped)

    @property
    def skipped(self) -> list[str]:
        """The suppliers whose agreement file cannot be used."""
        return [p.supplier for p in self.problems]

    def skipped_message(self) -> str | None:
        """One line saying which agreements cannot be used and why; None when all can."""
        if not self.problems:
            return None
        return _(
            "de overeenkomst(en) van {suppliers} zijn overgeslagen, want niet bruikbaar, en zij "
            "kregen niets: {problems}"
        ).format(
            suppliers=", ".join(self.skipped), problems="; ".join(p.message for p in self.problems)
        )

    def select(self, only: list[str] | None) -> AgreementSet:
        """Keep the named supplier ids (all when `only` is empty).

        Raises:
            UsageError: a requested supplier id has no agreement file (the message lists
                the known ids).
        """
        if not only:
            return self
        _check_known(self.suppliers, only)
        return AgreementSet(
            [a for a in self.agreements if a.agreement.id in only],
            [p for p in self.problems if p.supplier in only],
        )


def _check_known(known: list[str], only: list[str]) -> None:
    unknown = [s for s in only if s not in known]
    if unknown:
        raise UsageError(
            _("onbekende leverancier {unknown}; bekende leveranciers: {known}").format(
                unknown=", ".join(quote(u) for u in unknown[:3]),
                known=", ".join(short(k) for k in known) or _("(geen)"),
            )
        )


def select_agreements(
    loaded: list[LoadedAgreement], only: list[str] | None
) -> list[LoadedAgreement]:
    """Keep the agreements of the named supplier ids (all when `only` is empty).

    Raises:
        UsageError: a requested supplier id is unknown (the message lists the known ids).
    """
    if not only:
        return loaded
    _check_known([a.agreement.id for a in loaded], only)
    return [a for a in loaded if a.agreement.id in only]


def load_agreement_set(folder: Path, only: list[str] | None = None) -> AgreementSet:
    """Load every `*.yaml` agreement in a folder (or only the named supplier ids).

    A file that cannot be used does not stop the others: it becomes an `AgreementProblem`,
    and its supplier gets nothing.

    Raises:
        AgreementError: the folder does not exist.
        UsageError: a requested supplier id is unknown (the message lists the known ids).
    """
    if not folder.is_dir():
        raise AgreementError(
            _("{folder}: map met overeenkomsten bestaat niet").format(folder=folder)
        )
    paths = sorted(folder.glob("*.yaml"))
    if only:
        _check_known([p.stem for p in paths], only)
        paths = [p for p in paths if p.stem in only]
    good: list[LoadedAgreement] = []
    bad: list[AgreementProblem] = []
    for path in paths:
        loaded = _load(path)
        if isinstance(loaded, AgreementProblem):
            bad.append(loaded)
        else:
            good.append(loaded)
    return AgreementSet(good, bad)


def load_agreements(folder: Path, only: list[str] | None = None) -> list[LoadedAgreement]:
    """Load every `*.yaml` agreement in a folder, or only the named supplier ids, all good.

    For callers that need each file they name (approving a held delivery of one supplier);
    a run uses `load_agreement_set`, so one bad file stops only its own supplier.

    Raises:
        AgreementError: a file is invalid (one line per file).
        UsageError: a requested supplier id is unknown (the message lists the known ids).
    """
    found = load_agreement_set(folder, only)
    if found.problems:
        raise AgreementError("; ".join(p.message for p in found.problems))
    return found.agreements
